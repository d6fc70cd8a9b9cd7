"""More bad input over real SMTP: a message with no headers at all, undecodable bytes in the declared charset
and in raw 8-bit headers, and an oversized attachment; each is recorded whole with notes, never lost."""

from __future__ import annotations

from sqlalchemy import select

from contacts.models import Contact, ContactEvent
from extensions import db

from .corpus import raw_text, with_attachment


def _received(app) -> list[ContactEvent]:
    with app.app_context():
        evs = list(db.session.scalars(select(ContactEvent).where(ContactEvent.type == "email.received")))
        db.session.expunge_all()
        return evs


def test_a_message_without_headers_is_recorded_with_notes(app, send, agent):
    """Only a body: no From, Subject, Date or Message-ID. The envelope sender stands in, the contact is
    opened with "(no subject)", and each missing header is noted."""
    send(b"\r\njust a line of text\r\n", sender="bare@example.com")
    (ev,) = _received(app)
    assert ev.text.strip() == "just a line of text" and ev.data["from"]["address"] == "bare@example.com"
    notes = " ".join(ev.data["notes"])
    for missing in ("no Subject header", "no usable From address", "no Date header", "no Message-ID"):
        assert missing in notes
    with app.app_context():
        assert db.session.scalars(select(Contact)).one().subject == "(no subject)"


def test_undecodable_bytes_are_replaced_and_noted(app, send, agent):
    """Bytes that are not UTF-8 in a UTF-8 part, and an unencoded 8-bit GBK subject: the readable text
    survives, the rest becomes U+FFFD with a note, and the raw bytes are kept on disk unchanged."""
    from channels.email.storage import resolve

    raw = (
        raw_text("placeholder", charset="utf-8", cte="8bit", subject="x")
        .replace(b"placeholder", b"good start \xff\xfe\xfa bad bytes")
        .replace(b"Subject: x", "Subject: 退货问题".encode("gbk"))
    )
    send(raw)
    (ev,) = _received(app)
    assert ev.text.startswith("good start") and "\ufffd" in ev.text and "bad bytes" in ev.text
    assert ev.data["subject"] == "退货问题"
    assert any("undecodable" in n for n in ev.data["notes"])
    with app.app_context():
        assert resolve(ev.data["raw_path"]).read_bytes() == raw


def test_an_attachment_over_the_limit_is_listed_not_stored(app, send, agent):
    """An attachment over EMAIL_ATTACHMENT_MAX_BYTES (while the message is within the SMTP limit) is listed
    with a note and not written; the mail itself is recorded."""
    app.config["EMAIL_ATTACHMENT_MAX_BYTES"] = 1000
    send(with_attachment("see the photo", "photo.jpg", b"\xff\xd8" + b"x" * 5000, ctype="image/jpeg"))
    (ev,) = _received(app)
    (att,) = ev.data["attachments"]
    assert att["name"] == "photo.jpg" and att["size"] == 5002 and "path" not in att and "not stored" in att["note"]
