"""Voice monitoring from the console (web side): the lead's browser joins a live call as the leg
``lead:<user id>`` and the media worker routes it (media/monitor.py). Web code reaches the call only through
the voice channel's MediaClient; each step is recorded on the contact by console.monitoring's actions.
"""

from __future__ import annotations

from flask import current_app

from accounts.models import User
from channels.voice.actions import call_id
from contacts.actions import ActionError
from contacts.models import Contact, ContactEvent
from extensions import db

from .monitoring import VOICE_CHANNELS, VOICE_MODES, do_start_monitoring, do_stop_monitoring, require_right


def lead_leg(user: User) -> str:
    return f"lead:{user.id}"


def _media(op: str, contact: Contact, **fields) -> dict:
    client = current_app.extensions.get("kefu_media")
    if client is None:
        raise ActionError("this server does not carry calls (the voice channel is not enabled)")
    reply = client.request(op, call_id=call_id(contact), **fields)
    if not reply.get("ok"):
        raise ActionError(reply.get("error") or f"media {op} failed")
    return reply


def _check(user: User, contact: Contact, mode: str) -> None:
    if mode not in VOICE_MODES:
        raise ActionError("monitoring mode must be listen, whisper or barge")
    if contact.channel not in VOICE_CHANNELS:
        raise ActionError(f"contact {contact.id} is a {contact.channel} contact; only calls can be listened to")
    require_right(user, contact, mode)
    if contact.status != "active":
        raise ActionError(f"contact {contact.id} is {contact.status}; only a call in progress can be monitored")


def do_join_call_monitor(user: User, contact: Contact, mode: str, sdp) -> dict:
    """The lead's browser offers its audio for ``lead:<id>`` on this call; the worker answers, then routes it
    in ``mode``. Records ``monitor.<mode>``. Returns ``{"sdp": answer, "event": ...}``. If the routing fails,
    the leg is taken out again, so a half-joined lead never hears (or is heard) unrecorded."""
    _check(user, contact, mode)
    answer = _media("offer", contact, leg=lead_leg(user), sdp=sdp)
    try:
        _media("monitor", contact, leg=lead_leg(user), mode=mode)
    except ActionError:
        _leave_quietly(contact, user)
        raise
    event = do_start_monitoring(user, contact, mode)
    return {"sdp": answer["sdp"], "event": event}


def do_set_call_monitor_mode(user: User, contact: Contact, mode: str) -> dict:
    """Switch an already joined lead between listen, whisper and barge; records ``monitor.<mode>``."""
    _check(user, contact, mode)
    _media("monitor", contact, leg=lead_leg(user), mode=mode)
    return do_start_monitoring(user, contact, mode)


def do_leave_call_monitor(user: User, contact: Contact) -> dict:
    """The lead hangs up their monitoring leg (the call goes on); records ``monitor.stop``."""
    if contact.channel not in VOICE_CHANNELS:
        raise ActionError(f"contact {contact.id} is not a call")
    if contact.status in ("queued", "active"):
        _media("monitor", contact, leg=lead_leg(user), mode="stop")
    return do_stop_monitoring(user, contact, _last_mode(user, contact))


def _last_mode(user: User, contact: Contact) -> str:
    """The mode this lead was last in on this call (recorded with the stop, for the review)."""
    from sqlalchemy import select

    last = db.session.scalar(
        select(ContactEvent.type)
        .where(
            ContactEvent.contact_id == contact.id,
            ContactEvent.actor_id == user.id,
            ContactEvent.type.in_([f"monitor.{m}" for m in VOICE_MODES]),
        )
        .order_by(ContactEvent.seq.desc())
        .limit(1)
    )
    return last.split(".", 1)[1] if last else "listen"


def _leave_quietly(contact: Contact, user: User) -> None:
    try:
        _media("monitor", contact, leg=lead_leg(user), mode="stop")
    except ActionError:
        current_app.logger.warning("could not take %s out of call %s", lead_leg(user), contact.id)
