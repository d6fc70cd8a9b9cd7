"""Size and structure limits over real SMTP (issue 16, items 6, 7, 8, 10): long lines, part floods, deep nesting,
floods from rotating senders, over-long names and NULs that PostgreSQL's JSON refuses. The raw message is always
kept whole; what is beyond a limit is noted; every SMTP reply is the one the README states."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from channels.email.parse import MAX_ATTACHMENTS
from channels.email.ratelimit import SlidingWindow
from channels.email.smtp import MAX_LINE_OCTETS
from channels.email.storage import resolve
from contacts.models import Contact, ContactEvent
from extensions import db

from .corpus import raw_text
from .hostile import basic_headers, message, multipart, nested, part, rfc2231, smtp_send


def _received(app) -> list[ContactEvent]:
    with app.app_context():
        evs = list(db.session.scalars(select(ContactEvent).where(ContactEvent.type == "email.received")))
        db.session.expunge_all()
        return evs


def _contacts(app) -> list[Contact]:
    with app.app_context():
        cs = list(db.session.scalars(select(Contact).order_by(Contact.id)))
        db.session.expunge_all()
        return cs


def test_long_lines_are_accepted_up_to_the_limit_and_noted(app, smtp_endpoint, agent, email_files):
    """A 20,000-octet line (an HTML body on one line) is recorded with a note; a line over MAX_LINE_OCTETS gets
    aiosmtpd's 500 and nothing is stored."""
    body = b"<p>" + b"x" * 20_000 + b"</p>"
    code, text = smtp_send(smtp_endpoint, message(basic_headers(subject="long"), body, ctype=b"text/html"))
    assert code == 250 and "recorded on contact" in text
    (ev,) = _received(app)
    assert len(ev.text) == 20_000
    assert any("longer than 998 octets (the longest 20007)" in n for n in ev.data["notes"])
    too_long = message(basic_headers(subject="too long"), b"y" * (MAX_LINE_OCTETS + 10))
    code, text = smtp_send(smtp_endpoint, too_long, sender="other@example.com")
    assert code == 500 and "Line too long" in text
    assert len(_received(app)) == 1 and len(list(email_files.rglob("*.eml"))) == 1


def test_a_flood_of_parts_is_capped_and_recorded_whole(app, smtp_endpoint, agent, email_files):
    """5,000 attachments in one 1 MB message: recorded (250) with at most MAX_ATTACHMENTS files and a small
    event, notes saying what was not read, and the raw message kept byte for byte."""
    parts = [part("text/plain; charset=utf-8", b"see the files", cte="8bit")]
    parts += [
        part(
            "application/octet-stream",
            b"QUFBQQ==",
            extra=[f'Content-Disposition: attachment; filename="f{i}.bin"'.encode()],
        )
        for i in range(5000)
    ]
    raw = multipart(basic_headers(subject="flood"), parts)
    code, _ = smtp_send(smtp_endpoint, raw)
    assert code == 250
    (ev,) = _received(app)
    assert ev.text.strip() == "see the files"
    assert len(ev.data["attachments"]) == MAX_ATTACHMENTS
    assert ev.data["attachments"][0] == {**ev.data["attachments"][0], "name": "f0.bin", "size": 4}
    assert len(json.dumps(ev.data)) < 20_000
    notes = " ".join(ev.data["notes"])
    assert "MIME boundaries; only its first parts were read" in notes and "were not stored" in notes
    assert len([p for p in (email_files / "attachments").rglob("*") if p.is_file()]) == MAX_ATTACHMENTS
    with app.app_context():
        assert resolve(ev.data["raw_path"]).read_bytes() == raw


def test_deeply_nested_mime_keeps_subject_and_message_id_and_threads(app, smtp_endpoint, agent, client, auth):
    """2,000 levels of nesting: the subject, sender and Message-ID are read (the reply says "Re: <subject>" and
    threads), and the nesting beyond the limit is noted."""
    raw = nested(2000, subject="Nested 订单", msgid="<deep-1@example.com>")
    assert smtp_send(smtp_endpoint, raw, sender="deep@example.com")[0] == 250
    (ev,) = _received(app)
    assert ev.data["subject"] == "Nested 订单" and ev.data["message_id"] == "<deep-1@example.com>"
    assert ev.data["from"]["address"] == "deep@example.com"
    assert any("MIME" in n and ("boundaries" in n or "nested" in n) for n in ev.data["notes"])
    auth.login("mailagent")
    resp = client.post(f"/api/email/contacts/{ev.contact_id}/reply", json={"body_text": "Dear customer, noted."})
    assert resp.status_code == 200
    assert resp.get_json()["event"]["data"]["subject"] == "Re: Nested 订单"
    assert resp.get_json()["event"]["data"]["in_reply_to"] == "<deep-1@example.com>"


def test_a_message_the_mime_parser_cannot_take_keeps_its_headers():
    """When the MIME parser fails outright (its recursion overflows), the headers are still read on their own:
    Subject, From, Message-ID, In-Reply-To, and the body is kept as raw text with parse_error set."""
    from channels.email import parse

    raw = nested(1100, subject="=?utf-8?B?5rex?=", msgid="<deeper@example.com>").replace(
        b"Message-ID:", b"In-Reply-To: <earlier@kefu.local>\r\nMessage-ID:"
    )
    limit = parse.MAX_BOUNDARY_LINES
    parse.MAX_BOUNDARY_LINES = 10**6  # let the whole message reach the parser, as without the window
    try:
        parsed = parse.parse_message(raw)
    finally:
        parse.MAX_BOUNDARY_LINES = limit
    assert parsed.parse_error and "Recursion" in parsed.parse_error
    assert (parsed.subject, parsed.message_id, parsed.in_reply_to) == (
        "深",
        "<deeper@example.com>",
        ["<earlier@kefu.local>"],
    )
    assert parsed.from_address == "deep@example.com" and "at the bottom" in parsed.text


@pytest.mark.app_config(SMTP_RATE_PER_MINUTE=100, SMTP_PEER_RATE_PER_MINUTE=3)
def test_a_flood_with_rotating_senders_is_limited_per_client_address(app, smtp_endpoint):
    """A new envelope sender for every message does not get around the limit: the client address is counted
    too (451 at MAIL after three), and the sender table stays bounded."""
    for i in range(3):
        assert smtp_send(smtp_endpoint, raw_text(f"spam {i}"), sender=f"s{i}@spam.example")[0] == 250
    code, text = smtp_send(smtp_endpoint, raw_text("spam 4"), sender="s4@spam.example")
    assert code == 451 and "127.0.0.1" in text
    assert len(smtp_endpoint.handler.by_sender) == 3 and len(smtp_endpoint.handler.by_peer) == 1


def test_the_rate_table_is_bounded():
    """SlidingWindow forgets expired keys first and then the least recently used, never growing past max_keys,
    and still refuses a key that is over its limit."""
    window = SlidingWindow(limit=2, window=60, max_keys=100)
    for i in range(10_000):
        window.hit(f"sender{i}", now=float(i) / 1000)
    assert len(window) == 100
    window.hit("busy", 20.0)
    window.hit("busy", 20.1)
    assert window.over("busy", 20.2) and not window.over("busy", 81.0)


def test_long_names_and_nuls_are_stored_on_either_database(app, smtp_endpoint, agent):
    """A 300-character display name is cut to the contact's column; NULs in a file name (RFC 2231 %00), the
    envelope-free Date header and the X-Kefu-Simulation header reach neither the JSON nor the text columns
    (PostgreSQL refuses them: a permanent 451 the sender would retry for days)."""
    name = "长" * 300
    headers = basic_headers(
        from_=f"=?utf-8?B?{__import__('base64').b64encode(name.encode()).decode()}?= <long@example.com>"
    )
    headers = [(k, v) for k, v in headers if k != "Date"] + [
        ("Date", "Mon\x00, 1 Jan"),
        ("X-Kefu-Simulation", "a\x00b"),
    ]
    raw = multipart(
        headers,
        [
            part("text/plain; charset=utf-8", b"dGV4dA=="),
            part(
                "application/pdf",
                b"JVBERg==",
                extra=[b"Content-Disposition: attachment; filename*=utf-8''a%00b" + rfc2231(".pdf", "utf-8")],
            ),
        ],
    )
    code, text = smtp_send(smtp_endpoint, raw, sender="long@example.com")
    assert code == 250, text
    (contact,) = _contacts(app)
    assert contact.customer_name == "长" * 80
    (ev,) = _received(app)
    assert ev.data["from"]["name"] == "长" * 200
    assert ev.data["attachments"][0]["name"] == "a b.pdf"
    assert "\x00" not in json.dumps(ev.data, ensure_ascii=False)
