"""/customer: a person playing the customer (role-play) in the customer chat page.

The customer proves which contact is theirs with the contact's ``customer_token`` (kept by the page in
sessionStorage, so a reload or a reconnect resumes the same conversation). Anyone may open a chat, as on a
shop's website; a per-connection rate limit keeps one socket from flooding a queue.
"""

from __future__ import annotations

from flask import current_app, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_socketio import Namespace, join_room

from contacts.actions import ActionError
from contacts.events import contact_room, customer_view

from . import admission, customer_side
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
        admission.door(current_app).release(request.sid)

    @_handler
    def on_start(self, data):
        """Open a chat: name, queue (chat.*), language, optional subject. Past this process's capacity the ack
        is ``{"ok": false, "code": "queue_full", "error": <a message in the customer's language>, "reason",
        "retry_after"}`` and no contact is opened (channels/chat/admission.py)."""
        lang = data.get("lang") if data.get("lang") in ("zh_CN", "en") else "zh_CN"
        subject = (data.get("subject") or "").strip()[:200] or None
        door = admission.door(current_app)
        seated = door.seated(request.sid)
        refusal = door.admit(request.sid)
        if refusal is not None:
            return _refused(refusal, lang)
        try:
            contact = customer_side.start_chat(
                lang=lang,
                queue=str(data.get("queue") or "chat.general"),
                customer_name=data.get("name") or "",
                subject=subject,
            )
        except Exception:
            if not seated:  # the seat taken for this start: no chat came of it
                door.release(request.sid)
            raise
        join_room(contact_room(contact.id))
        return {"ok": True, "contact_id": contact.id, "token": contact.customer_token, "status": contact.status}

    @_handler
    def on_resume(self, data):
        """Rejoin a conversation after a reload or a dropped socket; get what was missed."""
        contact = _mine(data)
        admission.door(current_app).hold(request.sid)  # an accepted chat: never refused at the door
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
        admission.door(current_app).release(request.sid)
        return {"ok": True, "status": contact.status}

    @_handler
    def on_rate(self, data):
        """Answer the CSAT survey (1-5)."""
        customer_side.customer_rate(_mine(data), data.get("score"), (data.get("comment") or "")[:500] or None)
        return {"ok": True}


def _refused(refusal: admission.Refusal, lang: str) -> dict:
    """The door's refusal, in the customer's language, with the code and the wait a client can act on."""
    address = next(iter(current_app.config.get("EMAIL_ADDRESS_QUEUES") or {}), "")
    with force_locale(lang):
        if address:
            text = _(
                "Our queue is full right now. Please try again in a few minutes, or leave us a message by email "
                "at %(address)s.",
                address=address,
            )
        else:
            text = _("Our queue is full right now. Please try again in a few minutes.")
    return {
        "ok": False,
        "code": admission.REFUSED,
        "error": text,
        "reason": refusal.reason,
        "retry_after": refusal.retry_after,
    }
