"""The schemas of the contact's own events: its lifecycle, chat lines, typing, notes (contacts/event_types.py)."""

from __future__ import annotations

from typing import Any

from .event_types import EventData, NoData, event

PEOPLE = ("agent", "customer", "lead")


class Created(EventData):
    channel: str
    queue: str
    priority: int = 0
    required_level: str | None = None
    scenario_id: str | None = None
    simulated: bool = False
    reserved_agent_id: int | None = None


class Assignment(EventData):
    agent_id: int
    agent_name: str
    wait_seconds: float
    after_transfer: bool = False


class Transfer(EventData):
    from_agent_id: int
    target_kind: str
    target: str
    queue: str
    target_agent_id: int | None = None
    required_level: str | None = None


class Ended(EventData):
    reason: str
    waiting: list[str] | None = None  # a group room: members still waiting when it closed


class Abandoned(EventData):
    reason: str
    queue: str | None = None
    wait_seconds: float | None = None


class WrapUp(EventData):
    code: str


class Message(EventData):
    """A chat line; in a group room also who wrote it and what it is about."""

    member: str | None = None
    name: str | None = None
    simulated: bool | None = None
    mentions: list[str] | None = None
    mention_names: list[str] | None = None
    reply_to: int | None = None
    cluster: str | None = None
    need: str | None = None
    kind: str | None = None


class Typing(EventData):
    typing: bool


class CustomerState(EventData):
    """The simulated customer's mind after a reaction (hidden from the agent; read by review, the floor and
    grading). One-to-one customers and group-room members fill different fields."""

    emotion: int | None = None
    emotion_name: str | None = None
    emotion_delta: int | None = None
    patience_left: float | None = None
    patience_budget: float | None = None
    scenario_id: str | None = None
    type: str | None = None
    channel: str | None = None
    revealed: list[str] | None = None
    goals: list[str] | None = None
    goals_done: list[str] | None = None
    fired: dict[Any, Any] | None = None  # rule -> times fired (the voice caller keys it by number)
    finished: str | bool | None = None
    end: str | None = None
    on_hold: bool | None = None
    moves: list[str] | None = None
    notes: list[Any] | None = None
    waited: float | None = None
    reaction: str | None = None
    member: str | None = None
    kind: str | None = None
    need: str | None = None
    status: str | None = None
    answered_seq: int | None = None
    answered_how: str | None = None


EVENT_TYPES = [
    event("contact.created", "The contact was opened: its channel, queue and routing constraints.", Created),
    event("assignment", "An agent got the contact (by the ACD, or at once for a room or a livestream).", Assignment),
    event(
        "transfer",
        "The agent sent the contact back to routing for a queue, a level or a named agent; the text is the note "
        "for the receiver.",
        Transfer,
        actors=("agent",),
        text="required",
    ),
    event(
        "contact.ended",
        "The conversation is over (the agent goes on to wrap-up; the customer is invited to CSAT).",
        Ended,
        actors=("agent", "customer", "system", "lead"),
    ),
    event(
        "contact.abandoned",
        "A waiting customer left (or could not be queued) before an agent answered.",
        Abandoned,
        actors=("customer", "system"),
    ),
    event(
        "wrap_up",
        "The agent closed the contact with a wrap-up code; the text holds the notes.",
        WrapUp,
        actors=("agent", "lead"),
        text="optional",
    ),  # fmt: skip
    event("message", "A chat line; the text is what was written.", Message, actors=PEOPLE, text="required"),
    event("typing", "Typing started or stopped.", Typing, actors=PEOPLE),
    event("note", "A note of the system on the contact's timeline.", NoData, text="required"),
    event(
        "customer.state",
        "The simulated customer's state after a reaction (never shown on the live desk).",
        CustomerState,
        actors=("simulator",),
    ),
]
