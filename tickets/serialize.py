"""Tickets and callbacks as JSON for the desk and the pages."""

from __future__ import annotations

from datetime import UTC, datetime

from clock import clock

from .models import Callback, Ticket
from .policy import jsonable

OPEN_STATUSES = ("new", "open", "pending", "escalated")


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts is not None else None


def sla_breached(ticket: Ticket, now: float | None = None) -> bool:
    """An open ticket past its SLA due time."""
    if ticket.sla_due_at is None or ticket.status not in OPEN_STATUSES:
        return False
    return (now if now is not None else clock.timestamp()) > ticket.sla_due_at


def ticket_dict(ticket: Ticket, *, full: bool = False) -> dict:
    """A ticket for the desk; ``full`` adds notes, history and every linked contact."""
    customer = ticket.customer
    d = {
        "id": ticket.id,
        "number": ticket.number,
        "subject": ticket.subject,
        "description": ticket.description,
        "category": ticket.category,
        "priority": ticket.priority,
        "status": ticket.status,
        "risk_level": ticket.risk_level,
        "escalation_target": ticket.escalation_target,
        "compensation_amount": jsonable(ticket.compensation_amount),
        "assignee_id": ticket.assignee_id,
        "customer_id": ticket.customer_id,
        "customer_ref": customer.ref if customer else None,
        "customer_name": customer.name if customer else None,
        "contact_id": ticket.contact_id,
        "contact_ids": sorted(link.contact_id for link in ticket.links),
        "sla_due_at": ticket.sla_due_at,
        "sla_due_iso": iso(ticket.sla_due_at),
        "sla_breached": sla_breached(ticket),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    }
    if full:
        d["notes"] = [
            {"id": n.id, "author_id": n.author_id, "body": n.body, "created_at": n.created_at} for n in ticket.notes
        ]
        d["history"] = [
            {"field": c.field, "old": c.old, "new": c.new, "actor_id": c.actor_id, "created_at": c.created_at}
            for c in ticket.history
        ]
    return d


def callback_dict(cb: Callback) -> dict:
    return {
        "id": cb.id,
        "ticket_id": cb.ticket_id,
        "ticket_number": cb.ticket.number if cb.ticket else None,
        "customer_id": cb.customer_id,
        "customer_name": cb.customer.name if cb.customer else None,
        "assignee_id": cb.assignee_id,
        "contact_id": cb.contact_id,
        "due_at": cb.due_at,
        "due_iso": iso(cb.due_at),
        "status": cb.status,
        "note": cb.note,
        "outcome": cb.outcome,
        "created_at": cb.created_at,
        "completed_at": cb.completed_at,
    }
