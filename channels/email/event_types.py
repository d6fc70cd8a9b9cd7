"""The schemas of an email contact's events (contacts/event_types.py)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from contacts.event_types import EventData, event


class Mail(EventData):
    """A parsed message as recorded: headers, threading, attachments, where the raw file is kept."""

    message_id: str | None = None
    in_reply_to: list[str] | str | None = None
    references: list[str] | None = None
    from_: dict[str, Any] | None = Field(None, alias="from")  # "from" is a Python keyword
    envelope_from: str | None = None
    to: list[str] | None = None
    cc: list[str] | None = None
    centre_address: str | None = None
    subject: str | None = None
    date: str | None = None
    html: str | None = None
    attachments: list[dict[str, Any]] | None = None
    calendar: dict[str, Any] | None = None
    notes: list[str] | None = None
    parse_error: str | None = None
    peer: str | None = None
    raw_path: str | None = None
    sha256: str | None = None
    size: int | None = None
    ticket_number: str | None = None
    threaded_by: str | None = None
    thread_refused: dict[str, Any] | None = None
    follows_contact_id: int | None = None
    automatic: str | None = None
    answers_event_id: int | None = None
    roleplay: str | None = None


class Sent(Mail):
    rendered: str | None = None
    format: dict[str, Any] | None = None
    relay: bool | None = None


class Relay(EventData):
    message_id: str | None = None
    relay: str


EVENT_TYPES = [
    event(
        "email.received",
        "A customer's mail; the text is its plain-text body.",
        Mail,
        actors=("customer",),
        text="optional",
    ),  # fmt: skip
    event("email.auto_received", "An automatic reply to one of our mails (never answered).", Mail, text="optional"),
    event(
        "email.sent",
        "The agent's reply as sent; the text is its plain-text body.",
        Sent,
        actors=("agent", "lead"),
        text="optional",
    ),  # fmt: skip
    event("email.relayed", "The reply also went to the outside relay.", Relay),
    event("email.relay_failed", "The outside relay refused the reply; the text says why.", Relay, text="optional"),
]
