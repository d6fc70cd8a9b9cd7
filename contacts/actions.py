"""do_* actions on contacts. Each appends one event (committed), then publishes it.

Routing, tickets and the knowledge base have their own actions; they record on the contact through
``contacts.events.append_event`` in the same way.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, select

from accounts.models import User
from clock import clock
from extensions import db

from .events import append_event, event_connection, publish_contact_event, send_event, session_in_transaction
from .models import Contact


class ActionError(ValueError):
    """A refused action; the message is shown to the user as is."""


def _floor_summary(contact: Contact) -> None:
    """Tell the floor (leads' console, queue figures) that a contact changed state."""
    send_event({"type": "contact_state", "contact": contact.summary()}, [("/floor", "floor")])


def _report_to_senders(contact: Contact, result: dict) -> None:
    """Tell every agent who transferred this contact what became of it (taken by whom, closed how)."""
    from .models import ContactEvent

    senders = {
        e.data.get("from_agent_id")
        for e in db.session.scalars(
            select(ContactEvent).where(ContactEvent.contact_id == contact.id, ContactEvent.type == "transfer")
        )
    }
    senders.discard(None)
    senders.discard(contact.agent_id)
    payload = {"type": "transfer_result", "contact_id": contact.id, "customer_name": contact.customer_name, **result}
    send_event(payload, [("/desk", f"agent:{sid}") for sid in sorted(senders)])


def get_contact(contact_id) -> Contact:
    """The contact with this id, or ActionError (unknown ids are bad input, not a crash)."""
    try:
        cid = int(contact_id)
    except (TypeError, ValueError) as e:
        raise ActionError(f"contact id must be a number, not {contact_id!r}") from e
    contact = db.session.get(Contact, cid)
    if contact is None:
        raise ActionError(f"no contact {cid}")
    return contact


@dataclass(frozen=True)
class ContactHead:
    """The few columns of a contact that the message path reads (id, status, agent, customer token), from one
    Core query: loading the whole ORM Contact was the largest cost of a chat message. ``do_post_message`` and
    ``do_set_typing`` take one in place of a Contact."""

    id: int
    status: str
    agent_id: int | None
    customer_token: str | None


_contacts = Contact.__table__
_HEAD = select(_contacts.c.id, _contacts.c.status, _contacts.c.agent_id, _contacts.c.customer_token).where(
    _contacts.c.id == bindparam("contact_id")
)


def get_contact_head(contact_id) -> ContactHead:
    """The contact's head (see ContactHead), or ActionError for a malformed or unknown id, as get_contact."""
    try:
        cid = int(contact_id)
    except (TypeError, ValueError) as e:
        raise ActionError(f"contact id must be a number, not {contact_id!r}") from e
    if session_in_transaction():  # the caller's session may hold changes of its own: read through it
        row = db.session.connection().execute(_HEAD, {"contact_id": cid}).first()
    else:  # a fresh handler: the event connection is cheaper than beginning the session
        conn = event_connection()
        try:
            row = conn.execute(_HEAD, {"contact_id": cid}).first()
        finally:
            conn.rollback()  # end the read: the event's write begins a transaction of its own
    if row is None:
        raise ActionError(f"no contact {cid}")
    return ContactHead(*row)


def do_create_contact(
    channel: str,
    queue: str,
    *,
    lang: str = "zh_CN",
    customer_id: int | None = None,
    customer_name: str | None = None,
    subject: str | None = None,
    priority: int = 0,
    required_level: str | None = None,
    scenario_id: str | None = None,
    exercise_id: int | None = None,
    simulated: bool = False,
    reserved_agent_id: int | None = None,
) -> Contact:
    """Open a new contact, record ``contact.created`` and put it in its queue for the ACD.

    The contact gets a fresh ``customer_token``: the customer side (a person's browser or the simulator)
    proves with it that it is this contact's customer.
    """
    contact = Contact(
        channel=channel,
        queue=queue,
        lang=lang,
        customer_id=customer_id,
        customer_name=customer_name,
        subject=subject,
        priority=priority,
        required_level=required_level,
        scenario_id=scenario_id,
        exercise_id=exercise_id,
        simulated=simulated,
        reserved_agent_id=reserved_agent_id,
        customer_token=secrets.token_urlsafe(24),
        status="queued",
    )
    db.session.add(contact)
    db.session.flush()
    ev, _ = append_event(
        contact,
        "contact.created",
        "system",
        data={
            "channel": channel,
            "queue": queue,
            "priority": priority,
            "required_level": required_level,
            "scenario_id": scenario_id,
            "simulated": simulated,
            "reserved_agent_id": reserved_agent_id,
        },
    )
    publish_contact_event(ev)
    _floor_summary(contact)
    from routing.actions import do_enqueue_contact

    do_enqueue_contact(contact)
    return contact


def do_post_message(
    contact: Contact | ContactHead,
    actor: str,
    text: str,
    *,
    actor_id: int | None = None,
    client_id: str | None = None,
    skip_sid: str | None = None,
) -> tuple[dict, bool]:
    """Record a chat message from ``actor`` ("agent", "customer" or "lead") and deliver it (to every socket of
    the contact's rooms but ``skip_sid``, the writer's own, which gets the event in its ack).

    Over-long or empty messages are refused with a clear error. A repeated ``client_id`` (a resend after a
    dropped socket) returns the recorded event without recording or delivering it twice.
    Returns (event dict, created).
    """
    if not isinstance(text, str) or not text.strip():
        raise ActionError("empty message")
    limit = current_app.config["MAX_MESSAGE_CHARS"]
    if len(text) > limit:
        raise ActionError(f"message is {len(text)} characters; the limit is {limit}")
    if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 64):
        raise ActionError("client_id must be a string of at most 64 characters")
    if contact.status not in ("queued", "active"):
        raise ActionError(f"contact {contact.id} is {contact.status}; it takes no more messages")
    ev, created = append_event(contact, "message", actor, actor_id=actor_id, text=text, client_id=client_id)
    if created:  # the published payload carries the event dict: build it once
        return publish_contact_event(ev, skip_sid=skip_sid)["event"], True
    return ev.as_dict(), False


def do_set_typing(
    contact: Contact | ContactHead,
    actor: str,
    typing: bool,
    *,
    actor_id: int | None = None,
    skip_sid: str | None = None,
) -> dict | None:
    """Record a typing indicator change (start/stop), so the recording shows composing time. Delivered to the
    contact's rooms but ``skip_sid``; returns the event (None when the contact is not active)."""
    if contact.status != "active":
        return None
    ev, _ = append_event(contact, "typing", actor, actor_id=actor_id, data={"typing": bool(typing)})
    return publish_contact_event(ev, skip_sid=skip_sid)["event"]


def do_assign_contact(contact_id: int, agent_id: int) -> Contact:
    """The ACD chose ``agent_id`` for this contact: make it active on the agent's desk."""
    contact = db.session.get(Contact, contact_id)
    agent = db.session.get(User, agent_id)
    now = clock.timestamp()
    wait = now - contact.created_at
    transferred = contact.agent_id is not None and contact.agent_id != agent_id
    contact.agent_id = agent_id
    contact.status = "active"
    if contact.assigned_at is None:
        contact.assigned_at = now
    ev, _ = append_event(
        contact,
        "assignment",
        "system",
        data={
            "agent_id": agent_id,
            "agent_name": agent.display_name,
            "wait_seconds": round(wait, 3),
            "after_transfer": transferred,
        },
    )
    publish_contact_event(ev, extra_rooms=[("/desk", f"agent:{agent_id}")])
    _floor_summary(contact)
    if transferred:
        _report_to_senders(contact, {"status": "taken", "agent_name": agent.display_name})
    return contact


def do_transfer_contact(contact: Contact, agent: User, *, target_kind: str, target: str, note: str) -> Contact:
    """Transfer an active contact to a queue, a level or a named agent, with a note for the receiver.

    The contact goes back to routing with the target as a constraint; the receiver sees the note, and the
    sender is told who took it (the ``assignment`` event carries ``after_transfer``).
    """
    if contact.agent_id != agent.id:
        raise ActionError("only the agent holding a contact can transfer it")
    if contact.status != "active":
        raise ActionError(f"contact {contact.id} is {contact.status}; only active contacts can be transferred")
    if target_kind not in ("queue", "level", "agent"):
        raise ActionError("transfer target must be a queue, a level or an agent")
    note = (note or "").strip()
    if not note:
        raise ActionError("a transfer needs a note for the receiver")
    if len(note) > 1000:
        raise ActionError("transfer note is over 1000 characters")
    from routing.actions import do_requeue_for_transfer

    target_data = do_requeue_for_transfer(contact, agent, target_kind, target)
    ev, _ = append_event(
        contact,
        "transfer",
        "agent",
        actor_id=agent.id,
        text=note,
        data={"from_agent_id": agent.id, "target_kind": target_kind, "target": target, **target_data},
    )
    publish_contact_event(ev, extra_rooms=[("/desk", f"agent:{agent.id}")])
    _floor_summary(contact)
    from routing.actions import do_dispatch

    do_dispatch()
    return contact


def do_end_contact(contact: Contact, actor: str, *, actor_id: int | None = None, reason: str = "ended") -> Contact:
    """The conversation is over (agent ended it, customer left satisfied or gave up). The agent goes on to
    wrap-up; the customer is invited to a CSAT survey."""
    if contact.status in ("closed", "abandoned", "wrap_up"):
        return contact
    was_queued = contact.status == "queued"
    contact.ended_at = clock.timestamp()
    if was_queued:
        return do_abandon_contact(contact, reason=reason)
    contact.status = "wrap_up"
    ev, _ = append_event(contact, "contact.ended", actor, actor_id=actor_id, data={"reason": reason})
    publish_contact_event(ev)
    from tickets.actions import do_invite_csat

    do_invite_csat(contact)
    _floor_summary(contact)
    return contact


def do_abandon_contact(contact: Contact, *, reason: str = "abandoned") -> Contact:
    """A waiting customer left before an agent answered (counts against the queue's abandon rate).
    ``contact.abandoned`` records the reason and, when the contact was still in a queue, which queue and how
    long the customer waited there (``queue``, ``wait_seconds``)."""
    from routing.actions import do_remove_from_queue

    removed = do_remove_from_queue(contact)
    contact.status = "abandoned"
    contact.ended_at = contact.ended_at or clock.timestamp()
    contact.closed_at = contact.ended_at
    data = {"reason": reason}
    if removed is not None:
        data.update(queue=removed[0], wait_seconds=round(removed[1], 3))
    ev, _ = append_event(contact, "contact.abandoned", "customer", data=data)
    publish_contact_event(ev)
    _floor_summary(contact)
    return contact


def do_wrap_up_contact(contact: Contact, agent: User, code: str, notes: str = "") -> Contact:
    """Close a contact with a wrap-up code; the agent's seat is freed and after-call work (ACW) starts."""
    if contact.agent_id != agent.id:
        raise ActionError("only the agent holding a contact can wrap it up")
    if contact.status == "closed":
        raise ActionError(f"contact {contact.id} is already closed")
    if contact.status == "active":
        do_end_contact(contact, "agent", actor_id=agent.id, reason="agent_closed")
    code = (code or "").strip()
    if not code or len(code) > 40:
        raise ActionError("choose a wrap-up code")
    if len(notes or "") > 2000:
        raise ActionError("wrap-up notes are over 2000 characters")
    contact.status = "closed"
    contact.wrap_up_code = code
    contact.closed_at = clock.timestamp()
    ev, _ = append_event(contact, "wrap_up", "agent", actor_id=agent.id, text=notes or None, data={"code": code})
    publish_contact_event(ev)
    _floor_summary(contact)
    _report_to_senders(contact, {"status": "closed", "agent_name": agent.display_name, "code": code})
    from routing.actions import do_release_seat

    do_release_seat(agent, contact)
    return contact


def do_record_desk_event(contact: Contact, agent: User, type: str, data: dict, text: str | None = None) -> dict:
    """Record something the agent did on the desk for this contact (CRM lookup, identity verified...)."""
    if contact.agent_id != agent.id:
        raise ActionError("this contact is not on your desk")
    ev, _ = append_event(contact, type, "agent", actor_id=agent.id, text=text, data=data)
    publish_contact_event(ev)
    return ev.as_dict()


def open_contacts_for_agent(agent_id: int) -> list[Contact]:
    return list(
        db.session.scalars(
            select(Contact)
            # A group room has its own page (channels/group): it is not a conversation on the desk.
            .where(Contact.agent_id == agent_id, Contact.status.in_(("active", "wrap_up")), Contact.channel != "group")
            .order_by(Contact.assigned_at)
        )
    )
