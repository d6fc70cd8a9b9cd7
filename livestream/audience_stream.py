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

The lease that fences the audience's writes is livestream/audience_lease.py's.
"""

from __future__ import annotations

import logging
import random
import time

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
    """The shared-log side of Audiences (which provides app, start, _scripts, _lock, _apply and _applied; and, from
    AudienceTakeover, _adopt_later)."""

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
                if self._answers(ev.type, ev.text, script.lang):
                    script.on_answered(script.last_need.get(viewer), viewer)
            elif ev.type == "livestream.moved_to_chat":
                script.on_moved(viewer)
        if made:  # go on from a random state of its own, not its first comments again
            script.rng = random.Random(f"{script.seed}|{made}")
        return applied
