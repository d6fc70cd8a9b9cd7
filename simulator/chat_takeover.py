"""Simulated chat customers taken over from their recording (issue 18): a mixin of SimulatorEngine.

A chat customer's mind lives in the process that drives it. When that process stops (killed, or taken for dead on a
stalled machine) or hands the customer to a simulator worker, the new driver takes the customer's lease
(simulator/ownership.py) and only then reads the recording: the persona is rebuilt with its seed by replaying the
agent's lines and desk actions as it heard them live, and it goes on where the recording leaves it - the opening
if it has said nothing, the answer to the agent's last line if it has not given it (said without recording its mind
again when the stopped driver had recorded it), the rest of an answer cut off after its first lines. Whatever the old
driver wrote before the lease was taken is in what is read; whatever it tries after is refused.
"""

from __future__ import annotations

import logging
import random
import zlib

from sqlalchemy import select

from clock import clock
from contacts.models import Contact, ContactEvent
from extensions import db
from tickets.models import Customer

from .chat_customers import (
    DESK_EVENTS,
    LEAVE_AFTER_SECONDS,
    LINE_GAP_SECONDS,
    LiveCustomer,
)
from .seeds import recorded_seed

log = logging.getLogger(__name__)


def _seed_of(contact: Contact, record: dict) -> int | None:
    """The persona's seed: the owner record's; else (Redis lost the record: flushed, or the hand-over to a worker
    still in flight) the one recorded in the database when the customer started (simulator/seeds.py); else one
    derived from the contact, as long as the customer has said and thought nothing yet (any seed then makes the
    same scenario's customer, and the next driver finds this one recorded). None when the customer already spoke
    and no seed was recorded (a customer started before the table): it cannot be rebuilt without its own seed."""
    text = str(record.get("seed") or "")
    if text.isdigit():
        return int(text)
    row = recorded_seed(contact.id)
    if row is not None:
        return int(row.seed)
    said = db.session.scalar(
        select(ContactEvent.id)
        .where(ContactEvent.contact_id == contact.id, ContactEvent.actor.in_(("customer", "simulator")))
        .limit(1)
    )
    if said is not None:
        return None
    return zlib.crc32(f"{contact.id}|{contact.scenario_id}".encode()) & 0x7FFFFFFF


def _started_by(contact: Contact) -> int | None:
    """Who started the customer, when Redis lost the owner record: as recorded with its seed, else the trainee
    it is reserved for."""
    row = recorded_seed(contact.id)
    return (row.started_by if row is not None else None) or contact.reserved_agent_id


class ChatTakeOver:
    """Chat take-over for SimulatorEngine (which provides content, ownership, live, _ids, _customer_state, _schedule,
    _act_out, _schedule_lines and _push)."""

    def _take_over_chat(self, contact: Contact, record: dict) -> bool:
        """Go on as the simulated customer of a chat contact whose process stopped: the persona is rebuilt with
        its seed by replaying the recorded conversation (the agent's lines and desk actions, as it heard them
        live); if the agent spoke last, the customer now answers. False when it cannot be (not a chat, no seed
        recorded, scenario not loaded): the caller then ends the contact."""
        from .content import ContentError

        if contact.channel != "chat" or not contact.scenario_id:
            return False
        seed = _seed_of(contact, record)
        if seed is None:
            return False
        try:
            scenario, pack, lang = self.content.find(contact.scenario_id)
        except ContentError:
            return False
        customer = db.session.get(Customer, contact.customer_id) if contact.customer_id else None
        state = self._customer_state(scenario, pack, seed, customer, lang)

        def _int(value):
            return int(value) if str(value or "").isdigit() else None

        exercise_id = _int(record.get("exercise_id")) or contact.exercise_id
        started_by = _int(record.get("started_by")) or _started_by(contact)
        # The lease first, committed; then the recording: a write of the driver we replace either is in what we read
        # or is refused (simulator/ownership.py).
        lease = self.ownership.take_lease(
            "contact", contact.id, seed=seed, exercise_id=exercise_id, started_by=started_by
        )
        events = db.session.scalars(
            select(ContactEvent).where(ContactEvent.contact_id == contact.id).order_by(ContactEvent.seq)
        ).all()
        opening = state.opening(ts=events[0].ts if events else contact.created_at)
        pending = None  # the reaction to the agent's last line
        pending_seq = None  # that line's
        thought = False  # the reaction to it is recorded already (its driver stopped before saying it)
        answered: list[str] = []  # the customer's lines after it
        spoke = False
        for ev in events:
            if ev.type == "message" and ev.actor == "agent":
                pending, pending_seq, answered = state.on_agent_message(ev.text or "", ev.ts), ev.seq, []
                thought = False
            elif ev.type == "customer.state" and pending_seq is not None:
                thought = thought or (ev.data or {}).get("answered_seq") == pending_seq
            elif ev.type == "message" and ev.actor == "customer":
                answered.append(ev.text or "")
                spoke = True
            elif ev.type in DESK_EVENTS:
                state.on_desk_event(ev.type, ev.data or {}, ev.ts)

        live = LiveCustomer(
            contact.id, scenario.id, lang, state, exercise_id=exercise_id, started_by=started_by, lease=lease
        )
        if not str(record.get("seed") or "").isdigit():  # recorded or re-derived: the next driver must find the same
            self.ownership.claim("contact", contact.id, seed=seed, exercise_id=exercise_id, started_by=started_by)
        live.seen = {ev.seq for ev in events}
        self.live[contact.id] = live
        self._ids.add(contact.id)
        now = clock.timestamp()
        if not spoke:  # handed over at its start (simulator/workers.py), or its driver died before the opening
            pause = random.Random(f"open|{seed}|{scenario.id}").uniform(1.0, 3.0)
            self._schedule_lines(live, opening, now, pause)
        elif pending is not None and not answered and thought:  # decided, not said: said now, not recorded again
            self._act_out(live, pending, now)
        elif pending is not None and not answered:  # the agent spoke last: the customer answers now
            self._schedule(live, pending, now, answers=pending_seq)
        elif pending is not None and len(answered) < len(pending.lines):  # cut off in the middle of its answer
            # The replay does not replay the silence ticks (they draw from the persona's random source too), so
            # the rebuilt reaction may not be the one said live: a line already said is not said again.
            rest = [line for line in pending.lines[len(answered) :] if line not in answered]
            last = self._schedule_lines(live, rest, now, LINE_GAP_SECONDS)
            if pending.end:
                reason = "satisfied" if pending.end == "satisfied" else "abandoned"
                self._push(last + LEAVE_AFTER_SECONDS, live.contact_id, "leave", reason)
        log.warning("took over the simulated customer of contact %s (%d events replayed)", contact.id, len(events))
        return True
