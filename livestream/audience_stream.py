"""Livestream audiences across processes (issue 18): a mixin of Audiences.

A stream's simulated audience starts in the web process that took the media worker's "publishing" event (any
process of the centre: media events are a shared queue), which need not be the process serving the presenter.
So the audience's process holds an owner record (``sim:livestream:<stream>``), and what the presenter does
(answers, pins, replies, a move to a one-to-one chat, the end) reaches it through the shared event log
(contacts/stream.py, kind ``livestream_audience``: whichever process gets an entry forwards it to the owner's
inbox). Each event is applied once per stream by its sequence number, however it came. Only served processes
(their liveness supervisor running) consume the log; tests drive ``on_stream`` by hand.
"""

from __future__ import annotations

import logging

import redis

from contacts.stream import StreamKind, get_event_log
from extensions import redis_store

log = logging.getLogger(__name__)

AUDIENCE_KIND = "livestream_audience"
WATCHED = frozenset(
    {"livestream.answered", "livestream.pinned", "livestream.reply", "livestream.moved_to_chat", "contact.ended"}
)


class AudiencesAcross:
    """The shared-log side of Audiences (which provides app, _scripts, _lock and _apply)."""

    _consumer = None

    @property
    def _liveness(self):
        return self.app.extensions.get("kefu_liveness") if self.app is not None else None  # routing/liveness.py

    @staticmethod
    def _owner_key(stream_id: int) -> str:
        return redis_store.key("sim", "livestream", stream_id)

    def _claim(self, stream_id: int) -> None:
        """Say this process runs the stream's audience, and consume the log if this is a served process."""
        liveness = self._liveness
        if liveness is None:
            return
        try:
            redis_store.client.hset(self._owner_key(stream_id), "owner", liveness.process_id)
        except redis.RedisError:  # put back by ``reannounce`` once Redis is rebuilt
            log.warning("could not record the owner of livestream %s's audience", stream_id)
        if liveness.running and (self._consumer is None or self._consumer.log.app is not self.app):
            kind = StreamKind(AUDIENCE_KIND, handle=self.on_stream, owner_of=self._owner_of, types=WATCHED)
            self._consumer = get_event_log(self.app).consumer(kind)
            self._consumer.start()

    def _release(self, stream_id: int) -> None:
        liveness = self._liveness
        if liveness is None:
            return
        try:
            key = self._owner_key(stream_id)
            if redis_store.client.hget(key, "owner") == liveness.process_id:
                redis_store.client.delete(key)
        except redis.RedisError:
            log.warning("could not drop the owner record of livestream %s's audience", stream_id)

    def _owner_of(self, payload: dict) -> str | None:
        stream_id = (payload.get("event") or {}).get("contact_id")
        if stream_id is None:
            return None
        return redis_store.client.hget(self._owner_key(stream_id), "owner") or None

    def on_stream(self, payload: dict) -> None:
        """An event recorded by another process (the presenter's) on a stream whose audience runs here."""
        ev = payload.get("event") or {}
        if ev.get("contact_id") in self._scripts:
            self._apply(ev)

    def reannounce(self) -> None:
        """The liveness ``reannounce`` hook: Redis lost the owner records; put back those of our audiences."""
        with self._lock:
            streams = list(self._scripts)
        for stream_id in streams:
            self._claim(stream_id)
