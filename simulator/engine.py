"""SimulatorEngine: live simulated customers, driven in-process through the customer side of the channel.

The engine listens to every recorded contact event (``contacts.events.subscribe``). For the contacts it
drives, the listener only queues the event; the engine's worker thread (or ``tick``) applies it to the
customer's persona (simulator/persona.py) and schedules the reply on the sandbox clock. When a reply is due,
``tick`` carries it out with ``channels.chat.customer_side`` (typing, say, leave, rate) - exactly what a
person playing the customer does.

This module holds the engine's lifecycle, its listener and the clock-driven loop (``tick``, ``run_until_idle``,
``run_for``); the per-customer reaction loop is simulator/chat_customers.py (taken over from the recording:
simulator/chat_takeover.py), simulated callers waiting in a
queue simulator/queued_callers.py, exercise arrivals simulator/exercises.py, adopting what no live process
drives simulator/recovery.py (mixins of SimulatorEngine).

State of live customers is in memory, keyed by contact id, and each customer and running exercise is recorded
in Redis with the process that drives it (simulator/ownership.py); events published by other processes reach it
through the shared event log, and simulator workers drive customers handed over by web processes
(simulator/workers.py). A process adopts only what no live process
owns: on start, after Redis lost the records, and when another process stops beating. An adopted chat or email
customer is taken over: its mind is rebuilt from the recorded conversation and it goes on (reason-less; only
when that fails is the contact ended with ``simulator_restarted``; email: simulator/email_takeover.py); a
simulated call still waiting in its first queue goes on waiting; a group room's audience is rebuilt from the
room's recording (simulator/group_takeover.py); an adopted running exercise resumes its remaining arrivals.
Starting a web process beside live ones ends nobody's customers and starts no arrival twice.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import threading
import time
from collections import deque

from flask import current_app, has_app_context

from clock import clock
from contacts.events import subscribe, unsubscribe
from extensions import db
from routing.liveness import get_liveness
from routing.ticker import TICKER_KEY

from .chat_customers import ChatCustomers, LiveCustomer, _Action
from .chat_takeover import ChatTakeOver
from .content import ContentError, RegistryContent
from .errors import SimulatorError  # noqa: F401  (re-exported)
from .exercises import ExerciseSchedule, ExerciseStateError, _Arrival  # noqa: F401  (re-exported)
from .persona import DESK_MOVES
from .queued_callers import QueuedCallers, WaitingCaller
from .recovery import Recovery
from .workers import SimulatorWorkers

log = logging.getLogger(__name__)

# Recorded events the simulated customer reacts to (agent messages are filtered by actor).
WATCHED = frozenset(
    {"message", "transfer", "kb.send", "contact.ended", "contact.abandoned", "csat.invited", "csat.answered"}
    | set(DESK_MOVES)
)


class SimulatorEngine(Recovery, ExerciseSchedule, ChatCustomers, ChatTakeOver, QueuedCallers, SimulatorWorkers):
    """Drives simulated customers for one app. Stored as ``app.extensions["kefu_simulator"]``."""

    def __init__(self, app, content=None):
        self.app = app
        self.content = content or RegistryContent()
        self.live: dict[int, LiveCustomer] = {}
        self._ids: set[int] = set()  # read by the listener without the lock
        self._callers: dict[int, WaitingCaller] = {}  # simulated calls waiting in a queue
        self._caller_ids: set[int] = set()  # read by the listener without the lock
        self._actions: list[_Action] = []
        self._arrivals: list[_Arrival] = []
        self._running_exercises: set[int] = set()
        self._exercise_leases: dict[int, int] = {}  # exercise id -> the lease its arrivals run under here
        self._seq = itertools.count()
        self._inbox: deque[dict] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._worker: threading.Thread | None = None
        self._started = False
        self.email_customers = None  # set by simulator.init_app (EmailCustomers)
        from .ownership import Ownership

        self.liveness = get_liveness(app)
        self.ownership = Ownership(self.liveness.process_id)
        subscribe(self._on_event, kind="simulator")

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
            self._start_stream()  # events of our customers published by other processes
            self._stop.clear()
            self._worker = threading.Thread(target=self._run_worker, name="kefu-simulator", daemon=True)
            self._worker.start()

    def stop(self) -> None:
        """Stop the worker and stop listening (app shutdown, end of a test)."""
        unsubscribe(self._on_event)
        self._stop_stream()
        self._stop.set()
        self._wake.set()
        if self._worker and self._worker is not threading.current_thread():
            self._worker.join(2)
        self._worker = None

    _recover_at: float | None = None

    def _recover_if_due(self) -> None:
        """After Redis lost the owner records, adopt once what no live process re-announced (see ``reannounce``)."""
        if self._recover_at is None or time.monotonic() < self._recover_at or not self._started:
            return
        if not self.liveness.settled():
            self._recover_at = time.monotonic() + self.liveness.interval
            return
        self._recover_at = None
        self.recover()

    def adopt_from(self, process_id: str) -> None:
        """The liveness ``dead`` hook: a process stopped beating; adopt what it drove, on this engine's next tick
        (within ``TICK_SECONDS``) rather than in the liveness thread. A take-over reads the recording, may load a
        model and waits for a stale driver's write to finish under the customer's lease (simulator/ownership.py):
        run in the liveness thread, it held this process's own beats back, and a process busy adopting was taken
        for dead in turn."""
        if self.enabled and self._started:
            self._recover_at = time.monotonic()
            self._wake.set()

    def reannounce(self) -> None:
        """The liveness ``reannounce`` hook: Redis lost the owner records; put back ours. Once every live process
        has had time to put back its own (``Liveness.settled``), ``tick`` runs ``recover`` once: what nobody
        re-announced is nobody's (a customer or exercise handed to a worker whose ``adopt`` message the loss took
        with the owner record, or a process that died before re-announcing) and is adopted."""
        self._recover_at = time.monotonic() + self.liveness.ttl + 2 * self.liveness.interval
        with self._lock:
            contacts = {
                cid: {"exercise_id": lc.exercise_id, "started_by": lc.started_by, "seed": lc.state.seed}
                for cid, lc in self.live.items()
            }
            contacts.update({cid: {} for cid in self._callers})
            if self.email_customers is not None:
                contacts.update(self.email_customers.records())
            exercises = sorted(self._running_exercises)
        self.ownership.reannounce(contacts, exercises)
        if self.email_customers is not None:
            self.email_customers.reannounce_waiting()
            # Replies and wrap-ups recorded while no record named us may have been passed over on the log.
            self.email_customers.catch_up()

    # -- customers --------------------------------------------------------------------------------------

    def start_customer(
        self,
        scenario_id: str,
        exercise_id: int | None = None,
        seed: int | None = None,
        started_by: int | None = None,
        reserve_for: int | None = None,
        exercise_lease: int | None = None,
    ) -> int:
        """Open a chat contact as the scenario's customer and send the opening after a short pause (an exercise's
        arrival: under the exercise's lease, simulator/exercises.py). Returns the contact id. SimulatorError for an
        unknown or non-chat scenario."""
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
            return self._start_chat(
                scenario,
                pack,
                lang,
                seed=seed,
                exercise_id=exercise_id,
                started_by=started_by,
                reserve_for=reserve_for,
                driver=self._delegate_to(),
                exercise_lease=exercise_lease,
            )

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
            try:
                self.check_leases()
                self._recover_if_due()
            except Exception:  # Redis away: the liveness supervisor brings it back
                log.warning("could not check the simulated customers' owner records")
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
            self._tick_callers(now)
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

    def _on_event(self, payload: dict) -> bool | None:
        """Listener (runs in the publisher's thread): queue events about our contacts, never block. True when
        the event is about a customer this process drives (other processes need not pass it on), False when
        not, None when the simulator does not run here (contacts/stream.py reads the answer)."""
        if payload.get("type") != "contact_event":
            return None
        if not (has_app_context() and current_app._get_current_object() is self.app):
            return None  # another app in this process (tests) with the same contact ids
        taken = self._accept(payload.get("event") or {})
        return taken if self.enabled and self._started else None

    def _accept(self, ev: dict) -> bool:
        """Queue an event about a customer this process drives (True), or say it is not ours (False)."""
        if ev.get("contact_id") in self._ids:
            if ev.get("type") not in WATCHED or (ev["type"] == "message" and ev.get("actor") != "agent"):
                return True  # ours, with nothing to react to
        elif not self._watches_caller(ev):
            return False
        self._inbox.append(ev)
        self._wake.set()
        return True

    def _run_worker(self) -> None:
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
                if not self._apply_caller_event(ev):
                    self._apply_event(ev)
            except Exception:
                db.session.rollback()
                log.exception("simulator could not apply event %s", ev.get("id"))
        return progressed
