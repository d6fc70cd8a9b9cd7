"""The lease of a livestream's simulated audience (simulator/ownership.py): a mixin of Audiences.

The process that runs a stream's audience holds the lease on the stream contact's ``simulated_customers`` row
(``_take_lease``, before a start or a take-over reads the recording), and each comment it posts is fenced by it
(``_fence``). So a process taken for dead while only stalled posts nothing more once another took the audience over,
and lets it go (``_lease_lost``); once a second it also stops the audiences whose owner record names another process
and whose lease it no longer holds, and claims back the record of those whose lease it still holds
(``check_leases``). The owner record and the shared log are livestream/audience_stream.py's.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import redis

from extensions import db, redis_store

log = logging.getLogger(__name__)


class AudienceLeases:
    """The lease side of Audiences (which provides app, _scripts, _lock, _applied and _leases; from AudiencesAcross,
    _liveness, _owner_key, _claim and missed; from AudienceTakeover, adopt_soon)."""

    def _take_lease(self, stream_id: int, seed: int) -> int | None:
        """Hold the lease of the stream's audience (on the stream contact's ``simulated_customers`` row, with the
        audience's seed), before a take-over reads the recording: its comments are fenced by it from now on."""
        liveness = self._liveness
        if liveness is None:
            return None  # one process, nothing shared: nobody else can drive the audience
        from simulator.ownership import Ownership

        return Ownership(liveness.process_id).take_lease("contact", stream_id, seed=seed)

    @contextlib.contextmanager
    def _fence(self, stream_id: int, lease: int | None) -> Iterator[None]:
        """Record for the stream's audience only while this process holds its lease ``lease`` (LeaseLost otherwise,
        with nothing written). An audience without a lease here (no shared state) is not fenced."""
        liveness = self._liveness
        if lease is None or liveness is None:
            yield
            return
        from simulator.ownership import Ownership

        with Ownership(liveness.process_id).fenced("contact", stream_id, lease):
            yield

    def _lease_lost(self, stream_id: int, lease: int | None) -> None:
        """A comment fenced by ``lease`` was refused: another process runs this stream's audience now - let it go
        here, and point a Redis owner record that still names this process at the lease's holder (taken over from
        it if it is dead). Unless the audience is registered here under a newer lease than the refused comment's
        (another start of it in this process took the lease while the comment was on its way): that is the current
        one, and the audience goes on under it (its next comment, fenced by it, says whether it is still ours)."""
        from simulator.ownership import Ownership

        db.session.rollback()
        with self._lock:
            current = self._leases.get(stream_id)
            if stream_id in self._scripts and current is not None and current != lease:
                log.info(
                    "livestream %s: a comment under an older lease was refused; going on under %s", stream_id, current
                )
                return
            self._scripts.pop(stream_id, None)
            self._applied.pop(stream_id, None)
            self._leases.pop(stream_id, None)
        log.warning("the audience of livestream %s runs in another process now; letting it go", stream_id)
        if self._liveness is not None:
            Ownership(self._liveness.process_id).follow_holder("livestream", stream_id)
            # The holder may have died since it took the lease, its dead hook run while the record named this
            # process (re-announced after a Redis loss): a pass looks once, and takes over from a dead holder.
            self.adopt_soon()

    def _forget(self, stream_id: int) -> None:
        with self._lock:
            self._scripts.pop(stream_id, None)
            self._applied.pop(stream_id, None)
            self._leases.pop(stream_id, None)

    _lease_check_at = 0.0

    def check_leases(self) -> list[int]:
        """Once a second: stop (here) the audiences whose owner record names another process - this one was
        taken for dead on a stalled machine and they were taken over - so a stream never has two audiences. The
        lease decides, not the record: an audience whose lease this process still holds goes on here, and its record
        is claimed back (another start of it, overlapping this one's, claimed the record last but took the older
        lease: its comments are refused and it lets the audience go; on the record's word, both did)."""
        liveness, now = self._liveness, time.monotonic()
        if liveness is None or now < self._lease_check_at or not self._scripts:
            return []
        self._lease_check_at = now + 1.0
        streams = list(self._scripts)
        try:
            pipe = redis_store.client.pipeline(transaction=False)
            for stream_id in streams:
                pipe.hget(self._owner_key(stream_id), "owner")
            owners = pipe.execute()
        except redis.RedisError:
            return []
        named = {s: o for s, o in zip(streams, owners, strict=True) if o and o != liveness.process_id}
        held = self._still_held(list(named)) if named else set()
        lost = [s for s in named if s not in held]
        for stream_id in held:
            log.warning("livestream %s: its owner record named another process, but its lease is ours", stream_id)
            self._claim(stream_id, over=named[stream_id])
        if held:  # meanwhile the log handed the presenter's events to the process named, which runs no audience
            self.missed()
        for stream_id in lost:
            log.warning("the audience of livestream %s runs in another process now; letting it go", stream_id)
            self._forget(stream_id)
        return lost

    def _still_held(self, streams: list[int]) -> set[int]:
        """Of ``streams``, those whose audience's lease this process still holds (the database decides); none when
        it cannot be read (the record's word is taken, as before)."""
        from simulator.ownership import Ownership

        ownership = Ownership(self._liveness.process_id)
        with self.app.app_context():
            try:
                return {s for s in streams if ownership.holds("contact", s, self._leases.get(s))}
            except Exception:
                db.session.rollback()
                log.exception("could not read the leases of livestream audiences")
                return set()
            finally:
                db.session.remove()
