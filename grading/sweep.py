"""The sweep behind auto-grading (grading/auto.py): wrapped-up contacts the log did not get graded.

Delivery can miss a wrap-up altogether, so every ``GRADING_SWEEP_SECONDS`` one process of the centre (a Redis lock
per period) grades, through the grader's idempotent path, the contacts wrapped up more than
``GRADING_SWEEP_GRACE_SECONDS`` ago (and less than ``GRADING_SWEEP_WINDOW_SECONDS``) that have no current
scorecard. What it closes: a rolling upgrade from a version whose graders read the wrap-ups off the main log - its
consumer group there holds the wrap-ups its processes had not graded yet (pending or unread), and the new side-log
group, made from "now on", never sees them; a Redis flush or restart that takes the side log's entries before a
grader read them; an entry trimmed off a log nobody read for a while. Draining the old group once, when the
side-log group is first made, would close only the first of these, and only if the process doing it lives through
the drain (and old-version processes still consuming that group during the upgrade race it); the sweep needs no
memory of what happened to the log, only the recording: a wrapped-up contact with no scorecard. Its cost is one
query on the contacts a period, and the grace keeps it off wrap-ups the log is still delivering. A contact that
cannot be graded for good (a GradingError: no rubric, never handled) is recorded once (``UngradeableContact``,
by the log's handler or the sweep) and never swept again; one whose grading failed otherwise (the database away,
an evaluator's bug) is marked until its retry is due (``AutoGrader.grade_and_mark``: a back-off from
``GRADING_RETRY_SECONDS`` up to ``DONE_TTL``). The sweep pages past the marked ones, so they never hold back the
contacts wrapped up after them.

The sweep grades on a thread of its own (``kefu-grading-sweep``), never on the liveness thread that runs its hook:
a sweep grades up to ``SWEEP_BATCH`` contacts one after another, each waiting for the log's grading in progress and
the contact's advisory lock, and the first grading in a process loads the understanding model (~1.7 s). On the
heartbeat thread that outlasts the process's TTL, and the process is taken for dead: its customers, rooms and
calls adopted by others. So the hook only marks the sweep due.

The lock (``grading:sweep``, a redis-py Lock with a token of this sweep's own) is taken for one period and is held,
however long the sweep takes: the process's heartbeat renews it (the same hook, while the sweep runs), and so does
the sweep before each contact, which stops if the lock is no longer its own (expired while the process stalled, and
taken by another process's sweep; Redis lost it). Once the sweep is done the lock is kept to the end of its period
(the next sweep of the centre is a period later), or let go when the sweep outlasted the period. With a lock that
only expired with its period, a sweep outlasting it (100 slow gradings) had a second process's sweep grade the same
contacts beside it.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import TYPE_CHECKING

import redis
from redis.exceptions import LockError
from redis.lock import Lock
from sqlalchemy import and_, exists, func, or_, select

from clock import clock
from contacts.models import Contact, ContactEvent
from extensions import db, redis_store
from simulator.models import Exercise

from .models import Scorecard, UngradeableContact

if TYPE_CHECKING:
    from .auto import AutoGrader

log = logging.getLogger(__name__)

SWEEP_SECONDS = 60.0  # how often the centre looks for wrapped-up contacts the log did not get graded
SWEEP_GRACE_SECONDS = 120.0  # a wrap-up younger than this is the log's to deliver
SWEEP_WINDOW_SECONDS = 86400.0  # older ones are left to the regrade command
SWEEP_BATCH = 100  # contacts graded per sweep at most (the next sweep takes the rest)
STOP_WAIT_SECONDS = 10.0  # a stop waits out the grading in progress (the sweep stops between contacts)


class Sweeper:
    """One process's sweep (``AutoGrader.sweeper``): ``when_due`` is the liveness hook, the thread sweeps."""

    def __init__(self, grader: AutoGrader):
        self.grader = grader
        self.app = grader.app
        self._next = 0.0  # monotonic time this process's next period starts
        self._due = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._done = threading.Condition()
        self._asked = self._served = 0  # sweeps asked for by the hook, and the last one done (``wait``)
        self.last: list[int] = []  # the contacts the last sweep graded
        self._held: Lock | None = None  # the centre's sweep lock while this process sweeps (the heartbeat renews it)

    # -- the hook and the thread --------------------------------------------------------------------------------

    def when_due(self) -> int:
        """The liveness ``periodic`` hook (on the heartbeat thread): when this process's period is up, mark a
        sweep due for the sweep thread (started now if it is not running) and return its number for ``wait``;
        0 when not due. No lock taken, nothing graded here; the lock of a sweep in progress is renewed."""
        held = self._held
        if held is not None:
            self._renew(held)  # a grading may outlast the lock's timeout: the lock lasts while the process beats
        every = float(self.app.config.get("GRADING_SWEEP_SECONDS", SWEEP_SECONDS))
        if every <= 0 or time.monotonic() < self._next:
            return 0
        with self._thread_lock:
            if self.grader._stopped:  # read under the lock: a stop in progress joins any thread started here
                return 0
            self._next = time.monotonic() + every
            if self._thread is None or not self._thread.is_alive():
                # Its own events: a thread a stop gave up waiting for stays stopped, and the wake-up a stop left
                # set does not start a sweep nobody asked for.
                self._stop, self._due = threading.Event(), threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop, self._due), name="kefu-grading-sweep", daemon=True
                )
                self._thread.start()
        with self._done:
            self._asked += 1
            ticket = self._asked
        self._due.set()
        return ticket

    def stop(self) -> None:
        """End the sweep thread (app shutdown, end of a test); a sweep in progress stops after its contact."""
        with self._thread_lock:
            self._stop.set()
            self._due.set()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_WAIT_SECONDS)

    def wait(self, ticket: int, timeout: float = 30.0) -> list[int] | None:
        """The contacts graded by sweep ``ticket`` (from ``when_due``) once it is done; None if not in time."""
        with self._done:
            if not self._done.wait_for(lambda: self._served >= ticket, timeout):
                return None
            return list(self.last)

    def _run(self, stop: threading.Event, due: threading.Event) -> None:
        while True:
            due.wait()
            if stop.is_set():
                return
            due.clear()
            with self._done:
                ticket = self._asked  # every sweep asked for so far is answered by this one
            try:
                with self.app.app_context():
                    graded = self.sweep_if_first(stop)
            except Exception:
                log.exception("the grading sweep failed")
                graded = []
            with self._done:
                self.last, self._served = graded, ticket
                self._done.notify_all()

    def sweep_if_first(self, stop: threading.Event | None = None) -> list[int]:
        """Sweep unless another process of the centre sweeps or swept in this period (a Redis lock held while the
        sweep runs and kept to the end of the period). Returns the contacts graded."""
        every = max(1, round(float(self.app.config.get("GRADING_SWEEP_SECONDS", SWEEP_SECONDS))))
        lock = Lock(
            redis_store.client, redis_store.key("grading", "sweep"), timeout=every, blocking=False, thread_local=False
        )
        try:
            if not lock.acquire(token=f"{self.grader._process_id} {secrets.token_hex(4)}"):
                return []  # another process sweeps this period
        except redis.RedisError:
            return []
        ends = time.monotonic() + every
        self._held = lock
        try:
            return self.sweep(stop, lock)
        finally:
            if self._held is lock:
                self._held = None
            self._keep_to_the_period_end(lock, ends - time.monotonic())

    @staticmethod
    def _renew(lock: Lock) -> bool:
        """Give the sweep's lock a whole timeout again; False when it is no longer this sweep's (or Redis fails)."""
        try:
            return lock.reacquire()
        except (LockError, redis.RedisError):
            return False

    @staticmethod
    def _keep_to_the_period_end(lock: Lock, left: float) -> None:
        """A finished sweep's lock lasts to the end of its period (``left`` seconds), or goes now when the sweep
        outlasted it; a lock no longer ours is left to its holder."""
        try:
            if left >= 0.01:
                lock.extend(left, replace_ttl=True)
            else:
                lock.release()
        except (LockError, redis.RedisError):
            pass

    # -- the sweep ------------------------------------------------------------------------------------------------

    def sweep(self, stop: threading.Event | None = None, lock: Lock | None = None) -> list[int]:
        """Grade the contacts wrapped up between the window and the grace ago that have no current scorecard and
        were not found ungradeable or marked (the ones the log's handler would grade: not in an exam), oldest
        first, at most ``SWEEP_BATCH``; returns their ids (the ones whose grading failed too: retried later).
        ``stop``: the sweep thread's own stop event (a stop may have given up waiting for this thread, and a new
        thread with new events have replaced it: this one still stops after its contact). ``lock``: the centre's
        sweep lock (``sweep_if_first``), renewed before each contact; the sweep stops once it is not its own."""
        stop = self._stop if stop is None else stop
        now = clock.timestamp()
        grace = float(self.app.config.get("GRADING_SWEEP_GRACE_SECONDS", SWEEP_GRACE_SECONDS))
        window = float(self.app.config.get("GRADING_SWEEP_WINDOW_SECONDS", SWEEP_WINDOW_SECONDS))
        graded: list[int] = []
        after = None
        # Pages on (closed_at, id) until a batch is graded: the passed-over contacts (marked in Redis, which SQL
        # cannot see) keep no scorecard, so a single LIMIT would fetch the same ones every sweep once a batch of
        # them is in the window, and nothing newer would ever be reached.
        while len(graded) < SWEEP_BATCH and not stop.is_set():
            rows = self._page(now - window, now - grace, after)
            if not rows:
                break
            try:
                marks = redis_store.client.mget([self.grader._done_key(cid) for cid, _ in rows])
            except redis.RedisError:
                break
            for (cid, closed_at), mark in zip(rows, marks, strict=True):
                if len(graded) >= SWEEP_BATCH or stop.is_set():
                    break  # the next sweep (here or elsewhere) takes the rest
                if mark:
                    continue  # graded since (the log got there after all), or failed and not due again yet
                if lock is not None and not self._renew(lock):
                    log.warning("the grading sweep's lock is no longer this process's: the sweep stops here")
                    return graded
                log.warning("contact %s wrapped up %.0f s ago has no scorecard: grading it now", cid, now - closed_at)
                self._grade_one(cid, float(closed_at))
                graded.append(cid)
            if len(rows) < SWEEP_BATCH:
                break
            after = rows[-1][1], rows[-1][0]  # (closed_at, id) of the last row seen
        return graded

    def _page(self, since: float, until: float, after: tuple[float, int] | None) -> list[tuple[int, float]]:
        """Up to ``SWEEP_BATCH`` (id, closed_at) of sweepable contacts closed in [since, until], after ``after``
        ((closed_at, id) of the previous page's last row)."""
        q = (
            select(Contact.id, Contact.closed_at)
            .outerjoin(Exercise, Exercise.id == Contact.exercise_id)
            .where(
                Contact.status == "closed",
                Contact.wrap_up_code.is_not(None),
                Contact.agent_id.is_not(None),
                Contact.closed_at <= until,
                Contact.closed_at >= since,
                or_(Contact.exercise_id.is_(None), Exercise.kind == "practice"),
                ~exists().where(Scorecard.contact_id == Contact.id, Scorecard.current.is_(True)),
                ~exists().where(UngradeableContact.contact_id == Contact.id),
            )
            .order_by(Contact.closed_at, Contact.id)
            .limit(SWEEP_BATCH)
        )
        if after is not None:
            closed_at, cid = after
            q = q.where(or_(Contact.closed_at > closed_at, and_(Contact.closed_at == closed_at, Contact.id > cid)))
        with self.app.app_context():
            try:
                return [(r.id, r.closed_at) for r in db.session.execute(q)]
            finally:
                db.session.remove()

    def _grade_one(self, contact_id: int, wrapped_up_at: float) -> None:
        """Grade one contact and mark it, whatever its grading raises: a contact that breaks an evaluator (or has
        a malformed recording) left unmarked would be first again in every sweep and stop each one there. A
        failure is marked until its retry is due (``AutoGrader.grade_and_mark``)."""
        try:
            seq = self._wrap_up_seq(contact_id)
        except Exception:
            delay = self.grader._failed(contact_id, 0)
            log.exception("contact %s could not be graded by the sweep; tried again in %d s", contact_id, delay)
            return
        with self.app.app_context():
            self.grader.grade_and_mark(contact_id, seq, wrapped_up_at)

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
