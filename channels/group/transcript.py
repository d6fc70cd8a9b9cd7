"""Reading a room's recorded events for its agent's page and for a customer's page (catch-up after a reload)."""

from __future__ import annotations

from sqlalchemy import select

from contacts.events import AGENT_HIDDEN
from contacts.models import Contact, ContactEvent
from extensions import db

from .recording import CUSTOMER_FIELDS, customer_view_of


def staff_events_after(room: Contact, after_seq: int) -> list[dict]:
    """Events with seq > after_seq in order, without the simulated customers' minds."""
    q = select(ContactEvent).where(
        ContactEvent.contact_id == room.id, ContactEvent.seq > after_seq, ContactEvent.type.not_in(AGENT_HIDDEN)
    )
    return [e.as_dict() for e in db.session.scalars(q.order_by(ContactEvent.seq))]


def customer_events_after(room: Contact, after_seq: int) -> list[dict]:
    """What a customer in the room sees, after ``after_seq``: posts, announcements, who joined and left."""
    q = select(ContactEvent).where(
        ContactEvent.contact_id == room.id,
        ContactEvent.seq > after_seq,
        ContactEvent.type.in_(tuple(CUSTOMER_FIELDS)),
    )
    return [customer_view_of(e.as_dict()) for e in db.session.scalars(q.order_by(ContactEvent.seq))]
