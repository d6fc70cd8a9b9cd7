"""Real-world mail over real SMTP: RFC 2231 and other file-name encodings, S/MIME-signed mail, calendar
invitations, and automatic mail (out-of-office replies, bounces, read receipts, our own mail coming back), which
never opens a contact and is never answered, so no mail loop can start."""

from __future__ import annotations

import base64

from sqlalchemy import select

from channels.email import mailbox
from contacts.models import Contact, ContactEvent
from extensions import db

from .corpus import raw_text
from .hostile import b64, basic_headers, encoded_word, multipart, part, rfc2231, smtp_send


def _events(app, type_="email.received") -> list[ContactEvent]:
    with app.app_context():
        evs = list(db.session.scalars(select(ContactEvent).where(ContactEvent.type == type_).order_by(ContactEvent.id)))
        db.session.expunge_all()
        return evs


def _contacts(app) -> list[Contact]:
    with app.app_context():
        cs = list(db.session.scalars(select(Contact).order_by(Contact.id)))
        db.session.expunge_all()
        return cs


DELIVERY_STATUS = (
    b"Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; li@example.com\nAction: failed\nStatus: 5.1.1"
)


def _attachment(disposition: bytes, ctype: bytes = b"application/pdf") -> bytes:
    return part(ctype.decode(), base64.encodebytes(b"%PDF-1.4"), extra=[b"Content-Disposition: " + disposition])


def test_file_names_in_every_encoding_clients_use(app, smtp_endpoint, agent, client, auth):
    """RFC 2231 UTF-8, RFC 2231 GBK continuations, an RFC 2231 GB2312 label on GBK text, RFC 2047 inside a
    quoted name, raw 8-bit GBK and a Content-Type name only: each name decodes; a path is cut to its base name,
    and every file downloads."""
    parts = [
        part("text/plain; charset=utf-8", b64("附件见下", "utf-8")),
        _attachment(b"attachment; filename*=utf-8''" + rfc2231("发票 2026.pdf", "utf-8")),
        _attachment(
            b"attachment; filename*0*=gbk''" + rfc2231("退货", "gbk") + b"; filename*1*=" + rfc2231("单.pdf", "gbk")
        ),
        _attachment(b"attachment; filename*=gb2312''" + rfc2231("镕铁.pdf", "gbk")),
        _attachment(b'attachment; filename="=?GB2312?B?' + base64.b64encode("合同.pdf".encode("gbk")) + b'?="'),
        _attachment(b'attachment; filename="' + "照片.pdf".encode("gbk") + b'"'),
        _attachment(b'attachment; filename="..\\\\..\\\\windows\\\\' + "报告.pdf".encode() + b'"'),
        part('application/pdf; name="=?utf-8?B?' + base64.b64encode("清单.pdf".encode()).decode() + '?="', b"JVBERg=="),
    ]
    assert smtp_send(smtp_endpoint, multipart(basic_headers(subject="files"), parts))[0] == 250
    (ev,) = _events(app)
    names = [a["name"] for a in ev.data["attachments"]]
    assert names == ["发票 2026.pdf", "退货单.pdf", "镕铁.pdf", "合同.pdf", "照片.pdf", "报告.pdf", "清单.pdf"]
    auth.login("mailagent")
    for i in range(len(names)):
        resp = client.get(f"/api/email/contacts/{ev.contact_id}/attachments/{ev.id}/{i}")
        assert resp.status_code == 200 and resp.data.startswith(b"%PDF")


def test_smime_signed_mail_shows_its_text_and_keeps_the_signature(app, smtp_endpoint, agent):
    """multipart/signed with an application/pkcs7-signature part: the signed text is the body, smime.p7s is
    listed as an attachment, and a note says the signature is kept, not verified."""
    signed = multipart(
        basic_headers(subject="Signed complaint"),
        [
            part("text/plain; charset=utf-8", b64("This is my signed complaint.", "utf-8")),
            part(
                "application/pkcs7-signature; name=smime.p7s",
                base64.encodebytes(b"0\x82\x01\x00fake-der"),
                extra=[b'Content-Disposition: attachment; filename="smime.p7s"'],
            ),
        ],
        subtype="signed",
        params='; protocol="application/pkcs7-signature"; micalg=sha-256',
    )
    assert smtp_send(smtp_endpoint, signed)[0] == 250
    (ev,) = _events(app)
    assert ev.text.strip() == "This is my signed complaint."
    assert [(a["name"], a["type"]) for a in ev.data["attachments"]] == [("smime.p7s", "application/pkcs7-signature")]
    assert any("signed with S/MIME" in n for n in ev.data["notes"])


def test_a_calendar_invitation_is_summarised_not_shown_as_body(app, smtp_endpoint, agent):
    """A meeting request (text/calendar, METHOD:REQUEST, folded lines) beside the text: the body is the text, the
    invitation is an .ics attachment, and its summary (method, title, start, organiser) is recorded and noted."""
    ics = (
        "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:退货上门取件\r\n  确认\r\n"
        "DTSTART:20261125T090000Z\r\nDTEND:20261125T100000Z\r\nORGANIZER;CN=Li:mailto:li@example.com\r\n"
        "LOCATION:Shanghai\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    raw = multipart(
        basic_headers(subject="Invitation"),
        [
            part("text/plain; charset=utf-8", b64("Please confirm the pick-up time.", "utf-8")),
            part("text/calendar; charset=utf-8; method=REQUEST", b64(ics, "utf-8")),
        ],
        subtype="alternative",
    )
    assert smtp_send(smtp_endpoint, raw)[0] == 250
    (ev,) = _events(app)
    assert ev.text.strip() == "Please confirm the pick-up time."
    assert ev.data["calendar"] == {
        "method": "REQUEST",
        "summary": "退货上门取件 确认",
        "dtstart": "20261125T090000Z",
        "dtend": "20261125T100000Z",
        "organizer": "li@example.com",
        "location": "Shanghai",
    }
    assert [a["type"] for a in ev.data["attachments"]] == ["text/calendar"]
    assert any(n.startswith("calendar invitation (REQUEST): 退货上门取件 确认") for n in ev.data["notes"])


def _customer_with_a_reply(app, send, client, auth, address="li@example.com"):
    """Li writes, the agent replies; returns (contact id, the reply's Message-ID)."""
    send(raw_text("Where is my parcel?", from_addr=address, message_id="<li-q@example.com>"), sender=address)
    (contact,) = _contacts(app)
    auth.login("mailagent")
    resp = client.post(f"/api/email/contacts/{contact.id}/reply", json={"body_text": "Dear Li, it ships today."})
    assert resp.status_code == 200
    mailbox.fetch(address)
    return contact.id, resp.get_json()["event"]["data"]["message_id"]


def test_an_out_of_office_reply_is_recorded_on_its_contact_and_never_answered(
    app, send, smtp_endpoint, agent, client, auth
):
    """Li's out-of-office answer to our reply (Auto-Submitted: auto-replied) is recorded as email.auto_received on
    the open contact, opens nothing, and the next reply still answers Li's own mail."""
    cid, reply_id = _customer_with_a_reply(app, send, client, auth)
    ooo = raw_text(
        "I am out of the office until Monday.",
        subject=encoded_word("自动回复: Re: Order question"),
        from_addr="li@example.com",
        in_reply_to=reply_id,
        headers={"Auto-Submitted": "auto-replied"},
    )
    code, text = smtp_send(smtp_endpoint, ooo, sender="li@example.com")
    assert code == 250 and f"automatic message recorded on contact {cid}" in text
    (auto,) = _events(app, "email.auto_received")
    assert auto.contact_id == cid and auto.actor == "system"
    assert auto.data["automatic"] == "auto-submitted: auto-replied"
    assert len(_contacts(app)) == 1 and len(_events(app)) == 1
    thread = client.get(f"/api/email/contacts/{cid}/thread").get_json()
    assert [e["type"] for e in thread["events"] if e["type"].startswith("email.")] == [
        "email.received",
        "email.sent",
        "email.auto_received",
    ]
    resp = client.post(f"/api/email/contacts/{cid}/reply", json={"body_text": "Dear Li, one more thing."})
    (again,) = mailbox.fetch("li@example.com")
    assert resp.status_code == 200 and again["In-Reply-To"] == "<li-q@example.com>"


def test_a_bounce_of_our_reply_finds_its_contact(app, send, smtp_endpoint, agent, client, auth):
    """A delivery report (null envelope sender, multipart/report with the returned headers) about our reply is
    recorded on that reply's contact and opens no contact."""
    cid, reply_id = _customer_with_a_reply(app, send, client, auth)
    report = multipart(
        basic_headers(subject="Undelivered Mail Returned to Sender", from_="MAILER-DAEMON@mx.example.com"),
        [
            part("text/plain; charset=us-ascii", b"The mail could not be delivered.", cte="7bit"),
            part("message/delivery-status", DELIVERY_STATUS, cte="7bit"),
            part("text/rfc822-headers", f"Message-ID: {reply_id}\nSubject: Re: Order question".encode(), cte="7bit"),
        ],
        subtype="report",
        params="; report-type=delivery-status",
    )
    code, text = smtp_send(smtp_endpoint, report, sender="")
    assert code == 250 and f"on contact {cid}" in text
    (bounce,) = _events(app, "email.auto_received")
    assert bounce.contact_id == cid and bounce.data["automatic"] == "delivery report"
    assert len(_contacts(app)) == 1


def test_automatic_mail_that_answers_nothing_opens_no_contact(app, smtp_endpoint, agent, email_files):
    """An auto-reply to nothing of ours, a read receipt, bulk mail, a bare null-sender message and mail from the
    centre's own address (a loop): 250 with "no contact opened", no contact, the raw message kept on disk."""
    cases = [
        (raw_text("Out of office", headers={"X-Autoreply": "yes"}), "x@example.com"),
        (raw_text("Newsletter", headers={"Precedence": "bulk"}), "news@example.com"),
        (raw_text("Bare bounce"), ""),
        (raw_text("Looping", from_addr="service@kefu.local"), "service@kefu.local"),
        (
            multipart(
                basic_headers(subject="Read: hello"),
                [part("text/plain", b"read", cte="7bit")],
                subtype="report",
                params="; report-type=disposition-notification",
            ),
            "r@example.com",
        ),
    ]
    for raw, sender in cases:
        code, text = smtp_send(smtp_endpoint, raw, sender=sender)
        assert code == 250 and "no contact opened" in text, (sender, text)
    assert _contacts(app) == [] and _events(app, "email.auto_received") == []
    assert len(list((email_files / "automatic").rglob("*.eml"))) == len(cases)


def test_our_own_reply_coming_back_is_a_loop_not_a_contact(app, send, smtp_endpoint, agent, client, auth):
    """A copy of our reply delivered back to the centre (a misconfigured forward) is recognised by its
    Message-ID and does not open a contact."""
    cid, reply_id = _customer_with_a_reply(app, send, client, auth)
    with app.app_context():
        sent = db.session.scalars(select(ContactEvent).where(ContactEvent.type == "email.sent")).one()
        rendered = sent.data["rendered"]
    looped = rendered.replace("To: li@example.com", "To: service@kefu.local").encode("ascii")
    code, text = smtp_send(smtp_endpoint, looped, sender="li@example.com")
    assert code == 250 and "loop" in text
    assert len(_contacts(app)) == 1 and len(_events(app)) == 1
