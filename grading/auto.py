"""Practice feedback: grade a practice contact (simulated or role-played) as soon as the agent wraps it up, in
exactly one process of the centre.

The wrap-up reaches a grader through the shared event log (contacts/stream.py; its side log of wrap-ups, so a
grader reads no chat line): the kind ``grading`` has one consumer group, and every process that auto-grades
(``GRADING_AUTO``, env ``KEFU_GRADING_AUTO``) is one consumer, started on its first beat (the liveness
``periodic`` hook) or when it first sees a wrap-up itself. So each wrap-up is graded by one process, whichever
process's desk recorded it, and one whose grader died before acknowledging it is claimed by another after
``EVENT_LOG_CLAIM_IDLE_SECONDS``. With one process (``make run``, the tests) that process's own consumer grades, a
few milliseconds after the wrap-up.

Delivery is at least once, so the handler is idempotent: it grades under a per-contact lock (a PostgreSQL
advisory lock across processes, a thread lock within one), skips a contact whose current scorecard was made
after the wrap-up, and a regrade of an unchanged recording keeps the current scorecard (grading.actions); a
second delivery never makes a second current scorecard. Exam contacts are not auto-graded: they wait for the
panel.

Delivery can also miss a wrap-up altogether, so a sweep backs it up (``sweep``): every ``GRADING_SWEEP_SECONDS``
one process of the centre (a Redis lock per period) grades, through the same idempotent path, the contacts wrapped
up more than ``GRADING_SWEEP_GRACE_SECONDS`` ago (and less than ``GRADING_SWEEP_WINDOW_SECONDS``) that have no
current scorecard. What it closes: a rolling upgrade from a version whose graders read the wrap-ups off the main
log - its consumer group there holds the wrap-ups its processes had not graded yet (pending or unread), and the new
side-log group, made from "now on", never sees them; a Redis flush or restart that takes the side log's entries
before a grader read them; an entry trimmed off a log nobody read for a while. Draining the old group once, when
the side-log group is first made, would close only the first of these, and only if the process doing it lives
through the drain (and old-version processes still consuming that group during the upgrade race it); the sweep
needs no memory of what happened to the log, only the recording: a wrapped-up contact with no scorecard. Its
cost is one query on the contacts a period, and the grace keeps it off wrap-ups the log is still delivering. A
contact that cannot be graded (no rubric) is passed over once per ``DONE_TTL``, as the log's handler marks it.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from flask import Flask, current_app, has_app_context
from sqlalchemy import exists, func, or_, select, text

from clock import clock
from contacts.events import subscribe, unsubscribe
from contacts.models import Contact, ContactEvent
from contacts.stream import StreamKind, get_event_log
from extensions import db, redis_store
from simulator.models import Exercise

from .models import Scorecard

log = logging.getLogger(__name__)

KIND = "grading"
LOCK_CLASS = 0x6B656675  # "kefu": the high half of the advisory lock key, the contact id the low half
DONE_TTL = 3600  # seconds the "graded" marker of a wrap-up is kept (wait_idle reads it)
SWEEP_SECONDS = 60.0  # how often the centre looks for wrapped-up contacts the log did not get graded
SWEEP_GRACE_SECONDS = 120.0  # a wrap-up younger than this is the log's to deliver
SWEEP_WINDOW_SECONDS = 86400.0  # older ones are left to the regrade command
SWEEP_BATCH = 100  # contacts graded per sweep at most (the next sweep takes the rest)


class AutoGrader:
    """Grades wrapped-up practice contacts from the shared log (``app.extensions["kefu_grading"]``)."""

    def __init__(self, app: Flask):
        self.app = app
        self._consumer = None
        self._lock = threading.Lock()
        self._grading = threading.Lock()  # one grading at a time in this process (the advisory lock across)
        self._pending: set[tuple[int, int]] = set()  # (contact, wrap-up seq) wrapped up here, not graded yet
        self._idle = threading.Condition(self._lock)
        self._stopped = False

    def start(self) -> None:
        """Listen for wrap-ups recorded here, and consume the log from this process's first beat."""
        self._stopped = False
        subscribe(self._on_event)
        liveness = self.app.extensions.get("kefu_liveness")  # routing/liveness.py; grading does not import it
        if liveness is not None:
            liveness.on("periodic", self.ensure_consumer)
            liveness.on("periodic", self.sweep_when_due)

    def stop(self) -> None:
        """Stop listening and end the consumer (app shutdown, end of a test)."""
        self._stopped = True
        unsubscribe(self._on_event)
        if self._consumer is not None:
            self._consumer.stop()

    def ensure_consumer(self) -> None:
        """Start this process's consumer of the ``grading`` kind (once; again after ``stop``)."""
        if self._stopped:
            return
        if self._consumer is None:
            kind = StreamKind(KIND, handle=self.handle, types=frozenset({"wrap_up"}), log="wrap_up")
            self._consumer = get_event_log(self.app).consumer(kind)
        self._consumer.start()

    def _on_event(self, payload: dict) -> None:
        """A wrap-up recorded in this process: remembered for ``wait_idle``; the consumer (started now if it is
        not yet) grades it from the log, here or in another process."""
        if payload.get("type") != "contact_event":
            return
        ev = payload.get("event") or {}
        if ev.get("type") != "wrap_up":
            return
        if not (has_app_context() and current_app._get_current_object() is self.app):
            return  # another app in this process (tests) with the same contact ids
        with self._lock:
            self._pending.add((int(ev["contact_id"]), int(ev.get("seq") or 0)))
        try:
            self.ensure_consumer()  # before the entry is appended (after the listeners): it reaches the group
        except redis.RedisError:
            log.warning("the grading consumer could not start (Redis); another process grades contact %s", ev)

    def handle(self, payload: dict) -> None:
        """Grade the contact of one wrap-up from the log (in this app's context, on the consumer's thread)."""
        ev = payload.get("event") or {}
        if payload.get("type") != "contact_event" or ev.get("type") != "wrap_up":
            return
        contact_id, seq = int(ev["contact_id"]), int(ev.get("seq") or 0)
        try:
            self._grade(contact_id, float(ev.get("ts") or 0.0))
        finally:
            self._graded(contact_id, seq)

    def _graded(self, contact_id: int, seq: int) -> None:
        try:
            redis_store.client.set(self._done_key(contact_id), f"{seq} {self._process_id}", ex=DONE_TTL)
        except redis.RedisError:
            log.warning("could not mark contact %s graded", contact_id)
        with self._idle:
            self._pending = {(c, s) for c, s in self._pending if c != contact_id or s > seq}
            self._idle.notify_all()

    @property
    def _process_id(self) -> str:
        liveness = self.app.extensions.get("kefu_liveness")
        return liveness.process_id if liveness is not None else "local"

    @staticmethod
    def _done_key(contact_id: int) -> str:
        """``<seq> <process>``: the last wrap-up of the contact that was graded (or passed over), and by whom."""
        return redis_store.key("grading", "graded", contact_id)

    def graded_by(self, contact_id: int) -> tuple[int, str] | None:
        """The wrap-up (its seq) of ``contact_id`` last graded and the process that graded it (tests, logs)."""
        raw = redis_store.client.get(self._done_key(contact_id))
        if not raw:
            return None
        seq, _, by = raw.partition(" ")
        return int(seq), by

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every contact wrapped up in this process is graded, here or by another process (tests,
        the post-call transcript's regrade). True when idle."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                self._forget_graded_elsewhere()
                left = deadline - time.monotonic()
                if not self._pending or left <= 0:
                    break
                self._idle.wait(min(left, 0.2))
            return not self._pending

    def _forget_graded_elsewhere(self) -> None:
        pending = sorted(self._pending)
        try:
            done = redis_store.client.mget([self._done_key(c) for c, _ in pending])
        except redis.RedisError:
            return
        for (cid, seq), raw in zip(pending, done, strict=True):
            if raw and int(raw.partition(" ")[0]) >= seq:
                self._pending.discard((cid, seq))

    def _grade(self, contact_id: int, wrapped_up_at: float) -> None:
        from .actions import GradingError, do_grade_contact

        with self._grading:
            try:
                self._lock_contact(contact_id)  # held until do_grade_contact commits (or the session ends)
                contact = db.session.get(Contact, contact_id)
                if contact is None:
                    return  # simulated and role-played contacts alike: a role-play is graded like practice
                if contact.exercise_id is not None:
                    exercise = db.session.get(Exercise, contact.exercise_id)
                    if exercise is not None and exercise.kind != "practice":
                        return
                if self._graded_since(contact_id, wrapped_up_at):
                    log.info("contact %s already graded since its wrap-up (a second delivery)", contact_id)
                    return
                do_grade_contact(contact_id)
            except GradingError as e:
                log.info("contact %s not auto-graded: %s", contact_id, e)
            finally:
                db.session.remove()

    # -- the sweep: wrapped-up contacts the log did not get graded ---------------------------------------------

    _next_sweep = 0.0

    def sweep_when_due(self) -> list[int]:
        """The liveness ``periodic`` hook: sweep when this process's period is up and no other process of the
        centre swept in this period (a Redis lock that expires with the period). Returns the contacts graded."""
        every = float(self.app.config.get("GRADING_SWEEP_SECONDS", SWEEP_SECONDS))
        if self._stopped or every <= 0 or time.monotonic() < self._next_sweep:
            return []
        self._next_sweep = time.monotonic() + every
        try:
            lock = redis_store.key("grading", "sweep")
            if not redis_store.client.set(lock, self._process_id, nx=True, ex=max(1, round(every))):
                return []  # another process sweeps this period
        except redis.RedisError:
            return []
        return self.sweep()

    def sweep(self) -> list[int]:
        """Grade the contacts wrapped up between the window and the grace ago that have no current scorecard and
        were not passed over (the ones the log's handler would grade: not in an exam); returns their ids."""
        now = clock.timestamp()
        grace = float(self.app.config.get("GRADING_SWEEP_GRACE_SECONDS", SWEEP_GRACE_SECONDS))
        window = float(self.app.config.get("GRADING_SWEEP_WINDOW_SECONDS", SWEEP_WINDOW_SECONDS))
        with self.app.app_context():
            try:
                rows = db.session.execute(
                    select(Contact.id, Contact.closed_at)
                    .outerjoin(Exercise, Exercise.id == Contact.exercise_id)
                    .where(
                        Contact.status == "closed",
                        Contact.wrap_up_code.is_not(None),
                        Contact.agent_id.is_not(None),
                        Contact.closed_at <= now - grace,
                        Contact.closed_at >= now - window,
                        or_(Contact.exercise_id.is_(None), Exercise.kind == "practice"),
                        ~exists().where(Scorecard.contact_id == Contact.id, Scorecard.current.is_(True)),
                    )
                    .order_by(Contact.closed_at)
                    .limit(SWEEP_BATCH)
                ).all()
            finally:
                db.session.remove()
        if not rows:
            return []
        try:
            marks = redis_store.client.mget([self._done_key(cid) for cid, _ in rows])
        except redis.RedisError:
            return []
        graded = []
        for (cid, closed_at), mark in zip(rows, marks, strict=True):
            if mark:
                continue  # graded or passed over since (the log got there after all, or it has no rubric)
            log.warning("contact %s wrapped up %.0f s ago has no scorecard: grading it now", cid, now - closed_at)
            with self.app.app_context():
                self._grade(cid, float(closed_at))
            self._graded(cid, self._wrap_up_seq(cid))
            graded.append(cid)
        return graded

    def _wrap_up_seq(self, contact_id: int) -> int:
        with self.app.app_context():
            try:
                return int(
                    db.session.scalar(
                        select(func.max(ContactEvent.seq)).where(
                            ContactEvent.contact_id == contact_id, ContactEvent.type == "wrap_up"
                        )
                    )
                    or 0
                )
            finally:
                db.session.remove()

    @staticmethod
    def _lock_contact(contact_id: int) -> None:
        """Serialise graders of one contact across processes (PostgreSQL; SQLite serves one process)."""
        if db.session.get_bind().dialect.name == "postgresql":
            db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": (LOCK_CLASS << 32) | contact_id})

    @staticmethod
    def _graded_since(contact_id: int, ts: float) -> bool:
        q = select(Scorecard.id).where(
            Scorecard.contact_id == contact_id, Scorecard.current.is_(True), Scorecard.created_at >= ts
        )
        return db.session.scalar(q.limit(1)) is not None
