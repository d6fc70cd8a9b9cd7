"""do_* actions on tickets. Each records a ContactEvent on the contact the agent is working from (and a
TicketChange row per changed field), commits, then publishes the event.

CRM, callback and CSAT actions live in their own modules and are re-exported here, so callers import every
ticket-side action from ``tickets.actions``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert as generic_insert
from sqlalchemy import or_, select, update

from accounts.models import User
from clock import clock
from contacts.events import append_event, publish_contact_event, send_event
from contacts.models import Contact
from extensions import db
from scenarios.registry import get_pack

from .callbacks import do_complete_callback, do_schedule_callback, due_callbacks, tick_callbacks
from .crm import (
    customer_profile,
    do_lookup_customers,
    do_open_customer,
    do_verify_identity,
    is_verified,
    search_customers,
)
from .csat import do_invite_csat, do_record_csat
from .models import (
    RISK_LEVELS,
    TICKET_PRIORITIES,
    TICKET_STATUSES,
    Ticket,
    TicketChange,
    TicketContactLink,
    TicketNote,
    TicketSequence,
)
from .policy import (
    DESCRIPTION_MAX,
    NOTE_MAX,
    REASON_MAX,
    SUBJECT_MAX,
    TARGET_MAX,
    NotFound,
    TicketError,
    actor_for,
    clean_amount,
    clean_category,
    clean_choice,
    clean_text,
    clean_user_id,
    compensation_limit,
    get_customer,
    jsonable,
    require_access,
    sla_hours,
)

__all__ = [
    "customer_profile",
    "do_add_ticket_note",
    "do_complete_callback",
    "do_create_ticket",
    "do_invite_csat",
    "do_link_contact",
    "do_lookup_customers",
    "do_open_customer",
    "do_record_csat",
    "do_schedule_callback",
    "do_update_ticket",
    "do_verify_identity",
    "due_callbacks",
    "get_customer",
    "get_ticket",
    "is_verified",
    "search_customers",
    "tick_callbacks",
    "tickets_for_contact",
    "tickets_for_customer",
]

# The fields an update may change, each with its cleaner.
UPDATABLE = {
    "category": clean_category,
    "priority": lambda v: clean_choice(v, "priority", TICKET_PRIORITIES),
    "status": lambda v: clean_choice(v, "status", TICKET_STATUSES),
    "risk_level": lambda v: clean_choice(v, "risk_level", RISK_LEVELS),
    "escalation_target": lambda v: clean_text(v, "escalation_target", max_len=TARGET_MAX),
    "compensation_amount": clean_amount,
    "assignee_id": clean_user_id,
    "subject": lambda v: clean_text(v, "subject", max_len=SUBJECT_MAX, required=True),
    "description": lambda v: clean_text(v, "description", max_len=DESCRIPTION_MAX),
}


def get_ticket(number) -> Ticket:
    """The ticket with this number, or NotFound."""
    if not isinstance(number, str) or not number.strip() or len(number) > 20:
        raise NotFound(f"no ticket {number!r}", "number")
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number.strip().upper()))
    if ticket is None:
        raise NotFound(f"no ticket {number}", "number")
    return ticket


def tickets_for_contact(contact_id: int) -> list[Ticket]:
    linked = select(TicketContactLink.ticket_id).where(TicketContactLink.contact_id == contact_id)
    return list(
        db.session.scalars(
            select(Ticket).where(or_(Ticket.contact_id == contact_id, Ticket.id.in_(linked))).order_by(Ticket.id)
        )
    )


def tickets_for_customer(customer_id: int) -> list[Ticket]:
    return list(db.session.scalars(select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id)))


def _next_number(now: float) -> str:
    """T + UTC date + a per-day sequence. The INSERT-if-missing and the UPDATE ... RETURNING both take the
    row's write lock, so concurrent creators (threads or processes) never get the same number."""
    day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
    dialect = db.session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        insert = None
    if insert is not None:
        db.session.execute(insert(TicketSequence).values(day=day, last=0).on_conflict_do_nothing())
    elif db.session.get(TicketSequence, day) is None:
        db.session.execute(generic_insert(TicketSequence).values(day=day, last=0))
    seq = db.session.execute(
        update(TicketSequence)
        .where(TicketSequence.day == day)
        .values(last=TicketSequence.last + 1)
        .returning(TicketSequence.last)
    ).scalar_one()
    return f"T{day}{seq:04d}"


def _ensure_link(ticket: Ticket, contact: Contact) -> bool:
    """Link the contact to the ticket (in the current transaction); True when the link is new."""
    exists = db.session.scalar(
        select(TicketContactLink.id).where(
            TicketContactLink.ticket_id == ticket.id, TicketContactLink.contact_id == contact.id
        )
    )
    if exists is not None:
        return False
    db.session.add(TicketContactLink(ticket_id=ticket.id, contact_id=contact.id))
    return True


def _history(ticket: Ticket, actor_id: int | None, field: str, old, new, now: float) -> None:
    db.session.add(
        TicketChange(
            ticket_id=ticket.id,
            actor_id=actor_id,
            field=field,
            old=None if old is None else str(old),
            new=None if new is None else str(new),
            created_at=now,
        )
    )


def do_create_ticket(
    agent: User,
    contact: Contact,
    *,
    subject: str,
    category: str,
    priority: str = "normal",
    risk_level: str = "none",
    description: str = "",
    customer_id: int | None = None,
) -> Ticket:
    """Open a ticket from a contact: a unique number, an SLA due time for its priority on the sandbox clock,
    the contact linked, the creating agent as assignee, and ``ticket.created`` on the contact.

    ``customer_id`` defaults to the contact's customer."""
    require_access(agent, contact)
    subject = clean_text(subject, "subject", max_len=SUBJECT_MAX, required=True)
    category = clean_category(category)
    priority = clean_choice(priority, "priority", TICKET_PRIORITIES)
    risk_level = clean_choice(risk_level, "risk_level", RISK_LEVELS)
    description = clean_text(description, "description", max_len=DESCRIPTION_MAX)
    customer_id = contact.customer_id if customer_id in (None, "") else get_customer(customer_id).id

    now = clock.timestamp()
    ticket = Ticket(
        number=_next_number(now),
        customer_id=customer_id,
        contact_id=contact.id,
        subject=subject,
        description=description,
        category=category,
        priority=priority,
        status="new",
        risk_level=risk_level,
        assignee_id=agent.id,
        sla_due_at=now + sla_hours(priority) * 3600,
        created_at=now,
        updated_at=now,
    )
    db.session.add(ticket)
    db.session.flush()
    db.session.add(TicketContactLink(ticket_id=ticket.id, contact_id=contact.id))
    for field in ("subject", "category", "priority", "risk_level", "status", "customer_id", "assignee_id"):
        value = getattr(ticket, field)
        if value is not None:
            _history(ticket, agent.id, field, None, value, now)
    ev, _ = append_event(
        contact,
        "ticket.created",
        actor_for(agent),
        actor_id=agent.id,
        text=subject,
        data={
            "ticket_id": ticket.id,
            "number": ticket.number,
            "category": category,
            "priority": priority,
            "risk_level": risk_level,
            "customer_id": customer_id,
            "sla_due_at": ticket.sla_due_at,
        },
    )
    publish_contact_event(ev)
    return ticket


def _check_escalation_target(code: str, lang: str) -> None:
    """An escalation goes to one of the pack's escalation targets, by code (graded by code, never free text)."""
    pack = get_pack(lang)
    known = [t.code for t in pack.escalation_targets] if pack is not None else []
    if known and code not in known:
        raise TicketError(f"unknown escalation target {code!r}; choose one of {', '.join(known)}", "escalation_target")


def do_update_ticket(agent: User, ticket: Ticket, contact: Contact, *, reason: str | None = None, **changes) -> Ticket:
    """Change ticket fields from a contact; records ``ticket.updated`` with ``{field: [old, new]}``, and
    ``ticket.escalated`` when the update escalates (status "escalated" or a new escalation target).

    Compensation over the agent's discretionary limit is recorded, not refused: the event carries
    ``over_limit`` and ``limit`` for grading. Fields that do not change are not recorded; an update that
    changes nothing records nothing."""
    require_access(agent, contact)
    if not changes:
        raise TicketError("nothing to change")
    for field in changes:
        if field not in UPDATABLE:
            raise TicketError(f"{field} cannot be changed on a ticket", field)
    cleaned = {field: UPDATABLE[field](value) for field, value in changes.items()}
    if cleaned.get("escalation_target") is not None:
        _check_escalation_target(cleaned["escalation_target"], contact.lang)
    reason = clean_text(reason, "reason", max_len=REASON_MAX)

    now = clock.timestamp()
    diffs: dict[str, list] = {}
    for field, new in cleaned.items():
        old = getattr(ticket, field)
        if jsonable(old) != jsonable(new):
            diffs[field] = [jsonable(old), jsonable(new)]
            setattr(ticket, field, new)
    if not diffs:
        return ticket
    if "priority" in diffs:  # the SLA follows the priority, counted from when the ticket was opened
        old_due = ticket.sla_due_at
        ticket.sla_due_at = ticket.created_at + sla_hours(ticket.priority) * 3600
        diffs["sla_due_at"] = [old_due, ticket.sla_due_at]
    ticket.updated_at = now
    for field, (old, new) in diffs.items():
        _history(ticket, agent.id, field, old, new, now)
    linked = _ensure_link(ticket, contact)

    data: dict = {"ticket_id": ticket.id, "number": ticket.number, "changes": diffs}
    if linked:
        data["linked"] = True
    if "compensation_amount" in diffs and ticket.compensation_amount is not None:
        limit = compensation_limit(agent)
        data["over_limit"] = limit is not None and ticket.compensation_amount > limit
        data["limit"] = jsonable(limit)
    escalated = ("status" in diffs and ticket.status == "escalated") or (
        "escalation_target" in diffs and ticket.escalation_target is not None
    )
    actor = actor_for(agent)
    updated, _ = append_event(
        contact, "ticket.updated", actor, actor_id=agent.id, text=reason, data=data, commit=not escalated
    )
    events = [updated]
    if escalated:
        ev, _ = append_event(
            contact,
            "ticket.escalated",
            actor,
            actor_id=agent.id,
            text=reason,
            data={
                "ticket_id": ticket.id,
                "number": ticket.number,
                "target": ticket.escalation_target,
                "reason": reason,
                "risk_level": ticket.risk_level,
            },
        )
        events.append(ev)
    for ev in events:
        publish_contact_event(ev)
    if "assignee_id" in diffs and ticket.assignee_id is not None:
        send_event(
            {"type": "ticket_assigned", "number": ticket.number, "ticket_id": ticket.id, "by": agent.id},
            [("/desk", f"agent:{ticket.assignee_id}")],
        )
    return ticket


def do_add_ticket_note(agent: User, ticket: Ticket, contact: Contact, body: str) -> TicketNote:
    """Add an internal note to a ticket from a contact (``ticket.note``; the customer never sees it)."""
    require_access(agent, contact)
    body = clean_text(body, "body", max_len=NOTE_MAX, required=True)
    now = clock.timestamp()
    note = TicketNote(ticket_id=ticket.id, author_id=agent.id, body=body, created_at=now)
    db.session.add(note)
    ticket.updated_at = now
    linked = _ensure_link(ticket, contact)
    db.session.flush()
    data = {"ticket_id": ticket.id, "number": ticket.number, "note_id": note.id}
    if linked:
        data["linked"] = True
    ev, _ = append_event(contact, "ticket.note", actor_for(agent), actor_id=agent.id, text=body, data=data)
    publish_contact_event(ev)
    return note


def do_link_contact(ticket: Ticket, contact: Contact) -> bool:
    """Gather a further contact (a follow-up chat, a later email) on a ticket; records ``ticket.linked``.
    Returns False, recording nothing, when the contact is already linked."""
    if not _ensure_link(ticket, contact):
        return False
    ev, _ = append_event(contact, "ticket.linked", "system", data={"ticket_id": ticket.id, "number": ticket.number})
    publish_contact_event(ev)
    return True
