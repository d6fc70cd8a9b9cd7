"""/customer: a person playing the customer (role-play) in the customer chat page.

The customer proves which contact is theirs with the contact's ``customer_token`` (kept by the page in
sessionStorage, so a reload or a reconnect resumes the same conversation). Anyone may open a chat, as on a
shop's website; a per-connection rate limit keeps one socket from flooding a queue.
"""

from __future__ import annotations

from flask import request
from flask_socketio import Namespace, join_room

from contacts.actions import ActionError
from contacts.events import contact_room, customer_view

from . import customer_side
from .acks import ConnectionRateLimit
from .transcript import events_after

_limit = ConnectionRateLimit(rate=5.0, burst=10.0)  # events a second per connection
_handler = _limit.handler


def _mine(data):
    return customer_side.contact_for_token(data.get("contact_id"), data.get("token"))


def _my_head(data):
    """The customer's contact head only: enough for messages and typing, and much cheaper than the row."""
    return customer_side.contact_head_for_token(data.get("contact_id"), data.get("token"))


class CustomerNamespace(Namespace):
    # Quick per-line events, run on the connection's reader without a task each (concurrency.py).
    inline_events = frozenset({"send", "typing"})

    def on_disconnect(self, reason=None):
        _limit.forget(request.sid)

    @_handler
    def on_start(self, data):
        """Open a chat: name, queue (chat.*), language, optional subject."""
        lang = data.get("lang") if data.get("lang") in ("zh_CN", "en") else "zh_CN"
        subject = (data.get("subject") or "").strip()[:200] or None
        contact = customer_side.start_chat(
            lang=lang,
            queue=str(data.get("queue") or "chat.general"),
            customer_name=data.get("name") or "",
            subject=subject,
        )
        join_room(contact_room(contact.id))
        return {"ok": True, "contact_id": contact.id, "token": contact.customer_token, "status": contact.status}

    @_handler
    def on_resume(self, data):
        """Rejoin a conversation after a reload or a dropped socket; get what was missed."""
        contact = _mine(data)
        join_room(contact_room(contact.id))
        try:
            after = int(data.get("after_seq", 0))
        except (TypeError, ValueError) as e:
            raise ActionError("after_seq must be a number") from e
        return {"ok": True, "status": contact.status, "events": events_after(contact, after, staff=False)}

    @_handler
    def on_send(self, data):
        """The customer writes; ``client_id`` makes a resend idempotent. The ack carries the recorded event
        (this socket is not sent it again)."""
        contact = _my_head(data)
        ev, created = customer_side.customer_say(
            contact, data.get("text"), client_id=data.get("client_id"), skip_sid=request.sid
        )
        return {"ok": True, "seq": ev["seq"], "event": customer_view(ev), "duplicate": not created}

    @_handler
    def on_typing(self, data):
        """Typing started or stopped; the ack carries the recorded event (none when the chat is not active)."""
        ev = customer_side.customer_typing(_my_head(data), bool(data.get("typing")), skip_sid=request.sid)
        return {"ok": True, "event": None if ev is None else customer_view(ev)}

    @_handler
    def on_leave(self, data):
        contact = customer_side.customer_leave(_mine(data))
        return {"ok": True, "status": contact.status}

    @_handler
    def on_rate(self, data):
        """Answer the CSAT survey (1-5)."""
        customer_side.customer_rate(_mine(data), data.get("score"), (data.get("comment") or "")[:500] or None)
        return {"ok": True}
