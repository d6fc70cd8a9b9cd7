"""Callbacks (回访): an agent promises to call a customer back at a time; the periodic ticker turns the
promise "due" and tells the agent's desk."""

from __future__ import annotations

import math

from sqlalchemy import select, update

from accounts.models import User
from accounts.scope import supervises
from clock import clock
from contacts.events import append_event, publish_contact_event, send_event
from contacts.models import Contact
from extensions import db

from .models import Callback, Ticket
from .policy import (
    NOTE_MAX,
    SUPERVISOR_ROLES,
    AccessDenied,
    TicketError,
    actor_for,
    clean_text,
    get_customer,
    require_access,
    require_desk_role,
)
from .serialize import callback_dict

MAX_AHEAD_SECONDS = 90 * 24 * 3600
OPEN_CALLBACK_STATUSES = ("scheduled", "due")


def do_schedule_callback(
    agent: User,
    ticket: Ticket | None,
    customer_id: int | None,
    due_at: float,
    note: str | None,
    *,
    contact: Contact | None = None,
) -> Callback:
    """Schedule a callback for ``agent`` at ``due_at`` (sandbox-clock seconds since the epoch), recorded as
    ``callback.scheduled`` on the contact it was promised on (``contact``, else the ticket's contact).

    The customer defaults to the ticket's, then the contact's."""
    require_desk_role(agent)
    if contact is None and ticket is not None and ticket.contact_id is not None:
        contact = db.session.get(Contact, ticket.contact_id)
    if contact is not None:
        require_access(agent, contact)
    if customer_id in (None, ""):
        customer_id = (ticket.customer_id if ticket is not None else None) or (
            contact.customer_id if contact is not None else None
        )
    if customer_id is not None:
        customer_id = get_customer(customer_id).id
    if customer_id is None and ticket is None:
        raise TicketError("a callback needs a customer or a ticket", "customer_id")
    if isinstance(due_at, bool) or not isinstance(due_at, int | float) or not math.isfinite(due_at):
        raise TicketError("due_at must be a time", "due_at")
    now = clock.timestamp()
    if due_at <= now:
        raise TicketError("due_at must be in the future", "due_at")
    if due_at - now > MAX_AHEAD_SECONDS:
        raise TicketError("due_at is more than 90 days ahead", "due_at")
    note = clean_text(note, "note", max_len=NOTE_MAX)

    cb = Callback(
        ticket_id=ticket.id if ticket is not None else None,
        customer_id=customer_id,
        assignee_id=agent.id,
        due_at=float(due_at),
        status="scheduled",
        note=note,
        contact_id=contact.id if contact is not None else None,
        created_at=now,
    )
    db.session.add(cb)
    db.session.flush()
    if contact is not None:
        ev, _ = append_event(
            contact,
            "callback.scheduled",
            actor_for(agent),
            actor_id=agent.id,
            text=note,
            data={
                "callback_id": cb.id,
                "due_at": cb.due_at,
                "customer_id": customer_id,
                "ticket_number": ticket.number if ticket is not None else None,
            },
        )
        publish_contact_event(ev)
    else:
        db.session.commit()
    send_event({"type": "callback_scheduled", "callback": callback_dict(cb)}, [("/desk", f"agent:{agent.id}")])
    return cb


def do_complete_callback(agent: User, callback: Callback, outcome: str, *, contact: Contact | None = None) -> Callback:
    """Close a callback with its outcome (``callback.completed``, recorded on ``contact`` when the call back
    is itself a contact, else on the contact the callback was promised on)."""
    require_desk_role(agent)
    if callback.assignee_id != agent.id and not (
        agent.role in SUPERVISOR_ROLES and supervises(agent, callback.assignee_id)
    ):
        raise AccessDenied(f"callback {callback.id} is not yours")
    if contact is not None:
        require_access(agent, contact)
    outcome = clean_text(outcome, "outcome", max_len=NOTE_MAX, required=True)
    now = clock.timestamp()
    # Conditional update: of two agents (or two clicks) completing at once, exactly one wins.
    done = db.session.execute(
        update(Callback)
        .where(Callback.id == callback.id, Callback.status.in_(OPEN_CALLBACK_STATUSES))
        .values(status="done", outcome=outcome, completed_at=now)
    ).rowcount
    if not done:
        db.session.rollback()
        raise TicketError(f"callback {callback.id} is already {callback.status}", "status")
    target = contact or (db.session.get(Contact, callback.contact_id) if callback.contact_id else None)
    if target is not None:
        ev, _ = append_event(
            target,
            "callback.completed",
            actor_for(agent),
            actor_id=agent.id,
            text=outcome,
            data={
                "callback_id": callback.id,
                "ticket_number": callback.ticket.number if callback.ticket else None,
                "customer_id": callback.customer_id,
            },
        )
        publish_contact_event(ev)
    else:
        db.session.commit()
    db.session.refresh(callback)
    return callback


def due_callbacks(now: float | None = None) -> list[Callback]:
    """Callbacks not yet done whose time has come, oldest first."""
    now = clock.timestamp() if now is None else now
    return list(
        db.session.scalars(
            select(Callback)
            .where(Callback.status.in_(OPEN_CALLBACK_STATUSES), Callback.due_at <= now)
            .order_by(Callback.due_at, Callback.id)
        )
    )


def callbacks_for_agent(agent_id: int, *, open_only: bool = True) -> list[Callback]:
    stmt = select(Callback).where(Callback.assignee_id == agent_id)
    if open_only:
        stmt = stmt.where(Callback.status.in_(OPEN_CALLBACK_STATUSES))
    return list(db.session.scalars(stmt.order_by(Callback.due_at, Callback.id)))


def tick_callbacks(now: float | None = None) -> list[dict]:
    """Periodic: turn scheduled callbacks whose time has passed "due" and tell each assignee's desk
    (``callback_due`` to ``("/desk", "agent:<id>")``). Safe to run from several processes: each callback
    is turned (and announced) once. Returns the callbacks turned due."""
    now = clock.timestamp() if now is None else now
    ids = list(db.session.scalars(select(Callback.id).where(Callback.status == "scheduled", Callback.due_at <= now)))
    turned = []
    for cb_id in ids:
        res = db.session.execute(
            update(Callback).where(Callback.id == cb_id, Callback.status == "scheduled").values(status="due")
        )
        if res.rowcount:
            turned.append(cb_id)
    db.session.commit()
    announced = []
    for cb_id in turned:
        cb = db.session.get(Callback, cb_id)
        payload = callback_dict(cb)
        announced.append(payload)
        if cb.assignee_id is not None:
            send_event({"type": "callback_due", "callback": payload}, [("/desk", f"agent:{cb.assignee_id}")])
    return announced
