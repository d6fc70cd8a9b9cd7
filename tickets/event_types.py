"""The schemas of the events tickets, the CRM, callbacks and CSAT record on a contact (contacts/event_types.py)."""

from __future__ import annotations

from typing import Any

from contacts.event_types import EventData, event

DESK = ("agent", "lead")


class TicketRef(EventData):
    ticket_id: int
    number: str


class TicketCreated(TicketRef):
    category: str
    priority: str
    risk_level: str
    customer_id: int | None = None
    sla_due_at: float | None = None


class TicketUpdated(TicketRef):
    changes: dict[str, list[Any]]  # field -> [old, new]
    linked: bool | None = None
    over_limit: bool | None = None
    limit: float | None = None


class TicketEscalated(TicketRef):
    target: str | None = None
    reason: str | None = None
    risk_level: str | None = None


class TicketNote(TicketRef):
    note_id: int
    linked: bool | None = None


class CrmLookup(EventData):
    query: str
    results: list[str]
    customer_ids: list[int]


class CrmOpen(EventData):
    customer_id: int
    customer_ref: str
    verified: bool


class CrmDisclose(CrmOpen):
    fields: list[str]


class CrmVerify(EventData):
    customer_id: int
    customer_ref: str
    method: str
    result: str
    identified: bool | None = None


class CsatInvited(EventData):
    survey_id: int
    scale: list[int]


class CsatAnswered(EventData):
    survey_id: int
    score: int


class CallbackScheduled(EventData):
    callback_id: int
    due_at: float
    customer_id: int | None = None
    ticket_number: str | None = None


class CallbackCompleted(EventData):
    callback_id: int
    ticket_number: str | None = None
    customer_id: int | None = None


EVENT_TYPES = [
    event(
        "ticket.created",
        "A ticket was opened from the contact; the text is its subject.",
        TicketCreated,
        actors=DESK,
        text="optional",
    ),  # fmt: skip
    event(
        "ticket.updated",
        "Ticket fields changed (``changes``: field -> [old, new]); the text is the reason.",
        TicketUpdated,
        actors=DESK,
        text="optional",
    ),  # fmt: skip
    event(
        "ticket.escalated",
        "The ticket was escalated (target, risk level); the text is the reason.",
        TicketEscalated,
        actors=DESK,
        text="optional",
    ),  # fmt: skip
    event(
        "ticket.note", "A note was added to the ticket; the text is the note.", TicketNote, actors=DESK, text="required"
    ),  # fmt: skip
    event("ticket.linked", "The contact was gathered on an existing ticket.", TicketRef),
    event("crm.lookup", "The agent searched the CRM (query and the customers found).", CrmLookup, actors=DESK),
    event("crm.open", "The agent opened a customer's profile (masked unless verified).", CrmOpen, actors=DESK),
    event(
        "crm.disclose",
        "A customer's details were shown in full (``verified`` says whether the caller was).",
        CrmDisclose,
        actors=DESK,
    ),  # fmt: skip
    event(
        "crm.verify",
        "The agent recorded an identity check (method, result); the text holds the details.",
        CrmVerify,
        actors=DESK,
        text="optional",
    ),  # fmt: skip
    event("csat.invited", "The customer was invited to the CSAT survey.", CsatInvited),
    event(
        "csat.answered",
        "The customer's CSAT score; the text is their comment.",
        CsatAnswered,
        actors=("customer",),
        text="optional",
    ),  # fmt: skip
    event(
        "callback.scheduled",
        "A callback was scheduled; the text is its note.",
        CallbackScheduled,
        actors=DESK,
        text="optional",
    ),  # fmt: skip
    event(
        "callback.completed",
        "A callback was made; the text is its outcome.",
        CallbackCompleted,
        actors=DESK,
        text="optional",
    ),  # fmt: skip
]
