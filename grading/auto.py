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

Delivery can also miss a wrap-up altogether; a sweep backs it up (grading/sweep.py), on a thread of its own.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from flask import Flask, current_app, has_app_context
from sqlalchemy import select

from contacts.events import subscribe, unsubscribe
from contacts.models import Contact
from contacts.stream import StreamKind, get_event_log
from extensions import db, redis_store
from simulator.models import Exercise

from .models import Scorecard
from .sweep import Sweeper

log = logging.getLogger(__name__)

KIND = "grading"
DONE_TTL = 3600  # seconds the "graded" marker of a wrap-up is kept (wait_idle reads it)
RETRY_SECONDS = 60.0  # a grading that failed is tried again (by the sweep) this long after, doubled each time
FAILURES_TTL = 86400  # seconds a contact's count of failed gradings is kept (the sweep's window)


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
        # ensure_consumer runs on the liveness thread and on every thread that records a wrap-up: made and started
        # under this lock, one consumer (and one thread of it), and none after a stop.
        self._consumer_lock = threading.Lock()
        self.sweeper = Sweeper(self)

    def start(self) -> None:
        """Listen for wrap-ups recorded here, and consume the log from this process's first beat."""
        with self._consumer_lock:
            self._stopped = False
        subscribe(self._on_event)
        liveness = self.app.extensions.get("kefu_liveness")  # routing/liveness.py; grading does not import it
        if liveness is not None:
            liveness.on("periodic", self.ensure_consumer)
            liveness.on("periodic", self.sweeper.when_due)  # only marks the sweep due: it grades on its thread

    def stop(self) -> None:
        """Stop listening and end the consumer (app shutdown, end of a test)."""
        with self._consumer_lock:
            self._stopped = True
            consumer = self._consumer
        unsubscribe(self._on_event)
        if consumer is not None:
            consumer.stop()
        self.sweeper.stop()

    def ensure_consumer(self) -> None:
        """Start this process's consumer of the ``grading`` kind (once; again after ``start`` follows a
        ``stop``)."""
        with self._consumer_lock:
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
        self.grade_and_mark(contact_id, seq, float(ev.get("ts") or 0.0))

    def grade_and_mark(self, contact_id: int, seq: int, wrapped_up_at: float) -> None:
        """Grade one wrap-up (the log's handler, the sweep) and mark it, whatever its grading raises. A failure
        (the database away, an evaluator's bug) is logged with the contact's id and marked for a while only, so
        the sweep tries it again: at ``GRADING_RETRY_SECONDS``, doubled after each failure, up to ``DONE_TTL``.
        Raising instead would end the log's delivery with the wrap-up acknowledged (the stream consumer logs a
        handler's error and acknowledges the entry) and marked like a graded one: nothing tried it again for an
        hour, and nothing said which contact it was."""
        try:
            self._grade(contact_id, wrapped_up_at)
        except Exception:
            delay = self._failed(contact_id, seq)
            log.exception("contact %s could not be graded; the sweep tries again in %d s", contact_id, delay)
        else:
            self._graded(contact_id, seq)

    def _failed(self, contact_id: int, seq: int) -> int:
        """Mark a failed grading until its retry is due; returns the delay (seconds)."""
        first = float(self.app.config.get("GRADING_RETRY_SECONDS", RETRY_SECONDS))
        delay = max(1, round(first))
        try:
            failures = redis_store.key("grading", "failures", contact_id)
            n = int(redis_store.client.incr(failures))
            redis_store.client.expire(failures, FAILURES_TTL)
            delay = max(1, min(DONE_TTL, round(first * 2 ** min(n - 1, 20))))
        except redis.RedisError:
            pass  # unmarked: the sweep tries it again next period
        self._graded(contact_id, seq, ttl=delay)
        return delay

    def _graded(self, contact_id: int, seq: int, ttl: int = DONE_TTL) -> None:
        try:
            redis_store.client.set(self._done_key(contact_id), f"{seq} {self._process_id}", ex=ttl)
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
        """``<seq> <process>``: the last wrap-up of the contact that was graded (or passed over, or failed: until
        its retry is due), and by whom."""
        return redis_store.key("grading", "graded", contact_id)

    def graded_by(self, contact_id: int) -> tuple[int, str] | None:
        """The wrap-up (its seq) of ``contact_id`` last graded and the process that graded it (tests, logs)."""
        raw = redis_store.client.get(self._done_key(contact_id))
        if not raw:
            return None
        seq, _, by = raw.partition(" ")
        return int(seq), by

    def wait_idle(self, timeout: float = 10.0, contact_id: int | None = None) -> bool:
        """Block until every contact wrapped up in this process (or only ``contact_id``: the post-call transcript's
        regrade, which must not wait for the whole floor's wrap-ups) is graded, here or by another process. True
        when idle."""
        deadline = time.monotonic() + timeout

        def waiting() -> bool:
            return any(contact_id is None or c == contact_id for c, _ in self._pending)

        with self._idle:
            while waiting():
                self._forget_graded_elsewhere()
                left = deadline - time.monotonic()
                if not waiting() or left <= 0:
                    break
                self._idle.wait(min(left, 0.2))
            return not waiting()

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
        from .actions import GradingError, do_grade_contact, do_record_ungradeable, lock_contact_for_grading

        with self._grading:
            try:
                lock_contact_for_grading(contact_id)  # held until do_grade_contact commits (or the session ends)
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
                # It will not pass: recorded once (under the contact's lock), so the sweep never tries it again.
                if do_record_ungradeable(contact_id, str(e)):
                    log.info("contact %s not auto-graded: %s", contact_id, e)
            finally:
                db.session.remove()

    @staticmethod
    def _graded_since(contact_id: int, ts: float) -> bool:
        q = select(Scorecard.id).where(
            Scorecard.contact_id == contact_id, Scorecard.current.is_(True), Scorecard.created_at >= ts
        )
        return db.session.scalar(q.limit(1)) is not None
