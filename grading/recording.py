"""Recording: an immutable, plain-data view of one contact - what grading reads and nothing else.

Evaluators never touch the database: ``load_recording`` / ``load_recordings`` read the contact, its ordered
events, the end state of its linked tickets, the scenario and the pack once, and grading is a pure function of
the result. Tests build Recordings directly. The view is channel-neutral: a voice or video contact is the same
contact fields and the same event log (with media marks as events).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from accounts.models import User
from config import Config
from contacts.event_types import EventData, EventSchemaError, NoData, event_type, load_event_type_modules
from contacts.models import Contact, ContactEvent
from extensions import db
from scenarios import registry
from scenarios.schema import PackInfo, Scenario
from tickets.models import Ticket, TicketContactLink

TICKET_STATE_FIELDS = ("category", "priority", "status", "risk_level", "escalation_target", "compensation_amount")


@dataclass(frozen=True)
class Event:
    """One recorded ContactEvent. ``data`` is the event's JSON; evaluators read it through ``fields``, its typed
    view (see ``typed_fields``), so a misspelt or renamed field is an AttributeError, not a silent None."""

    id: int
    seq: int
    ts: float
    type: str
    actor: str
    text: str | None = None
    data: dict = field(default_factory=dict)
    actor_id: int | None = None

    @cached_property
    def fields(self) -> Any:
        """The event's data as its type's schema model (``typed_fields``), built once per event."""
        return typed_fields(self.type, self.data)

    @property
    def conforms(self) -> bool:
        """Whether the recorded data passes its type's schema (False for legacy or hand-built data)."""
        return typed_fields_valid(self.type, self.data)


_schemas_lock = threading.Lock()
_schemas_loaded = [False]


def _schema_of(type_: str) -> type[EventData] | None:
    """The data model of an event type, loading the configured schema modules once if no app has (tests build
    Recordings without one). None for a type no schema declares (a legacy type)."""
    try:
        return event_type(type_).data
    except EventSchemaError:
        with _schemas_lock:
            if not _schemas_loaded[0]:
                load_event_type_modules(Config.EVENT_SCHEMA_MODULES)
                _schemas_loaded[0] = True
        try:
            return event_type(type_).data
        except EventSchemaError:
            return None


def typed_fields_valid(type_: str, data: dict | None) -> bool:
    """Whether ``data`` passes the schema of its event type (the check made when an event is appended)."""
    model = _schema_of(type_)
    if model is None:
        return False
    try:
        model.model_validate(data or {})
    except ValidationError:
        return False
    return True


def typed_fields(type_: str, data: dict | None) -> EventData:
    """An event's data as an instance of its type's schema model (the one checked when it was appended), so an
    evaluator reads ``e.fields.result`` and a field the schema does not declare raises AttributeError.

    The attributes hold the values exactly as recorded (the JSON, not coerced: an int stays an int where the
    schema says float), so grading reads what it read with ``data.get``; a field that was not recorded reads as
    the schema's default, or None for a required one. Data the schema refuses (recordings older than the
    schema, hand-built test events) gets the same lenient view with its undeclared keys left out, and an event
    type no schema declares an empty one: old recordings grade as before and nothing raises on them."""
    model = _schema_of(type_)
    if model is None:
        return NoData()
    data = data or {}
    values = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in data:
            values[name] = data[key]
        else:
            values[name] = None if info.is_required() else info.get_default(call_default_factory=True)
    return model.model_construct(**values)


@dataclass(frozen=True)
class TicketState:
    """The end state of a ticket linked to the contact (at grading time)."""

    id: int
    number: str
    category: str | None = None
    priority: str | None = None
    status: str | None = None
    risk_level: str | None = None
    escalation_target: str | None = None
    compensation_amount: float | None = None

    def get(self, name: str):
        return getattr(self, name)


# eq=False: a Recording is hashed by identity, so per-grading caches (grading.phrases) can key on it.
@dataclass(frozen=True, eq=False)
class Recording:
    """One contact as grading sees it: contact fields, events in ``seq`` order, the scenario (or None for a
    person-played customer without a script), the language pack, the agent's level and linked tickets."""

    contact_id: int
    channel: str
    lang: str
    events: tuple[Event, ...]
    pack: PackInfo | None = None
    scenario: Scenario | None = None
    level: str = "L5"
    queue: str | None = None
    status: str | None = None
    simulated: bool = False
    scenario_id: str | None = None
    exercise_id: int | None = None
    agent_id: int | None = None
    created_at: float | None = None
    assigned_at: float | None = None
    ended_at: float | None = None
    wrap_up_code: str | None = None
    csat: int | None = None
    tickets: tuple[TicketState, ...] = ()

    def of_type(self, *types: str) -> list[Event]:
        """Events of these types, in order."""
        return [e for e in self.events if e.type in types]

    def messages(self, actor: str | None = None) -> list[Event]:
        """Chat messages (optionally from one actor: agent, customer, lead), in order."""
        return [e for e in self.events if e.type == "message" and (actor is None or e.actor == actor)]

    def by_id(self, event_id: int) -> Event | None:
        return next((e for e in self.events if e.id == event_id), None)


def _level_of(agent_level: str | None, scenario: Scenario | None) -> str:
    """The trainee's level; staff without one (a lead taking a chat) are graded at the scenario's level."""
    if agent_level in ("L5", "L4", "L3"):
        return agent_level
    if scenario is not None:
        return scenario.level
    return "L5"


def load_recording(contact_id: int) -> Recording:
    """The Recording of one contact, read from the database (needs an app context). LookupError if missing."""
    found = load_recordings([contact_id])
    if not found:
        raise LookupError(f"no contact {contact_id}")
    return found[0]


def load_recordings(contact_ids: list[int], chunk: int = 200) -> list[Recording]:
    """Recordings of many contacts in id order, read in a few column queries per ``chunk`` contacts (the
    regrade path: no ORM objects are built for events)."""
    out: list[Recording] = []
    ids = sorted(set(int(i) for i in contact_ids))
    for start in range(0, len(ids), chunk):
        out += _load_chunk(ids[start : start + chunk])
    return out


def _load_chunk(ids: list[int]) -> list[Recording]:
    from sqlalchemy import select

    contacts = db.session.execute(
        select(Contact, User.level).outerjoin(User, User.id == Contact.agent_id).where(Contact.id.in_(ids))
    ).all()
    events: dict[int, list[Event]] = {i: [] for i in ids}
    rows = db.session.execute(
        select(
            ContactEvent.contact_id,
            ContactEvent.id,
            ContactEvent.seq,
            ContactEvent.ts,
            ContactEvent.type,
            ContactEvent.actor,
            ContactEvent.text,
            ContactEvent.data,
            ContactEvent.actor_id,
        )
        .where(ContactEvent.contact_id.in_(ids))
        .order_by(ContactEvent.contact_id, ContactEvent.seq)
    )
    for cid, eid, seq, ts, typ, actor, text, data, actor_id in rows:
        events[cid].append(Event(eid, seq, ts, typ, actor, text, data or {}, actor_id))

    tickets: dict[int, dict[int, TicketState]] = {i: {} for i in ids}
    linked = db.session.execute(
        select(TicketContactLink.contact_id, Ticket)
        .join(Ticket, Ticket.id == TicketContactLink.ticket_id)
        .where(TicketContactLink.contact_id.in_(ids))
    ).all()
    direct = db.session.execute(select(Ticket.contact_id, Ticket).where(Ticket.contact_id.in_(ids))).all()
    for cid, t in [*linked, *direct]:
        amount = float(t.compensation_amount) if t.compensation_amount is not None else None
        tickets[cid][t.id] = TicketState(
            t.id, t.number, t.category, t.priority, t.status, t.risk_level, t.escalation_target, amount
        )

    out = []
    content: dict[str | None, tuple] = {}  # one registry look-up per scenario per chunk (each checks Redis)
    packs: dict[str, PackInfo | None] = {}
    for contact, agent_level in sorted(contacts, key=lambda r: r[0].id):
        if contact.scenario_id not in content:
            sc = registry.get_scenario(contact.scenario_id) if contact.scenario_id else None
            content[contact.scenario_id] = (sc, registry.scenario_lang(contact.scenario_id) if sc else None)
        scenario, scenario_lang = content[contact.scenario_id]
        lang = scenario_lang or contact.lang
        if lang not in packs:
            packs[lang] = registry.get_pack(lang)
        out.append(
            Recording(
                contact_id=contact.id,
                channel=contact.channel,
                lang=lang,
                events=tuple(events[contact.id]),
                pack=packs[lang],
                scenario=scenario,
                level=_level_of(agent_level, scenario),
                queue=contact.queue,
                status=contact.status,
                simulated=bool(contact.simulated),
                scenario_id=contact.scenario_id,
                exercise_id=contact.exercise_id,
                agent_id=contact.agent_id,
                created_at=contact.created_at,
                assigned_at=contact.assigned_at,
                ended_at=contact.ended_at,
                wrap_up_code=contact.wrap_up_code,
                csat=contact.csat,
                tickets=tuple(tickets[contact.id][k] for k in sorted(tickets[contact.id])),
            )
        )
    return out
