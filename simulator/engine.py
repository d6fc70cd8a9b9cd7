"""SimulatorEngine: live simulated customers, driven in-process through the customer side of the channel.

The engine listens to every recorded contact event (``contacts.events.subscribe``). For the contacts it
drives, the listener only queues the event; the engine's worker thread (or ``tick``) applies it to the
customer's persona (simulator/persona.py) and schedules the reply on the sandbox clock. When a reply is due,
``tick`` carries it out with ``channels.chat.customer_side`` (typing, say, leave, rate) - exactly what a
person playing the customer does.

State of live customers is in memory, keyed by contact id. A restart loses the simulated customers' minds but
never their recorded events; on start, simulated contacts still open are ended cleanly with reason
``simulator_restarted``, and running exercises resume their remaining arrivals.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import random
import threading
from collections import deque
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from sqlalchemy import select

from clock import clock
from contacts.actions import ActionError
from contacts.models import Contact
from extensions import db

from .content import ContentError, RegistryContent
from .errors import SimulatorError  # noqa: F401  (re-exported)
from .exercises import ExerciseSchedule, ExerciseStateError, _Arrival  # noqa: F401  (re-exported)
from .models import Exercise
from .moves import MoveRecogniser
from .persona import DESK_MOVES, CustomerState, Reaction

log = logging.getLogger(__name__)

# Recorded events the simulated customer reacts to (agent messages are filtered by actor).
WATCHED = frozenset(
    {"message", "transfer", "kb.send", "contact.ended", "contact.abandoned", "csat.invited", "csat.answered"}
    | set(DESK_MOVES)
)
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


@dataclass(order=True)
class _Action:
    due: float
    seq: int
    contact_id: int = field(compare=False)
    kind: str = field(compare=False)  # typing | say | leave | rate
    value: object = field(compare=False, default=None)


class SimulatorEngine(ExerciseSchedule):
    """Drives simulated customers for one app. Stored as ``app.extensions["kefu_simulator"]``."""

    def __init__(self, app, content=None):
        self.app = app
        self.content = content or RegistryContent()
        self.live: dict[int, LiveCustomer] = {}
        self._ids: set[int] = set()  # read by the listener without the lock
        self._actions: list[_Action] = []
        self._arrivals: list[_Arrival] = []
        self._running_exercises: set[int] = set()
        self._seq = itertools.count()
        self._inbox: deque[dict] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._recognisers: dict[str, MoveRecogniser] = {}
        self._worker: threading.Thread | None = None
        self._started = False
        self.email_customers = None  # set by simulator.init_app (EmailCustomers)
        from contacts.events import subscribe

        subscribe(self._on_event)

    # -- lifecycle --------------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return bool(self.app.config.get("SIMULATOR_ENABLED"))

    def ensure_started(self) -> None:
        """Start the worker thread (once) and recover from a restart. Does nothing when the simulator is
        disabled (tests drive the engine with ``tick`` / ``run_until_idle``)."""
        if not self.enabled or self._started:
            return
        with self._lock:
            if self._started:
                return
            self._started = True
            with self._context():
                self.recover()
            self._stop.clear()
            self._worker = threading.Thread(target=self._run_worker, name="kefu-simulator", daemon=True)
            self._worker.start()

    def stop(self) -> None:
        """Stop the worker and stop listening (app shutdown, end of a test)."""
        from contacts.events import unsubscribe

        unsubscribe(self._on_event)
        self._stop.set()
        self._wake.set()
        if self._worker and self._worker is not threading.current_thread():
            self._worker.join(2)
        self._worker = None

    def recover(self) -> None:
        """After a restart: end simulated contacts this engine does not drive (their customer's mind is lost),
        and resume the remaining arrivals of running exercises."""
        from channels.chat.customer_side import customer_leave

        with self._lock:
            orphans = db.session.scalars(
                select(Contact).where(Contact.simulated.is_(True), Contact.status.in_(("queued", "active")))
            ).all()
            for contact in orphans:
                if contact.id in self.live:
                    continue
                try:
                    customer_leave(contact, reason="simulator_restarted")
                except Exception:
                    db.session.rollback()
                    log.exception("could not end orphaned simulated contact %s", contact.id)
            now = clock.timestamp()
            for ex in db.session.scalars(select(Exercise).where(Exercise.status == "running")).all():
                self._queue_arrivals(ex, after=now)

    # -- customers --------------------------------------------------------------------------------------

    def start_customer(
        self,
        scenario_id: str,
        exercise_id: int | None = None,
        seed: int | None = None,
        started_by: int | None = None,
        reserve_for: int | None = None,
    ) -> int:
        """Open a chat contact as the scenario's customer and send the opening after a short pause.
        Returns the contact id. SimulatorError for an unknown or non-chat scenario."""
        from channels.chat.customer_side import start_chat
        from tickets.models import Customer

        with self._lock, self._context():
            try:
                scenario, pack, lang = self.content.find(scenario_id)
            except ContentError as e:
                raise SimulatorError(str(e)) from e
            if scenario.channel == "email":  # simulator/email_customers.py: they write through SMTP
                return self.email_customers.start(
                    scenario_id, seed=seed, exercise_id=exercise_id, started_by=started_by, reserve_for=reserve_for
                )
            if scenario.channel != "chat":
                raise SimulatorError(
                    f"scenario {scenario_id!r} is a {scenario.channel} scenario; only chat and email are simulated"
                )
            if seed is None:
                seed = random.SystemRandom().randrange(2**31)
            persona = scenario.customer
            customer = None
            if persona.crm_ref:
                customer = db.session.scalar(
                    select(Customer).where(Customer.ref == persona.crm_ref, Customer.lang == lang)
                )
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
            state = CustomerState(scenario, pack, seed, recogniser=self._recogniser(pack))
            live = LiveCustomer(contact.id, scenario.id, lang, state, exercise_id=exercise_id, started_by=started_by)
            self.live[contact.id] = live
            self._ids.add(contact.id)
            now = clock.timestamp()
            pause = random.Random(f"open|{seed}|{scenario.id}").uniform(1.0, 3.0)
            opening = state.opening(ts=now + pause)
            self._schedule_lines(live, opening, now, pause)
            return contact.id

    def live_count(self, *, exercise_id: int | None = None, started_by: int | None = None) -> int:
        """How many simulated customers are still in conversation (optionally of one exercise or starter)."""
        with self._lock:
            return sum(
                1
                for lc in self.live.values()
                if lc.closed_at is None
                and (exercise_id is None or lc.exercise_id == exercise_id)
                and (started_by is None or lc.started_by == started_by)
            )

    # -- driving ----------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Process everything due on the sandbox clock: queued events, due replies, arrivals, and persona ticks
        (slow replies, patience). Callable from any thread; safe to call concurrently with the worker."""
        self.ensure_started()
        with self._lock, self._context():
            now = clock.timestamp()
            self._start_due_arrivals(now)
            for _ in range(20):  # our own actions publish events that may schedule more due work
                progressed = self._drain_inbox()
                progressed = self._run_due(now) or progressed
                if not progressed:
                    break
            for live in list(self.live.values()):
                if live.closed_at is None:
                    reaction = live.state.on_tick(now)
                    if reaction is not None:
                        self._schedule(live, reaction, now)
            self._run_due(now)
            self._housekeeping(now)

    def next_due(self) -> float | None:
        """The sandbox time of the next scheduled action or arrival (None when nothing is scheduled)."""
        with self._lock:
            times = [self._actions[0].due] if self._actions else []
            if self._arrivals:
                times.append(self._arrivals[0].due)
            if self._inbox:
                times.append(clock.timestamp())
            return min(times) if times else None

    def run_until_idle(self, max_seconds: float = 600.0, step: float = 1.0) -> float:
        """Advance the sandbox clock (``clock.advance``) and process everything due until nothing is scheduled
        or ``max_seconds`` have passed; steps of at most ``step`` seconds so patience is ticked on the way.
        Returns the sandbox seconds advanced. Customers waiting for the agent do not count as work."""
        advanced = 0.0
        self.tick()
        stalled = 0  # ticks in a row that found work due but did not move the clock
        while advanced < max_seconds and stalled < 1000:
            nxt = self.next_due()
            if nxt is None:
                break
            jump = min(max(0.0, nxt - clock.timestamp()), step, max_seconds - advanced)
            if jump > 0:
                clock.advance(jump)
                advanced += jump
                stalled = 0
            else:
                stalled += 1
            self.tick()
        return advanced

    def run_for(self, seconds: float, step: float = 1.0) -> None:
        """Advance the sandbox clock by ``seconds`` in steps, ticking each step (waiting customers lose
        patience, queued ones abandon)."""
        left = seconds
        self.tick()
        while left > 0:
            jump = min(step, left)
            clock.advance(jump)
            left -= jump
            self.tick()

    # -- internals --------------------------------------------------------------------------------------

    def _context(self):
        """The current app context when it is this app's, else a new one (worker and ticker threads)."""
        if has_app_context() and current_app._get_current_object() is self.app:
            return contextlib.nullcontext()
        return self.app.app_context()

    def _recogniser(self, pack) -> MoveRecogniser:
        # One per language; a reloaded pack (a new PackInfo object) replaces the old lexicon.
        rec = self._recognisers.get(pack.lang)
        if rec is None or rec.pack is not pack:
            rec = self._recognisers[pack.lang] = MoveRecogniser(pack)
        return rec

    def _on_event(self, payload: dict) -> None:
        """Listener (runs in the publisher's thread): queue events about our contacts, never block."""
        if payload.get("type") != "contact_event":
            return
        ev = payload.get("event") or {}
        if ev.get("contact_id") not in self._ids or ev.get("type") not in WATCHED:
            return
        if ev["type"] == "message" and ev.get("actor") != "agent":
            return
        if not (has_app_context() and current_app._get_current_object() is self.app):
            return  # another app in this process (tests) with the same contact ids
        self._inbox.append(ev)
        self._wake.set()

    def _run_worker(self) -> None:
        from routing.ticker import TICKER_KEY

        interval = float(self.app.config.get("TICK_SECONDS", 0.25))
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                ticker = self.app.extensions.get(TICKER_KEY)
                if ticker is not None and ticker.is_alive():
                    with self._lock, self._context():
                        self._drain_inbox()
                else:
                    self.tick()  # no ticker in this process: keep time ourselves
            except Exception:
                log.exception("simulator worker step failed")

    def _drain_inbox(self) -> bool:
        progressed = False
        while self._inbox:
            ev = self._inbox.popleft()
            progressed = True
            try:
                self._apply_event(ev)
            except Exception:
                db.session.rollback()
                log.exception("simulator could not apply event %s", ev.get("id"))
        return progressed

    def _apply_event(self, ev: dict) -> None:
        live = self.live.get(ev["contact_id"])
        if live is None:
            return
        kind, ts, state = ev["type"], float(ev["ts"]), live.state
        if kind == "message":
            if live.closed_at is None:
                self._schedule(live, state.on_agent_message(ev.get("text") or "", ts), ts)
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

    def _schedule(self, live: LiveCustomer, reaction: Reaction, ts: float) -> None:
        self._record_state(live, reaction)
        last = self._schedule_lines(live, reaction.lines, ts, reaction.delay)
        if reaction.end:
            reason = "satisfied" if reaction.end == "satisfied" else "abandoned"
            self._push(max(last, ts) + LEAVE_AFTER_SECONDS, live.contact_id, "leave", reason)

    def _record_state(self, live: LiveCustomer, reaction: Reaction) -> None:
        """Record the customer's mind after each reaction (``customer.state``): emotion, goals, what was
        recognised. Grading reads the final emotion from it; the live desk never receives it."""
        from contacts.events import append_event, publish_contact_event

        snap = live.state.snapshot()
        data = {
            "emotion": snap["emotion"],
            "emotion_name": snap["emotion_name"],
            "emotion_delta": reaction.emotion_delta,
            "patience_left": snap["patience_left"],
            "moves": list(reaction.moves),
            "reaction": reaction.kind,
            "goals_done": snap["goals_done"],
            "goals": list(live.state.scenario.goals),
            "revealed": snap["revealed"],
            "end": reaction.end,
        }
        try:
            ev, _ = append_event(live.contact_id, "customer.state", "simulator", data=data)
            publish_contact_event(ev)
        except Exception:
            db.session.rollback()
            log.exception("could not record the customer state of contact %s", live.contact_id)

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
        from channels.chat import customer_side

        live = self.live.get(action.contact_id)
        if live is None:
            return
        contact = db.session.get(Contact, action.contact_id)
        if contact is None:
            self._forget(live)
            return
        try:
            if action.kind == "typing":
                customer_side.customer_typing(contact, True)
            elif action.kind == "say":
                customer_side.customer_say(contact, str(action.value), client_id=f"sim-{contact.id}-{action.seq}")
            elif action.kind == "leave":
                customer_side.customer_leave(contact, reason=str(action.value))
            elif action.kind == "rate":
                customer_side.customer_rate(contact, live.state.csat())
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

    def _housekeeping(self, now: float) -> None:
        for live in list(self.live.values()):
            if live.closed_at is not None and now - live.closed_at > CLOSED_LINGER_SECONDS:
                self._forget(live)
        self._finish_exercises(now)
