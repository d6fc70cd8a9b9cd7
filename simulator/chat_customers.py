"""Simulated chat customers in conversation: the per-customer reaction loop of SimulatorEngine (a mixin).

A live customer's persona (simulator/persona.py) reacts to the recorded events the engine hands it
(``_apply_event``); its reaction is scheduled as actions on the sandbox clock (typing, say, leave, rate) and
carried out, when due, through ``channels.chat.customer_side`` - exactly what a person playing the customer
does. Its mind after each reaction is recorded as a ``customer.state`` event.

Everything a customer records (its lines, typing, leaving, its CSAT answer, its mind) is written under its lease
(simulator/ownership.py ``fenced``): a process that was taken for dead and whose customer was taken over records
nothing more for it, and lets it go.
"""

from __future__ import annotations

import heapq
import logging
import random
from dataclasses import dataclass, field

from sqlalchemy import select

from channels.chat import customer_side
from channels.chat.customer_side import start_chat
from clock import clock
from contacts.actions import ActionError
from contacts.events import append_event, publish_contact_event
from contacts.models import Contact
from contacts.transaction import atomic, on_commit
from extensions import db
from knowledge_base.models import Article
from tickets.models import Customer

from .ownership import LeaseLost, Ownership
from .persona import DESK_MOVES, CustomerState, Reaction
from .seeds import do_record_seed

log = logging.getLogger(__name__)

# Recorded desk actions a persona reacts to (replayed when another process's customer is taken over).
DESK_EVENTS = frozenset({"transfer", "kb.send", *DESK_MOVES})
CLOSED_LINGER_SECONDS = 300  # forget a customer this long after their contact closed without a CSAT answer
LINE_GAP_SECONDS = 1.5  # between two lines of one reply
LEAVE_AFTER_SECONDS = 1.0


@dataclass
class LiveCustomer:
    """One simulated customer on one contact."""

    contact_id: int
    scenario_id: str
    lang: str
    state: CustomerState
    exercise_id: int | None = None
    started_by: int | None = None
    busy_until: float = 0.0  # the last scheduled line: a new reply waits for it
    closed_at: float | None = None  # the contact stopped taking messages
    done: bool = False
    lease: int | None = None  # the generation of its lease this process drives it under (simulator/ownership.py)
    # Sequence numbers of the events already applied: an event may come in-process and again through the
    # shared log (a claimed entry, a take-over that replayed it), and is applied once.
    seen: set[int] = field(default_factory=set)


@dataclass(order=True)
class _Action:
    due: float
    seq: int
    contact_id: int = field(compare=False)
    kind: str = field(compare=False)  # typing | say | leave | rate
    value: object = field(compare=False, default=None)


def identity_of(customer) -> dict | None:
    """What a customer gives when the agent asks to verify them: name and the last four digits of the phone
    on their CRM record (the desk's verification checks these were given)."""
    if customer is None or not customer.phone:
        return None
    digits = "".join(ch for ch in customer.phone if ch.isdigit())
    return {"name": customer.name, "phone_last4": digits[-4:]}


def reference_text(scenario, lang: str) -> str:
    """The body of the KB article the scenario's answer rests on ('' when none)."""
    slug = scenario.answer.kb_slug if scenario.answer else None
    if not slug:
        return ""
    article = db.session.scalar(select(Article).where(Article.slug == slug, Article.lang == lang))
    return (getattr(article, "body", None) or "") if article is not None else ""


def record_customer_state(contact_id: int, mind: CustomerState, reaction: Reaction, **extra) -> None:
    """Record the customer's mind after a reaction (``customer.state``): emotion, patience, goals, what was
    recognised, and ``extra``. Grading reads the final emotion from it; the live desk never receives it."""
    snap = mind.snapshot()
    data = {
        "emotion": snap["emotion"],
        "emotion_name": snap["emotion_name"],
        "emotion_delta": reaction.emotion_delta,
        "patience_left": snap["patience_left"],
        "moves": list(reaction.moves),
        "reaction": reaction.kind,
        "goals_done": snap["goals_done"],
        "goals": list(mind.scenario.goals),
        "revealed": snap["revealed"],
        "end": reaction.end,
        "notes": list(reaction.notes),
        **extra,
    }
    try:
        ev, _ = append_event(contact_id, "customer.state", "simulator", data=data)
        publish_contact_event(ev)
    except Exception:
        db.session.rollback()
        log.exception("could not record the customer state of contact %s", contact_id)


class ChatCustomers:
    """The chat customers of SimulatorEngine (which provides live, _ids, _actions, _seq, _recognisers,
    _finish_exercises, still_ours and _lease_lost)."""

    def _start_chat(
        self,
        scenario,
        pack,
        lang: str,
        *,
        seed: int,
        exercise_id: int | None,
        started_by: int | None,
        reserve_for: int | None,
        driver: str | None = None,
        exercise_lease: int | None = None,
    ) -> int:
        """Open a chat contact as the scenario's customer and schedule the opening after a short pause; with a
        ``driver`` (a simulator worker, simulator/workers.py) that worker is named its owner and drives it. An
        arrival of an exercise is opened under the exercise's lease (``exercise_lease``): a process whose exercise
        was adopted by another opens nothing (LeaseLost)."""
        persona = scenario.customer
        customer = None
        if persona.crm_ref:
            customer = db.session.scalar(select(Customer).where(Customer.ref == persona.crm_ref, Customer.lang == lang))
        # The persona (its recogniser, the KB article its answer rests on) is built before the transaction, which
        # would otherwise hold its rows (and SQLite's write lock) meanwhile; a worker builds its own.
        state = self._customer_state(scenario, pack, seed, customer, lang) if driver is None else None
        claimed: list[int] = []  # the contact whose owner record is written, taken back if the commit fails
        try:
            # One transaction: the contact, its seed and (here) its lease commit together, and its owner record is
            # written before the commit, so nobody who sees the contact finds it without an owner (another process's
            # recovery would take it for an orphan and adopt it) and a worker is told to adopt it only once it is
            # there.
            with atomic():
                if exercise_lease is not None:
                    with self.ownership.fenced("exercise", exercise_id, exercise_lease):
                        pass  # the exercise's row stays held until this transaction commits
                contact_id, lease = self._open_chat(
                    scenario, lang, seed, exercise_id, started_by, reserve_for, customer, driver, claimed
                )
        except BaseException:
            for cid in claimed:  # no contact: no record of it either (its id may be given again)
                try:
                    (self.ownership if driver is None else Ownership(driver)).release("contact", cid)
                except Exception:
                    log.warning("could not take back the owner record of contact %s", cid)
            raise
        if driver is not None:
            return contact_id
        # Committed: only now is the customer driven here, so a failed commit leaves nothing of it in memory. Its
        # contact's first events were published before this, none of them one a customer reacts to (WATCHED).
        live = LiveCustomer(
            contact_id, scenario.id, lang, state, exercise_id=exercise_id, started_by=started_by, lease=lease
        )
        self.live[contact_id] = live
        self._ids.add(contact_id)
        now = clock.timestamp()
        pause = random.Random(f"open|{seed}|{scenario.id}").uniform(1.0, 3.0)
        opening = state.opening(ts=now + pause)
        self._schedule_lines(live, opening, now, pause)
        return contact_id

    def _open_chat(
        self, scenario, lang, seed, exercise_id, started_by, reserve_for, customer, driver, claimed
    ) -> tuple[int, int | None]:
        """The writes of ``_start_chat`` (in its transaction): the contact, its seed, its owner record naming this
        process or ``driver`` (its contact appended to ``claimed``) and, driven here, its lease. Returns the contact
        id and the lease (None when a worker drives it: the worker takes the lease)."""
        persona = scenario.customer
        contact = start_chat(
            lang=lang,
            queue=scenario.queue,
            customer_name=customer.name if customer else persona.name,
            customer_id=customer.id if customer else None,
            scenario_id=scenario.id,
            simulated=True,
            priority=1 if (customer is not None and customer.vip) or persona.type == "vip" else 0,
            required_level=scenario.level if scenario.level in ("L3", "L4") else None,
            exercise_id=exercise_id,
            reserved_agent_id=reserve_for,
        )
        fields = {"seed": seed, "exercise_id": exercise_id, "started_by": started_by}
        if driver is not None:
            do_record_seed(contact.id, seed, exercise_id=exercise_id, started_by=started_by)  # outlives a Redis flush
            claimed.append(contact.id)
            self.ownership.claim("contact", contact.id, owner=driver, **fields)
            on_commit(self.hand_over, "contact", contact.id, driver)  # the worker takes the lease
            return contact.id, None
        lease = self.ownership.take_lease("contact", contact.id, **fields)
        claimed.append(contact.id)
        self.ownership.claim("contact", contact.id, **fields)
        return contact.id, lease

    def _recogniser(self, pack):
        # The language understanding's reader, shared with grading (it is cached per app and pack version).
        from understanding.store import reader_for

        return reader_for(pack)

    def _customer_state(self, scenario, pack, seed: int, customer: Customer | None, lang: str) -> CustomerState:
        """A chat customer's persona for ``seed``: a new customer's, or one taken over (then replayed)."""
        return CustomerState(
            scenario,
            pack,
            seed,
            recogniser=self._recogniser(pack),
            identity=identity_of(customer),
            reference=reference_text(scenario, lang),
        )

    def _apply_event(self, ev: dict) -> None:
        live = self.live.get(ev["contact_id"])
        if live is None:
            return
        seq = ev.get("seq")
        if seq is not None:
            if seq in live.seen:
                return  # already applied (it came both ways, or was replayed at a take-over)
            live.seen.add(seq)
        kind, ts, state = ev["type"], float(ev["ts"]), live.state
        if kind == "message":
            if live.closed_at is None:
                self._schedule(live, state.on_agent_message(ev.get("text") or "", ts), ts, answers=seq)
        elif kind in ("contact.ended", "contact.abandoned"):
            live.closed_at = ts
            self._drop_actions(live.contact_id, kinds=("typing", "say", "leave"))
            if kind == "contact.abandoned":
                self._forget(live)
        elif kind == "csat.invited":
            pause = random.Random(f"csat|{state.seed}|{live.contact_id}").uniform(2.0, 6.0)
            self._push(ts + pause, live.contact_id, "rate")
        elif kind == "csat.answered":
            self._forget(live)
        elif live.closed_at is None:
            reaction = state.on_desk_event(kind, ev.get("data") or {}, ts)
            if reaction is not None:
                self._schedule(live, reaction, ts)

    def _schedule(self, live: LiveCustomer, reaction: Reaction, ts: float, answers: int | None = None) -> None:
        """Record the customer's mind after ``reaction`` (to the agent's line ``answers``, by its seq: a take-over
        finds it answered in thought) under its lease, then schedule what it says and does."""
        extra = {"answered_seq": answers} if answers is not None else {}
        try:
            with self.ownership.fenced("contact", live.contact_id, live.lease):
                record_customer_state(live.contact_id, live.state, reaction, **extra)
        except LeaseLost:
            self._lease_lost(live.contact_id)  # another process drives it now: it reacts there, not here
            return
        except Exception:
            log.exception("could not record the customer state of contact %s", live.contact_id)
        self._act_out(live, reaction, ts)

    def _act_out(self, live: LiveCustomer, reaction: Reaction, ts: float) -> None:
        last = self._schedule_lines(live, reaction.lines, ts, reaction.delay)
        if reaction.end:
            reason = "satisfied" if reaction.end == "satisfied" else "abandoned"
            self._push(max(last, ts) + LEAVE_AFTER_SECONDS, live.contact_id, "leave", reason)

    def _schedule_lines(self, live: LiveCustomer, lines: list[str], ts: float, delay: float) -> float:
        """Typing starts soon after ``ts``; line i is sent at ts + delay + i * LINE_GAP_SECONDS, never before the
        lines already scheduled. Returns the time of the last line."""
        if not lines:
            return ts
        start = max(ts, live.busy_until)
        self._push(start + min(1.5, delay * 0.3), live.contact_id, "typing", True)
        due = start + delay
        for i, line in enumerate(lines):
            self._push(due + i * LINE_GAP_SECONDS, live.contact_id, "say", line)
        live.busy_until = due + (len(lines) - 1) * LINE_GAP_SECONDS
        return live.busy_until

    def _push(self, due: float, contact_id: int, kind: str, value=None) -> None:
        heapq.heappush(self._actions, _Action(due, next(self._seq), contact_id, kind, value))

    def _drop_actions(self, contact_id: int, kinds: tuple[str, ...]) -> None:
        kept = [a for a in self._actions if not (a.contact_id == contact_id and a.kind in kinds)]
        if len(kept) != len(self._actions):
            self._actions = kept
            heapq.heapify(self._actions)

    def _run_due(self, now: float) -> bool:
        progressed = False
        while self._actions and self._actions[0].due <= now:
            action = heapq.heappop(self._actions)
            progressed = True
            self._perform(action)
        return progressed

    def _perform(self, action: _Action) -> None:
        """Carry out one action through the customer side of the chat channel."""
        live = self.live.get(action.contact_id)
        if live is None or (action.kind in ("say", "leave") and not self.still_ours(action.contact_id)):
            return  # forgotten, or its owner record names the process that adopted it (simulator/workers.py)
        contact = db.session.get(Contact, action.contact_id)
        if contact is None:
            self._forget(live)
            return
        try:
            # Under the customer's lease: refused (and the customer let go) once another process took it over.
            with self.ownership.fenced("contact", contact.id, live.lease):
                if action.kind == "typing":
                    customer_side.customer_typing(contact, True)
                elif action.kind == "say":
                    # The process id's random part keeps a line's id unique when another process took the customer
                    # over (its action counter starts again; a repeated id would be taken for a resend and dropped).
                    tag = self.ownership.process_id.rsplit("-", 1)[-1]
                    client_id = f"sim-{contact.id}-{tag}-{action.seq}"
                    customer_side.customer_say(contact, str(action.value), client_id=client_id)
                elif action.kind == "leave":
                    customer_side.customer_leave(contact, reason=str(action.value))
                elif action.kind == "rate":
                    customer_side.customer_rate(contact, live.state.csat())
        except LeaseLost:
            self._lease_lost(action.contact_id)
        except ActionError as e:
            # The contact moved on (ended by the agent, already rated): the customer stops talking.
            db.session.rollback()
            log.info("simulated customer on contact %s: %s refused: %s", contact.id, action.kind, e)
            if action.kind in ("say", "leave"):
                live.closed_at = live.closed_at or clock.timestamp()
                self._drop_actions(contact.id, kinds=("typing", "say", "leave"))
        except Exception:
            db.session.rollback()
            log.exception("simulated customer on contact %s: %s failed", contact.id, action.kind)

    def _leave_now(self, contact_id: int, reason: str) -> None:
        self._perform(_Action(clock.timestamp(), next(self._seq), contact_id, "leave", reason))

    def _forget(self, live: LiveCustomer) -> None:
        live.done = True
        if live.closed_at is None:
            live.closed_at = clock.timestamp()
        self._drop_actions(live.contact_id, kinds=("typing", "say", "leave", "rate"))
        self.live.pop(live.contact_id, None)
        self._ids.discard(live.contact_id)
        try:
            self.ownership.release("contact", live.contact_id)
        except Exception:  # Redis away: the record is cleaned up when the contact is found closed
            log.warning("could not release the owner record of contact %s", live.contact_id)

    def _housekeeping(self, now: float) -> None:
        for live in list(self.live.values()):
            if live.closed_at is not None and now - live.closed_at > CLOSED_LINGER_SECONDS:
                self._forget(live)
        self._finish_exercises(now)
