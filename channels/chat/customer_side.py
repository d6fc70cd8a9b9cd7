"""The customer side of web chat: what a customer can do. The /customer Socket.IO namespace (a person
playing the customer) and the simulator (in-process) both call these, so a simulated customer goes
through exactly the path a person does."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from contacts.actions import (
    ActionError,
    ContactHead,
    do_create_contact,
    do_end_contact,
    do_post_message,
    do_set_typing,
)
from contacts.events import read_row
from contacts.models import Contact
from extensions import db
from tickets.actions import do_record_csat


def start_chat(
    *,
    lang: str,
    queue: str,
    customer_name: str,
    customer_id: int | None = None,
    subject: str | None = None,
    scenario_id: str | None = None,
    simulated: bool = False,
    priority: int = 0,
    required_level: str | None = None,
    exercise_id: int | None = None,
    reserved_agent_id: int | None = None,
) -> Contact:
    """Open a chat contact as a customer; the returned contact's ``customer_token`` is the customer's key."""
    if not queue.startswith("chat."):
        raise ActionError(f"{queue!r} is not a chat queue")
    name = (customer_name or "").strip()
    if not name or len(name) > 80:
        raise ActionError("give a name of 1 to 80 characters")
    return do_create_contact(
        "chat",
        queue,
        lang=lang,
        customer_id=customer_id,
        customer_name=name,
        subject=subject,
        priority=priority,
        required_level=required_level,
        scenario_id=scenario_id,
        exercise_id=exercise_id,
        simulated=simulated,
        reserved_agent_id=reserved_agent_id,
    )


# A customer token opens its own channel only: a group room's join link or a caller's token is no chat key
# (on /customer, ``leave`` would end the whole room or call).
CHAT_CHANNELS = ("chat",)


def _id(contact_id) -> int:
    try:
        cid = int(contact_id)
    except (TypeError, ValueError) as e:
        raise ActionError("unknown contact") from e
    if not 0 < cid < 2**63:
        raise ActionError("unknown contact")
    return cid


def contact_for_token(contact_id, token: str | None, channels: tuple[str, ...] = CHAT_CHANNELS) -> Contact:
    """The contact of one of ``channels`` whose customer holds ``token``; ActionError for an unknown id, a
    wrong token or a contact of another channel."""
    contact = db.session.get(Contact, _id(contact_id))
    if contact is None or not token or contact.customer_token != token or contact.channel not in channels:
        raise ActionError("unknown contact")
    return contact


_TOKEN_HEAD = select(
    Contact.__table__.c.id,
    Contact.__table__.c.status,
    Contact.__table__.c.agent_id,
    Contact.__table__.c.customer_token,
    Contact.__table__.c.channel,
).where(Contact.__table__.c.id == bindparam("contact_id"))


def contact_head_for_token(contact_id, token: str | None) -> ContactHead:
    """As contact_for_token (chat only), but only the contact's head (the cheap read for messages and typing)."""
    row = read_row(_TOKEN_HEAD, {"contact_id": _id(contact_id)})
    if row is None or not token or row.customer_token != token or row.channel not in CHAT_CHANNELS:
        raise ActionError("unknown contact")
    return ContactHead(id=row.id, status=row.status, agent_id=row.agent_id, customer_token=row.customer_token)


def customer_say(
    contact: Contact | ContactHead, text: str, client_id: str | None = None, *, skip_sid: str | None = None
) -> tuple[dict, bool]:
    """The customer writes a message (``skip_sid``: the writing socket, which gets the event in its ack)."""
    return do_post_message(contact, "customer", text, client_id=client_id, skip_sid=skip_sid)


def customer_typing(contact: Contact | ContactHead, typing: bool, *, skip_sid: str | None = None) -> dict | None:
    """The customer starts or stops typing; returns the recorded event (None if the chat is not active)."""
    return do_set_typing(contact, "customer", typing, skip_sid=skip_sid)


def customer_leave(contact: Contact, reason: str = "customer_left") -> Contact:
    """The customer closes the chat (satisfied, gave up, or just left)."""
    return do_end_contact(contact, "customer", reason=reason)


def customer_rate(contact: Contact, score: int, comment: str | None = None) -> None:
    """The customer answers the CSAT survey (1-5)."""
    try:
        score = int(score)
    except (TypeError, ValueError) as e:
        raise ActionError("CSAT score must be a whole number from 1 to 5") from e
    try:
        do_record_csat(contact, score, comment)
    except ValueError as e:
        raise ActionError(str(e)) from e
