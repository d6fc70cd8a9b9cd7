"""do_* actions of voice calls. A call is a contact on the voice channel, routed by the ACD like a chat: the
assignment rings the agent's desk; the agent answers with their browser's SDP offer. Every state change is
recorded as a ``call.*`` event (committed, then published); the media side is reached only through the
MediaClient (``channels.voice.service``).

Events: ``call.answered``, ``call.connected`` / ``call.connect_failed`` (from the media side),
``call.recording`` (files and start offsets), ``call.held`` / ``call.resumed`` (hold, and the wait of a
transfer), ``call.muted`` / ``call.unmuted``, ``call.quick_phrase``, ``call.utterance`` (the simulated
customer spoke), ``call.hearing`` / ``call.heard`` (live recognition), ``call.ended``, ``call.metrics``,
``call.transcript`` (both legs transcribed after the call, channels/voice/transcripts.py), ``call.outbound``
(a callback call placed), ``call.queue_announcement`` (channels/voice/queue_announcements.py).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from accounts.models import User
from clock import clock
from contacts.actions import ActionError, do_abandon_contact, do_create_contact, do_end_contact, do_transfer_contact
from contacts.events import append_event, publish_contact_event, send_event
from contacts.lifecycle import lock_contact
from contacts.models import Contact, ContactEvent
from contacts.transaction import atomic, on_commit
from extensions import db
from routing.actions import validate_queue
from scenarios.schema import QUICK_PHRASE_MOVES
from tickets.models import Callback

from .service import media_client, recordings_dir

# Channels whose contacts are calls through the media worker: a video call is a voice call with cameras.
CALL_CHANNELS = ("voice", "video")


def call_id(contact: Contact) -> str:
    return str(contact.id)


def _media(op: str, contact: Contact, **fields) -> dict:
    from media.interface import MediaUnavailable

    try:
        reply = media_client().request(op, call_id=call_id(contact), **fields)
    except MediaUnavailable as e:  # its message says what is wrong; the desk shows it as is
        raise ActionError(str(e)) from e
    if not reply.get("ok"):
        raise ActionError(reply.get("error") or f"media {op} failed")
    return reply


def _record(contact: Contact, type: str, actor: str, *, actor_id=None, data=None, text=None) -> dict:
    ev, _ = append_event(contact, type, actor, actor_id=actor_id, data=data or {}, text=text)
    publish_contact_event(ev)
    notify_customer(contact, type, _customer_safe(type, data or {}))
    return ev.as_dict()


def _customer_safe(type: str, data: dict) -> dict:
    return {k: data[k] for k in ("reason", "leg", "seconds", "timeout", "position") if k in data}


def notify_customer(contact: Contact, event_type: str, data: dict | None = None) -> None:
    """Call state for a role-play customer's page (the /voice room of this contact's customer):
    ``{"type": "call_state", "contact_id", "event": "call.held", "data": {...}}``."""
    send_event(
        {"type": "call_state", "contact_id": contact.id, "event": event_type, "data": data or {}},
        [("/voice", customer_room(contact.id))],
    )


def customer_room(contact_id: int) -> str:
    return f"voice-customer:{contact_id}"


def _events(contact: Contact, *types: str) -> list[ContactEvent]:
    return list(
        db.session.scalars(
            select(ContactEvent)
            .where(ContactEvent.contact_id == contact.id, ContactEvent.type.in_(types))
            .order_by(ContactEvent.seq)
        )
    )


def call_state(contact: Contact) -> dict:
    """What the recording says about the call now: answered, held, muted, ended."""
    evs = _events(contact, "call.answered", "call.held", "call.resumed", "call.muted", "call.unmuted", "call.ended")
    state = {"answered": False, "held": False, "muted": False, "ended": False}
    for e in evs:
        if e.type == "call.answered":
            state["answered"] = True
        elif e.type in ("call.held", "call.resumed"):
            state["held"] = e.type == "call.held"
        elif e.type in ("call.muted", "call.unmuted"):
            state["muted"] = e.type == "call.muted"
        elif e.type == "call.ended":
            state["ended"] = True
    return state


def _own_call(contact: Contact, agent: User) -> dict:
    if contact.channel not in CALL_CHANNELS:
        raise ActionError(f"contact {contact.id} is not a call")
    if contact.agent_id != agent.id:
        raise ActionError(f"call {contact.id} is not on your desk")
    state = call_state(contact)
    if state["ended"] or contact.status != "active":
        raise ActionError(f"call {contact.id} has ended")
    return state


def _customer_spec(contact: Contact) -> dict:
    if contact.simulated and contact.scenario_id:
        return {
            "kind": "simulated",
            "scenario_id": contact.scenario_id,
            "lang": contact.lang,
            "seed": contact.id,
            "waited": round(max(0.0, clock.timestamp() - contact.created_at), 3),  # in the queue, then ringing
        }
    return {"kind": "person"}


def do_create_call(
    queue: str = "voice.general",
    *,
    channel: str = "voice",
    lang: str = "zh_CN",
    scenario_id: str | None = None,
    simulated: bool = False,
    customer_id: int | None = None,
    customer_name: str | None = None,
    subject: str | None = None,
    reserved_agent_id: int | None = None,
    priority: int = 0,
    required_level: str | None = None,
    exercise_id: int | None = None,
) -> Contact:
    """A customer calls in: a call contact (``channel`` voice, or video: a voice call with cameras) in ``queue``
    for the ACD. A simulated customer (``scenario_id``) is played by the server; otherwise a person calls from
    the customer page with the contact's token."""
    if channel not in CALL_CHANNELS:
        raise ActionError(f"{channel!r} is not a call channel")
    validate_queue(queue, channel=channel)
    return do_create_contact(
        channel,
        queue,
        lang=lang,
        scenario_id=scenario_id,
        simulated=simulated,
        customer_id=customer_id,
        customer_name=customer_name,
        subject=subject,
        reserved_agent_id=reserved_agent_id,
        priority=priority,
        required_level=required_level,
        exercise_id=exercise_id,
    )


def do_answer_call(contact: Contact, agent: User, sdp) -> dict:
    """The agent answers (or, after a failed connection or a transfer, re-answers) with their browser's SDP
    offer; returns the server's answer. A call waiting after a transfer comes off hold."""
    state = _own_call(contact, agent)
    _media("open_call", contact, contact_id=contact.id, customer=_customer_spec(contact))
    if contact.channel == "video":
        from channels.video.media import video_offer_fields

        reply = _media("video_offer", contact, leg="agent", sdp=sdp, **video_offer_fields(contact))
    else:
        reply = _media("offer", contact, leg="agent", sdp=sdp)
    _record(contact, "call.answered", "agent", actor_id=agent.id, data={"agent_id": agent.id})
    if state["held"]:
        do_resume_call(contact, agent, reason="answered")
    return {"sdp": reply["sdp"], "type": "answer"}


def do_hold_call(contact: Contact, agent: User, *, reason: str = "hold") -> dict:
    """Put the customer on hold: they hear the hold tone, the simulated customer falls silent, the agent hears
    nothing from them. Hold time counts in the call metrics."""
    state = _own_call(contact, agent)
    if state["held"]:
        raise ActionError("the call is already on hold")
    _media("hold", contact)
    return _record(contact, "call.held", "agent", actor_id=agent.id, data={"reason": reason})


def do_resume_call(contact: Contact, agent: User, *, reason: str = "resume") -> dict:
    """Take the customer off hold."""
    state = _own_call(contact, agent)
    if not state["held"]:
        raise ActionError("the call is not on hold")
    _media("resume", contact)
    return _record(contact, "call.resumed", "agent", actor_id=agent.id, data={"reason": reason})


def do_mute_call(contact: Contact, agent: User, muted: bool) -> dict:
    """Mute or unmute the agent's microphone on the server (the customer hears, and the recording keeps,
    silence)."""
    state = _own_call(contact, agent)
    if state["muted"] == bool(muted):
        raise ActionError("the microphone is already " + ("muted" if muted else "on"))
    _media("mute", contact, leg="agent", muted=bool(muted))
    return _record(contact, "call.muted" if muted else "call.unmuted", "agent", actor_id=agent.id)


def do_mark_quick_phrase(contact: Contact, agent: User, move: str) -> dict:
    """The agent marks a service phrase as said (the simulated customer cannot hear words; this is how it
    learns what was said). Recorded for grading."""
    _own_call(contact, agent)
    if move not in QUICK_PHRASE_MOVES:
        raise ActionError(f"unknown quick phrase {move!r}")
    _media("quick_phrase", contact, move=move)
    return _record(contact, "call.quick_phrase", "agent", actor_id=agent.id, data={"move": move})


def do_transfer_call(contact: Contact, agent: User, *, target_kind: str, target: str, note: str) -> Contact:
    """Transfer the call (to a queue, a level or a named agent, with a note): the customer waits on hold for
    the next agent while the contact is routed again; the recording goes on."""
    state = _own_call(contact, agent)
    if not (note or "").strip():
        raise ActionError("a transfer needs a note for the receiver")
    _media("park", contact)
    with atomic():  # the hold for the transfer and the transfer itself are recorded together
        if not state["held"]:
            _record(contact, "call.held", "agent", actor_id=agent.id, data={"reason": "transfer"})
        return do_transfer_contact(contact, agent, target_kind=target_kind, target=target, note=note)


def do_hang_up_call(contact: Contact, actor: str, *, actor_id: int | None = None, reason: str = "hang_up") -> Contact:
    """End the call: the media side closes its peers and finishes the recording; ``call.ended`` and the
    ``call.metrics`` computed from the recorded legs are appended; the contact goes to wrap-up (after-call
    work). Hanging up an ended call does nothing."""
    if contact.channel not in CALL_CHANNELS:
        raise ActionError(f"contact {contact.id} is not a call")
    if call_state(contact)["ended"]:
        return contact
    reply = media_client().request("hangup", call_id=call_id(contact))
    if reply.get("worker_lost"):
        # The call's media worker stopped: close the call as its sweep would (recording repaired, both told).
        from .recovery import recover_interrupted_calls

        recover_interrupted_calls([contact.id], reason="media_worker_lost")
        return contact
    files = reply.get("files") if reply.get("ok") else None
    seconds = float(reply.get("seconds") or 0.0)
    # Metrics first (reading the files takes a moment), so call.ended and call.metrics land together.
    metrics = _compute_metrics(contact, files, reply.get("started_at")) if files else None
    with atomic():  # call.ended, call.metrics and the contact's end: one transaction, once
        lock_contact(contact)
        if call_state(contact)["ended"]:  # hung up meanwhile (the other side, or the agent's other socket)
            return contact
        _record(contact, "call.ended", actor, actor_id=actor_id, data={"reason": reason, "seconds": seconds})
        if metrics is not None:
            _record(contact, "call.metrics", "system", data=metrics)
        do_end_contact(contact, actor, actor_id=actor_id, reason=reason)
    from .transcripts import schedule_transcript

    schedule_transcript(contact, files)  # both legs transcribed off the request; call.transcript follows
    return contact


def hold_intervals(contact: Contact, started_at: float | None) -> list[list[float | None]]:
    """Hold intervals in seconds from the recording's start (an open hold has end None)."""
    if started_at is None:
        return []
    out: list[list[float | None]] = []
    for e in _events(contact, "call.held", "call.resumed"):
        t = round(e.ts - started_at, 3)
        if e.type == "call.held" and (not out or out[-1][1] is not None):
            out.append([max(0.0, t), None])
        elif e.type == "call.resumed" and out and out[-1][1] is None:
            out[-1][1] = max(0.0, t)
    return out


def _compute_metrics(contact: Contact, files: dict, started_at: float | None) -> dict | None:
    """``media.call_metrics`` over the recorded agent and customer legs (None when a leg is missing)."""
    from media.call_metrics import compute_call_metrics_from_files

    legs = files.get("legs", {})
    if "agent" not in legs or "customer" not in legs:
        return None
    root = recordings_dir(current_app)
    try:
        return compute_call_metrics_from_files(
            root / legs["agent"]["path"],
            root / legs["customer"]["path"],
            hold_intervals(contact, started_at),
            agent_offset=legs["agent"].get("offset", 0.0),
            customer_offset=legs["customer"].get("offset", 0.0),
        )
    except Exception as e:  # a damaged file must not stop the hang-up; say so in the recording
        current_app.logger.exception("call metrics for contact %s failed", contact.id)
        return {"error": f"metrics could not be computed: {e}"}


def _record_metrics(contact: Contact, files: dict, started_at: float | None) -> None:
    metrics = _compute_metrics(contact, files, started_at)
    if metrics is not None:
        _record(contact, "call.metrics", "system", data=metrics)


def do_place_callback_call(agent: User, callback_id: int) -> Contact:
    """Place an outbound call for a scheduled callback: a voice contact reserved for this agent (the ACD
    gives it to them when their voice seat is free), with the customer of the callback. When the callback
    was promised on a simulated call, the same simulated customer answers; otherwise a person answers from
    the customer page."""
    cb = db.session.get(Callback, callback_id)
    if cb is None:
        raise ActionError(f"no callback {callback_id}")
    if cb.assignee_id != agent.id:
        raise ActionError(f"callback {cb.id} is not yours")
    if cb.status not in ("scheduled", "due"):
        raise ActionError(f"callback {cb.id} is {cb.status}")
    origin = db.session.get(Contact, cb.contact_id) if cb.contact_id else None
    name = (origin.customer_name if origin else None) or (cb.customer.name if cb.customer else None)
    simulated = bool(origin and origin.simulated and origin.channel == "voice" and origin.scenario_id)
    with atomic():  # the call and its call.outbound are recorded together; the ACD offers it after the commit
        contact = do_create_call(
            "voice.outbound",
            lang=origin.lang if origin else current_app.config["BABEL_DEFAULT_LOCALE"],
            scenario_id=origin.scenario_id if simulated else None,
            simulated=simulated,
            customer_id=cb.customer_id,
            customer_name=name,
            subject=cb.note,
            reserved_agent_id=agent.id,
        )
        _record(
            contact,
            "call.outbound",
            "agent",
            actor_id=agent.id,
            data={"callback_id": cb.id, "origin_contact_id": origin.id if origin else None, "due_at": cb.due_at},
        )
    return contact


# -- the customer side (a person calling from the customer page) --------------------------------------------


def do_customer_dial(*, name: str, queue: str = "voice.general", lang: str = "zh_CN") -> Contact:
    """A person calls in from the customer page: a voice contact in ``queue``, or a video call when ``queue``
    is a video queue (the caller's camera is relayed to the trainee and back); the returned contact's
    ``customer_token`` is the caller's key."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ActionError("give a name of 1 to 80 characters")
    if lang not in ("zh_CN", "en"):
        lang = "zh_CN"
    if str(queue or "").startswith("video."):
        from channels.video.actions import do_create_video_call

        return do_create_video_call(queue, lang=lang, customer_name=name)
    return do_create_call(queue, lang=lang, customer_name=name)


def do_customer_offer(contact: Contact, sdp) -> dict:
    """The caller's browser sends its SDP offer (with its camera on a video call); the server answers. The
    caller waits in the queue (hearing silence) until an agent answers."""
    if contact.channel not in CALL_CHANNELS:
        raise ActionError(f"contact {contact.id} is not a call")
    if contact.simulated:
        raise ActionError("this call's customer is simulated")
    if contact.status not in ("queued", "active") or call_state(contact)["ended"]:
        raise ActionError("this call has ended")
    _media("open_call", contact, contact_id=contact.id, customer={"kind": "person"})
    reply = _media("video_offer" if contact.channel == "video" else "offer", contact, leg="customer", sdp=sdp)
    return {"sdp": reply["sdp"], "type": "answer"}


def do_customer_hang_up(contact: Contact, *, reason: str = "customer_hung_up") -> Contact:
    """The caller hangs up: an answered call ends (wrap-up follows); a waiting one is abandoned (the queue's
    figures count it with its wait). ``reason`` says why (the simulated caller in a queue: out of patience)."""
    if contact.status == "active":
        return do_hang_up_call(contact, "customer", reason=reason)
    if contact.status == "queued":
        # One action (joining the caller's, when it runs one: a simulated caller's is fenced by its lease); the
        # media is let go after the commit, never with the transaction open while the media worker answers.
        with atomic():
            do_abandon_contact(contact, reason=reason)
            notify_customer(contact, "call.ended", {"reason": reason})
            on_commit(_hang_up_media, call_id(contact))
    return contact


def _hang_up_media(call: str) -> None:
    media_client().request("hangup", call_id=call)
