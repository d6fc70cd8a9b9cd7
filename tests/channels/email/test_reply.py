"""Replying by email: the MIME message, the recording, delivery to the customer's mailbox, the format check,
and the customer's answer threading back; the desk API around it."""

from __future__ import annotations

from email import message_from_bytes, policy

from sqlalchemy import select

from channels.email import mailbox
from channels.email.format_check import check_email_format
from contacts.models import Contact, ContactEvent
from extensions import db

from .corpus import raw_text

REPLY = """Dear Ms Li,

Thank you for your email about order 1001. I have checked: your parcel left our warehouse today and the courier
will deliver it within 2 days.

Your ticket number is {number}; we will email you an update within 24 hours.

Best regards,
Anna
Kefu Mall Customer Service"""


def _one(app, type_):
    with app.app_context():
        ev = db.session.scalars(select(ContactEvent).where(ContactEvent.type == type_).order_by(ContactEvent.id)).all()
        db.session.expunge_all()
        return ev


def test_reply_is_real_mime_recorded_delivered_and_the_answer_threads_back(app, send, agent, client, auth):
    """The reply has UTF-8 text, Date, Message-ID, In-Reply-To/References to the customer's mail and the ticket
    token in its subject; it is recorded as email.sent with a format check, delivered to the customer's
    mailbox, and the customer's answer to it joins the same contact."""
    from accounts.models import User
    from tickets.actions import do_create_ticket

    from .test_smtp import _category

    send(
        raw_text(
            "Where is order 1001?", subject="Order 1001", from_addr="li@example.com", message_id="<q1@example.com>"
        )
    )
    with app.app_context():
        contact = db.session.scalars(select(Contact)).one()
        number = do_create_ticket(
            db.session.get(User, agent), contact, subject="Late order", category=_category()
        ).number
        cid = contact.id
    mailbox.fetch("li@example.com")  # empty it
    auth.login("mailagent")
    resp = client.post(f"/api/email/contacts/{cid}/reply", json={"body_text": REPLY.format(number=number) + " 谢谢"})
    assert resp.status_code == 200, resp.get_json()

    (delivered,) = mailbox.fetch("li@example.com")
    assert delivered["In-Reply-To"] == "<q1@example.com>"
    assert delivered["References"] == "<q1@example.com>"
    assert delivered["Subject"] == f"Re: Order 1001 [{number}]"
    assert delivered["Date"].datetime is not None and delivered["Message-ID"].startswith("<")
    assert delivered.get_content_charset() == "utf-8" and "谢谢" in delivered.get_content()

    (sent,) = _one(app, "email.sent")
    reparsed = message_from_bytes(sent.data["rendered"].encode("ascii"), policy=policy.default)
    assert reparsed["Message-ID"] == delivered["Message-ID"] == sent.data["message_id"]
    assert sent.data["format"]["checks"] == {
        "salutation": True,
        "acknowledgement": True,
        "answer": True,
        "next_steps": True,
        "closing": True,
        "signature": True,
    }

    send(
        raw_text(
            "Thanks, received!",
            subject=f"Re: Order 1001 [{number}]",
            from_addr="li@example.com",
            in_reply_to=delivered["Message-ID"],
        ),
        sender="li@example.com",
    )
    answer = _one(app, "email.received")[-1]
    assert answer.contact_id == cid and answer.data["threaded_by"] == "in_reply_to"
    thread = client.get(f"/api/email/contacts/{cid}/thread").get_json()
    assert [e["type"] for e in thread["events"] if e["type"].startswith("email.")] == [
        "email.received",
        "email.sent",
        "email.received",
    ]
    assert thread["tickets"][0]["number"] == number


def test_reply_refusals_and_wrap_up(app, send, agent, client, auth, make_user):
    """Empty replies and other agents' contacts are refused with clear errors; wrap-up closes the contact."""
    send(raw_text("Hello?"))
    with app.app_context():
        cid = db.session.scalars(select(Contact)).one().id
    make_user("other", role="trainee")
    auth.login("other")
    assert client.post(f"/api/email/contacts/{cid}/reply", json={"body_text": "hi"}).status_code == 403
    auth.logout()
    auth.login("mailagent")
    resp = client.post(f"/api/email/contacts/{cid}/reply", json={"body_text": "  "})
    assert resp.status_code == 400 and resp.get_json()["error"] == "empty reply"
    assert client.post(f"/api/email/contacts/{cid}/reply", data="x").status_code == 400
    assert client.get("/api/email/contacts").get_json()["contacts"][0]["id"] == cid
    assert client.get("/desk/email").status_code == 200
    resp = client.post(f"/api/email/contacts/{cid}/wrap_up", json={"code": "OTHER", "notes": "answered"})
    assert resp.status_code == 200 and resp.get_json()["contact"]["status"] == "closed"
    assert client.get("/api/email/contacts").get_json()["contacts"] == []


def test_format_check_finds_what_is_missing():
    """A curt reply without salutation, ticket number or signature fails those parts and flags a forbidden
    phrase; a Chinese reply in the standard form passes."""
    curt = check_email_format(
        "Calm down, whatever. Do not reply to this email.", lang="en", ticket_number="T202611220001"
    )
    assert curt["missing"] == ["salutation", "acknowledgement", "answer", "next_steps", "closing", "signature"]
    assert curt["forbidden"] == ["do not reply to this email"]
    zh = check_email_format(
        "尊敬的李女士：\n\n感谢您的来信。我已经核实，您的订单已于今天发出，预计两天内送达，请您放心。\n\n"
        "您的工单号是 T202611220001，我们会在24小时内邮件告知进展。\n\n祝您生活愉快！\n\nKefu商城客服中心 小王",
        lang="zh_CN",
        ticket_number="T202611220001",
    )
    assert zh["missing"] == [] and zh["score"] == 1.0


def test_rich_text_reply_is_sanitised_and_sent_as_an_alternative(app, send, agent, client, auth):
    """A rich-text reply goes out as multipart/alternative: the plain text and the HTML with scripts, event
    handlers and javascript: links removed; the recording keeps the sanitised HTML."""
    send(raw_text("Hello?", from_addr="rich@example.com"), sender="rich@example.com")
    with app.app_context():
        cid = db.session.scalars(select(Contact)).one().id
    mailbox.fetch("rich@example.com")
    auth.login("mailagent")
    html = (
        "<p>Dear Ms Li,</p><p><b>It ships today.</b><script>alert(1)</script></p>"
        '<a href="javascript:x()" onclick="y()">x</a>'
    )
    resp = client.post(
        f"/api/email/contacts/{cid}/reply", json={"body_text": "Dear Ms Li,\n\nIt ships today.", "html": html}
    )
    assert resp.status_code == 200, resp.get_json()
    (delivered,) = mailbox.fetch("rich@example.com")
    assert delivered.get_content_type() == "multipart/alternative"
    sent_html = delivered.get_body(preferencelist=("html",)).get_content()
    assert "<b>It ships today.</b>" in sent_html
    assert "<script" not in sent_html and "onclick" not in sent_html and "javascript:" not in sent_html
    assert delivered.get_body(preferencelist=("plain",)).get_content().startswith("Dear Ms Li,")
    (sent,) = _one(app, "email.sent")
    assert "<script" not in sent.data["html"] and "<b>It ships today.</b>" in sent.data["html"]


def test_a_reply_sent_again_with_its_client_id_is_recorded_and_delivered_once(app, send, agent, client, auth):
    """The desk sends a reply again with the same client_id (its answer was lost: the web process died after the
    commit): the second request gets the recorded reply back, marked duplicate, and the customer gets one mail;
    another client_id is another reply. (Before, each request recorded and delivered its own email.sent.)"""
    send(raw_text("Where is my parcel?", from_addr="twice@example.com"), sender="twice@example.com")
    with app.app_context():
        cid = db.session.scalars(select(Contact)).one().id
    mailbox.fetch("twice@example.com")
    auth.login("mailagent")
    body = {"body_text": "Dear customer,\n\nIt left today.", "client_id": "desk-7"}
    first = client.post(f"/api/email/contacts/{cid}/reply", json=body)
    again = client.post(f"/api/email/contacts/{cid}/reply", json=body)
    assert first.status_code == again.status_code == 200, again.get_json()
    (sent,) = _one(app, "email.sent")
    assert sent.client_id == "desk-7"
    assert len(mailbox.fetch("twice@example.com")) == 1
    assert first.get_json()["duplicate"] is False and again.get_json()["duplicate"] is True
    assert again.get_json()["event"]["seq"] == first.get_json()["event"]["seq"]
    assert again.get_json()["event"]["data"]["message_id"] == first.get_json()["event"]["data"]["message_id"]
    assert "rendered" not in again.get_json()["event"]["data"]
    other = client.post(f"/api/email/contacts/{cid}/reply", json={**body, "client_id": "desk-8"})
    assert other.status_code == 200 and other.get_json()["duplicate"] is False
    assert len(_one(app, "email.sent")) == 2
    bad = client.post(f"/api/email/contacts/{cid}/reply", json={**body, "client_id": "x" * 65})
    assert bad.status_code == 400
