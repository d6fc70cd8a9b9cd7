"""Relaying replies to an outside smarthost (SMTP_RELAY). The outside server is a second aiosmtpd server on
its own thread and port, standing in for the smarthost beyond the sandbox."""

from __future__ import annotations

import socket

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from contacts.models import Contact, ContactEvent
from extensions import db

from .corpus import raw_text


class Smarthost:
    """Collects what it is handed: (envelope from, recipients, raw bytes)."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 queued at the smarthost"


@pytest.fixture
def smarthost():
    handler = Smarthost()
    port = _free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    yield handler, f"127.0.0.1:{port}"
    ctl.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_contact(app, send):
    send(
        raw_text("Where is my parcel?", from_addr="li@example.com", message_id="<relay-q@example.com>"),
        sender="li@example.com",
    )
    with app.app_context():
        return db.session.scalars(select(Contact)).one().id


def _types(app, cid):
    with app.app_context():
        return [
            e.type
            for e in db.session.scalars(
                select(ContactEvent).where(ContactEvent.contact_id == cid).order_by(ContactEvent.seq)
            )
        ]


def test_reply_is_relayed_to_the_smarthost(app, send, agent, client, auth, smarthost):
    """With SMTP_RELAY set, the reply goes to the smarthost over SMTP: from the centre's address to the
    customer, the same Message-ID and In-Reply-To as recorded; email.relayed is recorded after email.sent."""
    handler, relay = smarthost
    app.config["SMTP_RELAY"] = relay
    cid = _one_contact(app, send)
    auth.login("mailagent")
    resp = client.post(f"/api/email/contacts/{cid}/reply", json={"body_text": "Dear Ms Li,\n\nIt arrives today.\n"})
    assert resp.status_code == 200
    sent = resp.get_json()["event"]
    ((mail_from, rcpts, raw),) = handler.received
    assert (mail_from, rcpts) == ("service@kefu.local", ["li@example.com"])
    assert f"Message-ID: {sent['data']['message_id']}".encode() in raw
    assert b"In-Reply-To: <relay-q@example.com>" in raw
    types = _types(app, cid)
    assert types.index("email.relayed") > types.index("email.sent")


def test_a_dead_smarthost_is_recorded_and_the_reply_kept(app, send, agent, client, auth):
    """A smarthost that refuses connections: the reply is still recorded and delivered in the sandbox, and
    email.relay_failed says why; the desk gets 200, not an error."""
    from channels.email import mailbox

    app.config["SMTP_RELAY"] = f"127.0.0.1:{_free_port()}"
    cid = _one_contact(app, send)
    mailbox.fetch("li@example.com")
    auth.login("mailagent")
    resp = client.post(f"/api/email/contacts/{cid}/reply", json={"body_text": "Dear Ms Li,\n\nIt arrives today.\n"})
    assert resp.status_code == 200
    assert len(mailbox.fetch("li@example.com")) == 1
    types = _types(app, cid)
    assert "email.sent" in types and "email.relay_failed" in types and "email.relayed" not in types
