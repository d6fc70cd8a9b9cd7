"""Facts the media worker learns by itself, recorded on the call's contact (run in the worker's event thread
with an app context, never on the media loop)."""

from __future__ import annotations

import logging

from contacts.actions import do_abandon_contact
from contacts.models import Contact
from extensions import db

from .actions import CALL_CHANNELS, _record, do_hang_up_call, notify_customer

log = logging.getLogger(__name__)


def _contact(event: dict) -> Contact | None:
    try:
        return db.session.get(Contact, int(event.get("call_id")))
    except (TypeError, ValueError):
        return None


def apply_media_event(event: dict) -> None:
    """Record one media event: ``leg_connected``, ``leg_failed``, ``recording_started``, ``utterance``,
    ``hearing`` (recognition or Mark as said), ``heard`` (one recognised agent turn), ``customer_state``,
    ``customer_hangup``."""
    contact = _contact(event)
    if contact is None or contact.channel not in CALL_CHANNELS:
        log.warning("media event %s for unknown call %r", event.get("type"), event.get("call_id"))
        return
    kind = event.get("type")
    leg = event.get("leg")
    if kind == "leg_connected":
        _record(contact, "call.connected", "system", data={"leg": leg})
    elif kind == "leg_failed":
        reason = event.get("reason")
        if reason == "timeout":
            text = f"The {leg}'s audio did not connect within {event.get('timeout', 0):.0f} s."
        else:
            text = f"The {leg}'s audio connection {reason}."
        _record(
            contact,
            "call.connect_failed",
            "system",
            text=text,
            data={"leg": leg, "reason": reason, "timeout": event.get("timeout")},
        )
        if leg == "customer" and reason != "timeout" and contact.status == "active":
            do_hang_up_call(contact, "customer", reason="connection_lost")
    elif kind == "recording_started":
        started_at = float(event["started_at"])
        _record(
            contact,
            "call.recording",
            "system",
            data={
                "files": event.get("files") or {},
                "started_at": started_at,
                "offset": round(started_at - contact.created_at, 3),  # from the contact's creation
            },
        )
    elif kind == "utterance":
        _record(
            contact,
            "call.utterance",
            "customer",
            text=event.get("text"),
            data={k: event.get(k) for k in ("move", "interrupt", "offset", "seconds")},
        )
    elif kind == "hearing":
        # how the simulated caller hears the trainee on this call: recognition, or Mark as said (and why)
        _record(contact, "call.hearing", "system", data={k: event.get(k) for k in ("mode", "engine", "reason")})
    elif kind == "heard":
        keys = ("turn", "start", "end", "confidence", "latency", "recognition_s", "early", "error", "dropped")
        keys += ("acts", "emotion", "revealed")
        _record(contact, "call.heard", "system", text=event.get("text") or None, data={k: event.get(k) for k in keys})
    elif kind == "customer_state":
        _record(contact, "customer.state", "simulator", data=event.get("state") or {})
    elif kind == "customer_hangup":
        if contact.status == "active":
            do_hang_up_call(contact, "customer", reason=event.get("reason") or "customer_hung_up")
        elif contact.status == "queued":
            do_abandon_contact(contact, reason=event.get("reason") or "abandoned")
            notify_customer(contact, "call.ended", {"reason": "abandoned"})
    elif kind in ("camera_hint", "camera_summary", "video_recording"):  # a video call's cameras
        from channels.video.media import apply_video_event

        apply_video_event(contact, event)
    else:
        log.warning("unknown media event %r", kind)
