"""Livestream audiences across processes (issue 18): a mixin of Audiences.

A stream's simulated audience starts in the web process that took the media worker's "publishing" event (any
process of the centre: media events are a shared queue), which need not be the process serving the presenter.
So the audience's process holds an owner record (``sim:livestream:<stream>``), and what the presenter does
(answers, pins, replies, a move to a one-to-one chat, the end) reaches it through the shared event log
(contacts/stream.py, kind ``livestream_audience``: whichever process gets an entry forwards it to the owner's
inbox). Each event is applied once per stream by its sequence number, however it came. Only served processes
(their liveness supervisor running) consume the log; tests drive ``on_stream`` by hand.

While a simulator worker (``flask simulator worker``) is alive, the audience is not run by a web process at all: the
process that takes the "publishing" event names the least loaded live worker the owner (compare-and-set) and tells
it to adopt the stream (a message in the worker's inbox, simulator/workers.py); the worker runs it from the stream's
recording. A second "publishing" (the presenter reconnected) leaves an audience whose owner is alive where it is.
Where it starts, the record names the process before the start reads the recording (``_place``), so that no take-over
pass elsewhere takes the published stream for an orphan meanwhile. An event the log could not hand to the audience's
process (Redis lost the record or the log; the record named another process until it was claimed back) is applied
from the recording on the audiences' thread (``missed``, ``catch_up_if_due``).

A stream's audience goes on from the stream's recording wherever it starts (``_replay``, then ``_catch_up``): the
same viewers, what they asked and who asked it first, the needs answered, the thanks already said, the complainer
moved to a chat or not, and when they last complained; each of those events counts as applied. Its comments go on
from a random state of their own (seeded by the stream's seed and the comments already made), so the audience does
not say its first comments over again. Taking over the audience of a process that died, or of one whose owner record
Redis lost, is livestream/audience_takeover.py's.

The audience's writes are fenced by its lease (simulator/ownership.py): a process taken for dead while only stalled
posts nothing more once another took the audience over, and lets it go (``_lease_lost``, ``check_leases``).
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Iterator

import redis
from sqlalchemy import select

from contacts.models import ContactEvent, event_dict
from contacts.stream import StreamKind, get_event_log
from extensions import db, redis_store

# The owner record's compare-and-set and compare-and-delete: the simulated customers' scripts (one copy).
from simulator.ownership import RELEASE, TAKE  # noqa: F401  (TAKE: audience_takeover's and the tests' name here)

log = logging.getLogger(__name__)
ANSWERS = ("livestream.answered", "livestream.pinned", "livestream.reply")

AUDIENCE_KIND = "livestream_audience"
WATCHED = frozenset(
    {"livestream.answered", "livestream.pinned", "livestream.reply", "livestream.moved_to_chat", "contact.ended"}
)


class AudiencesAcross:
    """The shared-log side of Audiences (which provides app, start, _scripts, _lock, _apply, _applied and _leases; and,
    from AudienceTakeover, adopt_soon and _adopt_later)."""

    _consumer = None

    @property
    def _liveness(self):
        return self.app.extensions.get("kefu_liveness") if self.app is not None else None  # routing/liveness.py

    @staticmethod
    def _owner_key(stream_id: int) -> str:
        return redis_store.key("sim", "livestream", stream_id)

    def _claim(self, stream_id: int, *, over: str | None = None) -> bool:
        """Say this process runs the stream's audience (compare-and-set: when the record is missing, names this process,
        a dead one or ``over`` - the owner ``check_leases`` found while the lease is ours), and consume the log if this
        is a served process. A record naming another live process, which has just taken the stream, is left to it
        (logged): the lease decides which goes on. Overwritten, both believed they ran the audience. True: ours."""
        liveness = self._liveness
        if liveness is None:
            return True
        claimed = False
        try:
            claimed = self._claim_record(stream_id, liveness.process_id, liveness.is_alive, over)
        except redis.RedisError:  # put back by ``reannounce`` once Redis is rebuilt
            log.warning("could not record the owner of livestream %s's audience", stream_id)
        if liveness.running and (self._consumer is None or self._consumer.log.app is not self.app):
            kind = StreamKind(
                AUDIENCE_KIND, handle=self.on_stream, owner_of=self._owner_of, types=WATCHED, regrouped=self.missed
            )
            self._consumer = get_event_log(self.app).consumer(kind)
            self._consumer.start()
        return claimed

    def _claim_record(self, stream_id: int, me: str, is_alive, over: str | None) -> bool:
        key = self._owner_key(stream_id)
        owner = redis_store.client.hget(key, "owner") or None
        if owner == me:
            return True
        if owner is not None and owner != over and is_alive(owner):
            log.warning("livestream %s: its owner record names %s, a live process; left to it", stream_id, owner)
            return False
        if redis_store.client.eval(TAKE, 0, key, owner or "", me):
            return True
        now = redis_store.client.hget(key, "owner")
        log.warning("livestream %s: its owner record was taken by %s meanwhile; left to it", stream_id, now)
        return now == me

    def _release(self, stream_id: int) -> None:
        """Drop the stream's owner record if it still names this process, in one step (compare-and-delete): a read
        then a delete dropped the record of a process that took the audience over in between, and the stream's
        audience ran with no record - the log passed its presenter's events over, and a take-over pass trusting the
        missing record started a second audience."""
        liveness = self._liveness
        if liveness is None:
            return
        try:
            redis_store.client.eval(RELEASE, 0, self._owner_key(stream_id), liveness.process_id)
        except redis.RedisError:
            log.warning("could not drop the owner record of livestream %s's audience", stream_id)

    def _owner_of(self, payload: dict) -> str | None:
        stream_id = (payload.get("event") or {}).get("contact_id")
        if stream_id is None:
            return None
        return redis_store.client.hget(self._owner_key(stream_id), "owner") or None

    def _simulator(self):
        return self.app.extensions.get("kefu_simulator") if self.app is not None else None  # simulator/engine.py

    def _worker_for(self) -> str | None:
        """The live simulator worker to run an audience (least loaded); None in a worker or with none alive."""
        sim = self._simulator()
        return sim._delegate_to() if sim is not None else None

    def _place(self, stream_id: int) -> bool:
        """Whether a stream's audience runs elsewhere, decided before starting it here: its recorded owner is another
        live process (a reconnecting presenter's second "publishing" must not start a second audience), or it is
        now handed to a live simulator worker. Where it starts, it goes on from the stream's recording. When it
        starts here, the owner record names this process from now on (compare-and-set), before the start takes the
        lease and replays the recording: with no record meanwhile, a take-over pass elsewhere took the published
        stream for one whose process died with Redis and started a second audience (audience_takeover.py)."""
        liveness = self._liveness
        if liveness is None:
            return False
        key, worker = self._owner_key(stream_id), None
        try:
            owner = redis_store.client.hget(key, "owner") or None
            if owner is not None and owner != liveness.process_id and liveness.is_alive(owner):
                return True
            worker = self._worker_for()
            if not redis_store.client.eval(TAKE, 0, key, owner or "", worker or liveness.process_id):
                # Another process placed it meanwhile (or another start of it here did: this one joins it).
                self._worker_not_used(worker)
                return redis_store.client.hget(key, "owner") != liveness.process_id
        except redis.RedisError:
            self._worker_not_used(worker)
            return False  # Redis away: run it here (its record is put back by ``reannounce``)
        if worker is None:
            return False
        self._simulator()._send(worker, {"adopt": "livestream", "id": stream_id})
        log.info("the simulated audience of livestream %s goes to simulator worker %s", stream_id, worker)
        return True

    def size(self, contact) -> int:
        """How many simulated viewers the stream has, wherever its audience runs (a simulator worker's too)."""
        script = self._scripts.get(contact.id)
        if script is not None:
            return len(script.viewers)
        try:
            elsewhere = redis_store.client.hget(self._owner_key(contact.id), "owner")
        except redis.RedisError:
            elsewhere = None
        if not elsewhere:
            return 0
        from .actions import livestream_settings

        return int(livestream_settings(contact).get("audience_size") or 0)

    def live_count(self) -> int:
        """How many streams' audiences run here (a simulator worker's load)."""
        return len(self._scripts)

    def on_stream(self, payload: dict) -> None:
        """An event recorded by another process (the presenter's) on a stream whose audience runs here."""
        ev = payload.get("event") or {}
        if ev.get("contact_id") in self._scripts:
            self._apply(ev)

    def reannounce(self) -> None:
        """The liveness ``reannounce`` hook: Redis lost the owner records; put back those of our audiences. And once
        every live process has had time to put back its own (``Liveness.settled``), run a take-over pass: an audience
        whose process died while Redis was away has no record now, and no dead hook runs for that process (the loss
        took its heartbeat and the process list), so only a pass that trusts a missing record takes it over. Our
        audiences catch up on what was recorded while their records were missing (``missed``)."""
        with self._lock:
            streams = list(self._scripts)
        for stream_id in streams:
            self._claim(stream_id)
        self.missed()  # after the claims: what is recorded from now on comes by the log again
        liveness = self._liveness
        if liveness is not None:
            self._adopt_later(liveness.ttl + 2 * liveness.interval)

    _catch_up_at: float | None = None  # when the running audiences catch up on the recording (monotonic)
    _catch_up_failed = False

    def missed(self) -> None:
        """Redis lost the owner records or the log (the ``reannounce`` hook; the log's consumer re-making its groups),
        or a record that named another process was claimed back (``check_leases``): a presenter's answer recorded
        meanwhile by another process was passed over by the log (no record named an owner, or its entry went with
        the log) or handed to the process named, which runs no audience of the stream and dropped it; the audience
        would keep asking an answered question. The audiences' thread catches up from the recording on its next tick
        (``catch_up_if_due``): not here, on the liveness thread, whose beats a slow database would hold back."""
        self._catch_up_at = time.monotonic()

    def catch_up_if_due(self) -> int:
        """On the audiences' thread: apply to each audience running here the presenter's events recorded on its
        stream that it has not applied, in order (each once, by its sequence number). Tried again a second later
        when the database cannot be read (logged once). Returns how many were applied."""
        due = self._catch_up_at
        if due is None or time.monotonic() < due:
            return 0
        self._catch_up_at = None
        with self._lock:
            streams = {s: set(self._applied.get(s, ())) for s in self._scripts}
        if not streams:
            return 0
        applied = 0
        with self.app.app_context():
            try:
                rows = db.session.scalars(
                    select(ContactEvent)
                    .where(ContactEvent.contact_id.in_(list(streams)), ContactEvent.type.in_(sorted(WATCHED)))
                    .order_by(ContactEvent.contact_id, ContactEvent.seq)
                ).all()
                for row in rows:
                    if row.seq not in streams[row.contact_id]:
                        self._apply(event_dict(row))
                        applied += 1
                self._catch_up_failed = False
            except Exception:
                db.session.rollback()
                if self._catch_up_at is None:
                    self._catch_up_at = time.monotonic() + 1.0
                if not self._catch_up_failed:
                    log.exception("livestream audiences could not catch up on the recording; trying again")
                self._catch_up_failed = True
            finally:
                db.session.remove()
        if applied:
            log.warning("livestream audiences caught up on %d recorded event(s) the log passed over", applied)
        return applied

    # -- the lease (simulator/ownership.py): a process taken for dead while only stalled posts nothing more ---------

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

    def _catch_up(self, stream_id: int, replayed: set[int]) -> None:
        """Apply to a resumed audience, just registered, what was recorded on the stream after its replay read the
        recording: the presenter's answer recorded in between reached no running audience (the log passed it over
        for the dead owner, or handed it to this process before the audience was registered here). Each event is
        applied once (by its sequence number), so one that also comes from the log changes nothing."""
        rows = db.session.scalars(
            select(ContactEvent)
            .where(
                ContactEvent.contact_id == stream_id,
                ContactEvent.seq > max(replayed, default=0),
                ContactEvent.type.in_(sorted(WATCHED)),
            )
            .order_by(ContactEvent.seq)
        ).all()
        for row in rows:
            self._apply(event_dict(row))

    def _replay(self, stream_id: int, script) -> set[int]:
        """Bring ``script`` to where the stream's recording left its audience; returns the seqs applied."""
        applied, made = set(), 0
        events = db.session.scalars(
            select(ContactEvent).where(ContactEvent.contact_id == stream_id).order_by(ContactEvent.seq)
        )
        for ev in events:
            applied.add(ev.seq)
            data = ev.data or {}
            viewer = data.get("viewer")
            if ev.type == "livestream.comment" and data.get("sim"):
                made += 1
                kind, need = data["sim"].get("kind"), data["sim"].get("need")
                if kind == "complaint":
                    script.last_complaint = float(ev.ts)
                elif kind in ("question", "repeat") and need:
                    script.asked.setdefault(need, viewer)
                    script.last_need[viewer] = need
                elif kind == "thanks" and need:
                    script.thanked.add(need)
            elif ev.type in ANSWERS and viewer:
                script.on_answered(script.last_need.get(viewer), viewer)
            elif ev.type == "livestream.moved_to_chat":
                script.on_moved(viewer)
        if made:  # go on from a random state of its own, not its first comments again
            script.rng = random.Random(f"{script.seed}|{made}")
        return applied
