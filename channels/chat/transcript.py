"""Reading a contact's recorded events for the desk, the customer page and catch-up after reconnects."""

from __future__ import annotations

from sqlalchemy import select

from contacts.events import AGENT_HIDDEN, CUSTOMER_VISIBLE, customer_view
from contacts.models import Contact, ContactEvent
from extensions import db


def events_after(contact: Contact, after_seq: int, *, staff: bool) -> list[dict]:
    """Events with seq > after_seq, in order; customers see only the kinds meant for them."""
    q = select(ContactEvent).where(ContactEvent.contact_id == contact.id, ContactEvent.seq > after_seq)
    if not staff:
        q = q.where(ContactEvent.type.in_(CUSTOMER_VISIBLE))
    else:  # the live desk
        q = q.where(ContactEvent.type.not_in(AGENT_HIDDEN))
    events = [e.as_dict() for e in db.session.scalars(q.order_by(ContactEvent.seq))]
    return events if staff else [customer_view(e) for e in events]
