"""do_* actions on contacts: messages, typing, what the agent does on the desk. The lifecycle transitions (open,
assign, transfer, end, wrap up...) live in contacts/lifecycle.py and are re-exported here.

Each action is one transaction (contacts/transaction.py). A chat line or a typing change outside any action is
one event in one short transaction on the handler's event connection: the fast path (contacts/events.py).
Routing, tickets and the knowledge base have their own actions; they record on the contact through
``contacts.events.append_event`` inside their own ``atomic()`` block.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, select

from accounts.models import User
from extensions import db

from .errors import ActionError
from .events import append_event, publish_contact_event, read_row
from .lifecycle import (  # noqa: F401  (the lifecycle actions are part of this module's public API)
    do_abandon_contact,
    do_assign_contact,
    do_close_contact,
    do_end_contact,
    do_open_contact,
    do_take_over_contact,
    do_transfer_contact,
    do_wrap_up_contact,
    floor_summary,
)
from .models import Contact
from .transaction import atomic


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
    row = read_row(_HEAD, {"contact_id": cid})
    if row is None:
        raise ActionError(f"no contact {cid}")
    return ContactHead(*row)


def do_create_contact(channel: str, queue: str, **kw) -> Contact:
    """Open a queued contact (see ``lifecycle.do_open_contact``)."""
    return do_open_contact(channel, queue, **kw)


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


def do_record_desk_event(contact: Contact, agent: User, type: str, data: dict, text: str | None = None) -> dict:
    """Record something the agent did on the desk for this contact (CRM lookup, identity verified...)."""
    with atomic():
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
