"""Inbound mail over real SMTP (smtplib -> aiosmtpd on the media loop): recording, routing, threading, and the
SMTP replies for bad input."""

from __future__ import annotations

import smtplib

import pytest
from sqlalchemy import func, select

from contacts.models import Contact, ContactEvent
from extensions import db

from .corpus import MALFORMED, html_only, raw_text, with_attachment


def _received(app, contact_id=None) -> list[ContactEvent]:
    with app.app_context():
        q = select(ContactEvent).where(ContactEvent.type == "email.received").order_by(ContactEvent.id)
        if contact_id is not None:
            q = q.where(ContactEvent.contact_id == contact_id)
        evs = list(db.session.scalars(q))
        db.session.expunge_all()
        return evs


def _contacts(app) -> list[Contact]:
    with app.app_context():
        cs = list(db.session.scalars(select(Contact).order_by(Contact.id)))
        db.session.expunge_all()
        return cs


def test_gbk_mail_becomes_a_routed_email_contact(app, send, agent):
    """A GBK body with a GB2312-labelled RFC 2047 subject opens an email contact in the mapped queue, assigned
    to the available agent, with the text decoded and the raw bytes kept on disk."""
    raw = raw_text(
        "您好，我的订单一直没有发货，请帮忙查一下。镕",
        charset="gbk",
        cte="8bit",
        subject="订单没有发货",
        subject_charset="gb2312",
        from_name="王女士",
        from_addr="Wang@Example.com",
    )
    assert send(raw, sender="wang@example.com") == {}
    (contact,) = _contacts(app)
    assert (contact.channel, contact.queue, contact.status, contact.agent_id) == (
        "email",
        "email.service",
        "active",
        agent,
    )
    assert contact.subject == "订单没有发货" and contact.customer_name == "王女士" and contact.lang == "zh_CN"
    (ev,) = _received(app)
    assert "请帮忙查一下。镕" in ev.text
    assert ev.data["from"] == {"name": "王女士", "address": "wang@example.com"}
    from channels.email.storage import resolve

    with app.app_context():
        assert resolve(ev.data["raw_path"]).read_bytes() == raw


@pytest.mark.parametrize(
    ("body", "charset", "cte"),
    [
        ("GB18030 文字：𠀀 and 鿿", "gb18030", "base64"),
        ("UTF-8 正文，base64 编码", "utf-8", "base64"),
        ("UTF-8 正文，quoted-printable 编码 — café", "utf-8", "quoted-printable"),
    ],
)
def test_encodings_round_trip_over_smtp(app, send, agent, body, charset, cte):
    """GB18030 and UTF-8 bodies in base64 or quoted-printable arrive as the text that was written."""
    send(raw_text(body, charset=charset, cte=cte, subject="编码测试", subject_charset="utf-8"))
    (ev,) = _received(app)
    assert ev.text.strip() == body and ev.data["subject"] == "编码测试"


def test_html_only_mail_is_sanitised_and_rendered_as_text(app, send, agent):
    """HTML-only mail: the script is gone from the stored HTML, and a plain-text rendering is the event text."""
    send(html_only("<p>Hello <b>team</b></p><script>alert('x')</script><div onclick='evil()'>Line two</div>"))
    (ev,) = _received(app)
    assert "<script" not in ev.data["html"] and "onclick" not in ev.data["html"] and "<b>team</b>" in ev.data["html"]
    assert ev.text.split() == ["Hello", "team", "Line", "two"]


def test_attachment_is_stored_and_listed(app, send, agent, client, auth):
    """An attachment is listed (name, type, size), stored under the instance folder, and downloadable from the
    desk API by the agent holding the contact."""
    pdf = b"%PDF-1.4 fake invoice " * 50
    send(with_attachment("请看附件中的发票。", "发票 2026.pdf", pdf))
    (ev,) = _received(app)
    (att,) = ev.data["attachments"]
    assert (att["name"], att["type"], att["size"]) == ("发票 2026.pdf", "application/pdf", len(pdf))
    auth.login("mailagent")
    thread = client.get(f"/api/email/contacts/{ev.contact_id}/thread").get_json()
    (mail,) = [e for e in thread["events"] if e["type"] == "email.received"]
    assert mail["data"]["attachments"][0]["name"] == "发票 2026.pdf"
    resp = client.get(f"/api/email/contacts/{ev.contact_id}/attachments/{ev.id}/0")
    assert resp.status_code == 200 and resp.data == pdf


def test_follow_up_threads_by_in_reply_to(app, send, agent):
    """A customer's answer with In-Reply-To the first mail joins the same open contact."""
    send(raw_text("First mail", message_id="<first@example.com>"))
    send(raw_text("Second mail", subject="Re: Order question", in_reply_to="<first@example.com>"))
    assert len(_contacts(app)) == 1
    first, second = _received(app)
    assert second.contact_id == first.contact_id and second.data["threaded_by"] == "in_reply_to"


def test_follow_up_threads_by_ticket_token_onto_a_new_contact(app, send, agent):
    """After the first contact is wrapped up, a mail with "[T...]" in its subject opens a new contact that is
    linked to the same ticket."""
    from accounts.models import User
    from contacts.actions import do_wrap_up_contact
    from tickets.actions import do_create_ticket, tickets_for_contact

    send(raw_text("My blender broke", message_id="<blender@example.com>"))
    with app.app_context():
        user = db.session.get(User, agent)
        first = db.session.scalars(select(Contact)).one()
        number = do_create_ticket(user, first, subject="Broken blender", category=_category()).number
        do_wrap_up_contact(first, user, "WARRANTY")
        first_id = first.id
    send(raw_text("Any news?", subject=f"Re: blender [{number}]", message_id="<news@example.com>"))
    contacts = _contacts(app)
    assert len(contacts) == 2
    ev = _received(app, contacts[1].id)[0]
    assert ev.data["threaded_by"] == "ticket_token" and ev.data["ticket_number"] == number
    assert ev.data["follows_contact_id"] == first_id
    with app.app_context():
        assert [t.number for t in tickets_for_contact(contacts[1].id)] == [number]


def _category() -> str:
    from knowledge_base.models import Category

    cat = db.session.scalar(select(Category))
    if cat is None:
        cat = Category(code="order", name_zh="订单", name_en="Orders")
        db.session.add(cat)
        db.session.commit()
    return cat.code


def test_unknown_recipient_is_refused_with_550(app, send):
    """Mail to an address the centre does not have is refused at RCPT with 550, and nothing is recorded."""
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        send(raw_text("hi", to="nobody@kefu.local"), to=["nobody@kefu.local"])
    code, text = e.value.recipients["nobody@kefu.local"]
    assert code == 550 and b"no such address" in text
    assert _contacts(app) == []


def test_oversized_message_is_refused_with_552_and_nothing_stored(app, send, smtp_endpoint, email_files):
    """Over SMTP_MAX_MESSAGE_BYTES: 552 (at MAIL when the client declares SIZE, after DATA when it does not),
    and no contact, no event, no file."""
    big = raw_text("x" * 100, subject="big") + (b"A" * 998 + b"\r\n") * 11000
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        send(big)
    assert e.value.smtp_code == 552
    with smtplib.SMTP(smtp_endpoint.host, smtp_endpoint.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.mail("customer@example.com")[0] == 250  # no SIZE declared
        assert smtp.rcpt("service@kefu.local")[0] == 250
        code, _ = smtp.data(big)
    assert code == 552
    assert _contacts(app) == []
    assert not email_files.exists() or not any(email_files.rglob("*.eml"))


@pytest.mark.app_config(SMTP_RATE_PER_MINUTE=3)
def test_flood_from_one_sender_is_rate_limited(app, send):
    """A sender over the per-minute limit gets 451; another sender is still accepted."""
    for i in range(3):
        send(raw_text(f"flood {i}"), sender="flood@example.com")
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        send(raw_text("flood 4"), sender="flood@example.com")
    assert e.value.smtp_code == 451
    send(raw_text("calm"), sender="calm@example.com")
    with app.app_context():
        assert db.session.scalar(select(func.count(ContactEvent.id)).where(ContactEvent.type == "email.received")) == 4


def test_malformed_mime_is_stored_with_a_note(app, send, agent):
    """A multipart without a boundary is still recorded: its text is shown, the defect noted, raw bytes kept."""
    send(MALFORMED, sender="broken@example.com")
    (ev,) = _received(app)
    assert "half a message" in ev.text
    assert any("MIME defects" in n for n in ev.data["notes"])
    assert any("Message-ID" in n for n in ev.data["notes"])
    assert ev.data["size"] == len(MALFORMED)


def test_the_same_message_sent_twice_is_recorded_once(app, send, agent):
    """A client resending after a lost 250 (same Message-ID) does not open a second contact."""
    raw = raw_text("once", message_id="<once@example.com>")
    send(raw)
    send(raw)
    assert len(_received(app)) == 1 and len(_contacts(app)) == 1


def test_complaints_address_feeds_the_complaints_queue(app, send, agent):
    """Each centre address maps to its queue."""
    send(raw_text("I want to complain", to="complaints@kefu.local"), to=["Complaints@kefu.local"])
    (contact,) = _contacts(app)
    assert contact.queue == "email.complaints" and contact.lang == "en"


def test_an_agent_holds_five_email_contacts_and_the_sixth_waits(app, send, agent):
    """Email capacity per agent is 5 by default: six new mails give five active contacts and one queued."""
    for i in range(6):
        send(raw_text(f"mail {i}", from_addr=f"c{i}@example.com"), sender=f"c{i}@example.com")
    statuses = sorted(c.status for c in _contacts(app))
    assert statuses == ["active"] * 5 + ["queued"]
