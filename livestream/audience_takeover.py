"""Taking over livestream audiences (issue 18): a mixin of Audiences, the adopting side of
livestream/audience_stream.py.

When the audience's process dies (kill -9), the process that sees it dead (the liveness ``dead`` hook, run by one
live process; the take-over itself runs on a thread of the audiences', ``livestream-adopt``, not the liveness one)
takes the owner record over (compare-and-set: one taker) for a live simulator worker (or, with none alive or in a
worker, for itself), and the new owner goes on with the audience from the stream's recording
(livestream/audience_stream.py: ``start(resume=True)``). An audience whose process died while Redis was away (no
owner record, and no dead hook: the loss took the heartbeat) is taken over the same way, by a pass run once the live
state is settled - unless its presenter published less than a TTL (of wall time) ago: that "publishing" start, in
whichever process took the media event, is about to claim the record, and the stream is looked at again after it. A
simulator worker told to adopt a stream (``adopt``) starts it the same way.

Nothing else would run a take-over again, so this module retries its own: a stream whose lease a stalled write holds
(LeaseBusy) is in ``_busy`` and tried again every second; one whose start failed after its record was taken (it names
this process now) is in ``_busy`` too, tried again after a back-off of its own; a pass that could not look at every
live stream is run again after a back-off. A failure that repeats is logged once, not on every retry (a record or
settings unreadable for good would otherwise log an error every few seconds for as long as the stream is live), and
once more when it is over.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from sqlalchemy import select

from contacts.models import Contact, ContactEvent
from extensions import db, redis_store

from .audience_stream import TAKE

log = logging.getLogger(__name__)

# A take-over pass that failed (the live streams or an owner record could not be read) is tried again after this many
# seconds, doubled after each failure in a row up to ADOPT_RETRY_MAX_SECONDS: nothing else would run it again. The
# cap is minutes, not seconds: what still fails after a few tries (a record Redis cannot read as a hash, settings that
# do not parse) mostly fails for good, and a pass every 30 s spent a query and a traceback on it for the stream's life.
ADOPT_RETRY_SECONDS = 2.0
ADOPT_RETRY_MAX_SECONDS = 300.0
# A start that failed after the stream's record was taken (``_busy``) is tried again after this many seconds, doubled
# in the same way (a stalled write's busy lease, which passes, is tried every second).
START_RETRY_SECONDS = 1.0


def backoff(failures: int, first: float) -> float:
    """Seconds to wait after ``failures`` failures in a row: ``first``, doubled each time, at most the cap."""
    return min(first * 2 ** max(failures - 1, 0), ADOPT_RETRY_MAX_SECONDS)


class AudienceTakeover:
    """The adopting side of Audiences (which provides app, start, _scripts, _lock, _busy, _failing, _adopt_due,
    _adopter and, from AudiencesAcross, _liveness, _owner_key, _release, _simulator and _worker_for)."""

    def adopt(self, stream_id: int) -> bool:
        """Run the audience of a stream whose owner record names this process (a simulator worker told to adopt
        it), from the stream's recording: its first comments when it has none yet, else where it was. False when
        it is not (or no longer) ours, or the stream is over, or its lease is held by a stalled write or the start
        failed (adopted again soon, on the adopting thread)."""
        from simulator.ownership import LeaseBusy

        try:
            return self._adopt(stream_id)
        except LeaseBusy:
            self._busy.add(stream_id)
            self.adopt_soon()
            return False
        except Exception as e:  # its record names this process: nobody else would try again
            db.session.rollback()
            self._failed(stream_id, e, "could not adopt the audience of livestream %s; trying again soon")
            self._busy.add(stream_id)
            self.adopt_soon()
            return False

    def _adopt(self, stream_id: int) -> bool:
        liveness = self._liveness
        if stream_id in self._scripts:
            return True
        if liveness is None or redis_store.client.hget(self._owner_key(stream_id), "owner") != liveness.process_id:
            return False
        contact = db.session.get(Contact, stream_id)
        if contact is None or contact.channel != "livestream" or contact.status != "active":
            self._release(stream_id)
            return False
        return self.start(stream_id, resume=True) is not None

    def _worker_not_used(self, worker: str | None) -> None:
        """A worker ``_worker_for`` picked (its load counted up at once) that the audience did not go to after all (a
        compare-and-set on its record failed): its count taken back. Left counted, it looked busier than it is, and
        new customers and streams went elsewhere, until its next beat re-counted its load."""
        sim = self._simulator()
        if worker is None or sim is None:
            return
        try:
            sim.ownership.unpick_worker(worker)
        except redis.RedisError:
            log.warning("could not take back the load counted for simulator worker %s", worker)

    def _retry_busy(self, stream_id: int) -> None:
        """A "publishing" start gave up on the stream's lease (LeaseBusy: the audience's previous process, taken for
        dead, stopped in the middle of a comment's write). Nothing else would start the audience again: the dead
        hook may have run already, and no record named a live owner. So name this process the owner (unless another
        process placed the audience meanwhile) and take it over on the adopting thread, as a take-over whose lease
        was busy: again every second until the lease is free. With Redis failing, it is retried all the same: the
        pass reads the record again, and leaves the stream alone if another live process runs it by then."""
        liveness, key = self._liveness, self._owner_key(stream_id)
        try:
            owner = redis_store.client.hget(key, "owner") or None
            if owner != liveness.process_id:
                if owner is not None and liveness.is_alive(owner):
                    return  # another live process runs it (or took it over meanwhile)
                if not redis_store.client.eval(TAKE, 0, key, owner or "", liveness.process_id):
                    return  # another process took it first
        except redis.RedisError:  # not retried, the stream had no audience: no dead hook comes for it again
            log.warning("livestream %s: its lease is busy and Redis is failing; trying again soon", stream_id)
        else:
            log.warning("livestream %s: its lease is held by a stalled write; starting its audience soon", stream_id)
        self._busy.add(stream_id)
        self.adopt_soon()

    def _start_failed(self, stream_id: int, error: Exception) -> None:
        """A "publishing" start failed after its owner record was claimed for this process (``_place``): nobody else
        would start the audience (the record names a live process), so it is started again on the adopting thread,
        after a back-off, as a take-over whose start failed."""
        self._failed(stream_id, error, "could not start the audience of livestream %s; trying again soon")
        self._busy.add(stream_id)
        self.adopt_soon()

    def adopt_soon(self, process_id: str | None = None) -> None:
        """The liveness ``dead`` hook: go on with the dead process's audiences (``adopt_orphans``) on a thread of our
        own. A take-over waits for the audience's lease (up to simulator/ownership.py's LOCK_WAIT behind a stalled
        write) and replays the stream: run in the liveness thread, it held this process's beats back, and a process
        busy adopting was taken for dead in turn. Streams whose lease was busy are adopted again every second."""
        self._adopt_due.set()
        with self._lock:
            if self._adopter is None or not self._adopter.is_alive():
                self._adopter = threading.Thread(target=self._adopt_loop, name="livestream-adopt", daemon=True)
                self._adopter.start()

    _adopt_timer: tuple[threading.Timer, float] | None = None  # a pass to come, and when (monotonic)
    _adopt_failures = 0  # take-over passes failed in a row

    def _failed(self, stream_id: int, error: Exception, message: str) -> None:
        """Count a failure of the stream's take-over (a start that failed is tried again after a back-off) and log
        it: with its traceback the first time, and again only when it fails otherwise; a repeat goes to the debug
        log."""
        failures, said, _ = self._failing.get(stream_id, (0, None, 0.0))
        now_said = f"{type(error).__name__}: {error}"
        self._failing[stream_id] = (failures + 1, now_said, time.monotonic())
        if now_said != said:
            log.error(message, stream_id, exc_info=error)
        else:
            log.debug(message + " (%d failures in a row)", stream_id, failures + 1)

    def _mended(self, stream_id: int) -> None:
        """The stream's take-over no longer fails (it ran, or is nobody's to run here): say so if it had failed."""
        failed = self._failing.pop(stream_id, None)
        if failed is not None:
            log.warning("livestream %s: its take-over no longer fails (after %d failures)", stream_id, failed[0])

    def _retry_in(self, stream_id: int) -> float:
        """Seconds until a busy stream may be started again: a failed start's back-off, or 0."""
        failed = self._failing.get(stream_id)
        if failed is None:
            return 0.0
        failures, _, at = failed
        return max(0.0, at + backoff(failures, START_RETRY_SECONDS) - time.monotonic())

    def _adopt_later(self, delay: float) -> None:
        """Run a take-over pass (``adopt_soon``) in ``delay`` seconds, unless one is due sooner already."""
        at = time.monotonic() + delay
        with self._lock:
            if self._adopt_timer is not None:
                timer, due = self._adopt_timer
                if timer.is_alive() and due <= at:
                    return
                timer.cancel()
            timer = threading.Timer(delay, self.adopt_soon)
            timer.daemon = True
            timer.start()
            self._adopt_timer = (timer, at)

    def _adopt_loop(self) -> None:
        while True:
            self._adopt_due.wait()
            self._adopt_due.clear()
            ok = False
            with self.app.app_context():
                try:
                    ok = self._adopt_pass()[1]
                except Exception:
                    db.session.rollback()
                    if self._adopt_failures == 0:  # logged once: a failure for good would log on every retry
                        log.exception("could not adopt the livestream audiences of a dead process")
                    else:
                        log.debug("could not adopt the livestream audiences of a dead process", exc_info=True)
                finally:
                    db.session.remove()
            if ok:
                if self._adopt_failures:
                    log.warning("livestream take-over pass ran after %d failed ones", self._adopt_failures)
                self._adopt_failures = 0
            else:
                # The dead hook ran once, for a process nobody else will see die again: a pass that failed (the
                # database or Redis away) and left nothing in the retry set lost the dead process's audiences.
                self._adopt_failures += 1
                delay = backoff(self._adopt_failures, ADOPT_RETRY_SECONDS)
                said = log.warning if self._adopt_failures == 1 else log.debug
                said("livestream take-over pass failed; trying again in %.0f s", delay)
                self._adopt_later(delay)
            busy = list(self._busy)
            if busy:  # a stalled write held a lease (again in a second), or a start failed (after its back-off)
                self._adopt_later(max(min(self._retry_in(s) for s in busy), 1.0))

    def adopt_orphans(self, process_id: str | None = None) -> list[int]:
        """Go on with the audiences of live streams whose recorded owner stopped beating, or that have no owner
        record at all once the live state is settled (``_orphaned``: their process died while Redis was away):
        handed to a live simulator worker when one runs (not in a worker), else here; and with those taken over here
        whose lease a stalled write held then (LeaseBusy: their owner record names this process, so nobody else
        would). Returns the streams taken over (here or by the worker they were handed to)."""
        return self._adopt_pass()[0]

    def _adopt_pass(self) -> tuple[list[int], bool]:
        """``adopt_orphans``: (the streams taken over, whether every live stream could be looked at)."""
        liveness = self._liveness
        if liveness is None or self.app is None:
            return [], True
        taken, ok = [], True
        live = db.session.scalars(
            select(Contact.id).where(Contact.channel == "livestream", Contact.status == "active")
        ).all()
        self._busy.intersection_update(live)
        for stream_id in set(self._failing) - set(live):
            self._failing.pop(stream_id, None)
        for stream_id in live:
            try:
                if self._adopt_orphan(stream_id, liveness):
                    taken.append(stream_id)
            except Exception as e:  # one stream's failure (a record it cannot read, Redis blinking) stops no other's
                db.session.rollback()
                self._failed(stream_id, e, "could not adopt the audience of livestream %s")
                ok = ok and stream_id in self._busy  # a failed start is retried after its own back-off already
            else:
                if stream_id not in self._busy:
                    self._mended(stream_id)
        return taken, ok

    def _adopt_orphan(self, stream_id: int, liveness) -> bool:
        """``adopt_orphans`` for one live stream: True when its audience was taken over (here or by a worker)."""
        from simulator.ownership import LeaseBusy

        client = redis_store.client
        if stream_id in self._scripts:
            self._busy.discard(stream_id)
            return False
        owner = client.hget(self._owner_key(stream_id), "owner")
        if stream_id in self._busy and owner in (None, liveness.process_id):
            if self._retry_in(stream_id) > 0:
                return False  # ours, its start failed: again once its back-off is over
            # ours, its lease busy (or its start failed) the last time (its record lost with Redis: still ours)
        elif (owner and liveness.is_alive(owner)) or (not owner and not self._orphaned(stream_id, liveness)):
            # Its process is alive - for a busy one, a process that took it over since: not ours to retry (kept,
            # it woke this thread every second); or no audience recorded that anybody should be running.
            self._busy.discard(stream_id)
            return False
        else:
            worker = self._worker_for()
            if not client.eval(TAKE, 0, self._owner_key(stream_id), owner or "", worker or liveness.process_id):
                self._worker_not_used(worker)
                return False  # another process took it first
            if worker is not None:
                self._simulator()._send(worker, {"adopt": "livestream", "id": stream_id})
                log.warning("handed the audience of livestream %s from %s to %s", stream_id, owner, worker)
                return True
        self._busy.discard(stream_id)
        try:
            if self.start(stream_id, resume=True) is not None:
                log.warning("took over the simulated audience of livestream %s from %s", stream_id, owner)
                return True
        except LeaseBusy:
            db.session.rollback()
            self._busy.add(stream_id)
            self._failing.pop(stream_id, None)  # the start got as far as the lease: retried every second
            log.warning("livestream %s: its lease is held by a stalled write; taking it over soon", stream_id)
        except Exception:
            self._busy.add(stream_id)  # its record names this process now: nobody else would try again
            raise
        return False

    def _orphaned(self, stream_id: int, liveness) -> bool:
        """Whether a live stream with no owner record has an audience nobody runs: its presenter published (its
        audience was started then) and it has one, and the live state is settled - every live process has had time
        to put back the records Redis lost (simulator/recovery.py trusts a missing record the same way). Before the
        state is settled, such a stream is looked at again a beat later. One whose presenter published less than
        the liveness TTL ago is left to that "publishing" start for now (its process claims the record before it
        reads the recording, but not before the event is recorded: taken over in that moment, the stream had a
        second audience) and looked at again once that time is over - should that process have died meanwhile."""
        from clock import clock

        from .actions import livestream_settings

        contact = db.session.get(Contact, stream_id)
        if contact is None or not livestream_settings(contact).get("audience_size"):
            return False
        published = db.session.execute(
            select(ContactEvent.data, ContactEvent.ts).where(
                ContactEvent.contact_id == stream_id, ContactEvent.type == "livestream.publishing"
            )
        ).all()
        video = [float(ts) for data, ts in published if (data or {}).get("kind") == "video"]
        if not video:
            return False  # not started yet: the presenter's "publishing" starts it
        # Wall seconds since it published (the sandbox clock may run fast, or jump; one gone back gives no grace).
        age = (clock.timestamp() - max(video)) / (getattr(clock, "speed", 1.0) or 1.0)
        if 0 <= age < liveness.ttl:
            self._adopt_later(liveness.ttl - age + liveness.interval)
            return False
        if liveness.settled():
            return True
        self._adopt_later(liveness.interval)
        return False
