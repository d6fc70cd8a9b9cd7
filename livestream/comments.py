"""Live-chat comments at scale: a per-viewer rate limit (Redis, shared by every web process) and a batcher
that turns many comments into one emit per stream every ``LIVESTREAM_BATCH_MS`` (DESIGN.md: threading-mode
broadcast collapses when every comment is its own emit to hundreds of sockets)."""

from __future__ import annotations

import logging
import threading
import time

from flask import current_app

from contacts.actions import ActionError
from contacts.events import contact_room, send_event
from extensions import redis_store

log = logging.getLogger(__name__)


# A sliding window per viewer, atomic in Redis (every web process shares it): drop stamps older than the
# window, count, and add this one only when under the limit. Returns 0 when allowed, else the oldest stamp.
_RATE_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
return 0
"""
_rate_script = None


def check_rate(stream_id: int, viewer: str) -> None:
    """Allow ``LIVESTREAM_COMMENTS_PER_WINDOW`` comments per viewer in any ``LIVESTREAM_COMMENT_WINDOW``
    seconds; beyond that, ActionError saying when to try again (the comment is not recorded)."""
    global _rate_script
    window = float(current_app.config["LIVESTREAM_COMMENT_WINDOW"])
    limit = int(current_app.config["LIVESTREAM_COMMENTS_PER_WINDOW"])
    if _rate_script is None or _rate_script.registered_client is not redis_store.client:
        _rate_script = redis_store.client.register_script(_RATE_LUA)
    now = time.time()
    oldest = float(
        _rate_script(
            keys=[redis_store.key("live", stream_id, "rate", viewer)],
            args=[now, window, limit, f"{now:.6f}:{threading.get_ident()}"],
        )
    )
    if oldest:
        wait = max(1, int(oldest + window - now + 0.999))
        raise ActionError(f"slow down: at most {limit} comments every {window:g} seconds; try again in {wait} s")


class CommentBatcher:
    """Collects public comments per stream and emits them as one ``livestream_comments`` event per interval.

    One daemon thread per process serves every stream; it starts with the first comment. ``flush`` sends a
    stream's pending comments at once (before the stream's end event).
    """

    def __init__(self) -> None:
        self._pending: dict[int, list[dict]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.interval = 0.15
        self.batches_sent = 0

    def configure(self, app) -> None:
        self.interval = app.config["LIVESTREAM_BATCH_MS"] / 1000.0

    def add(self, stream_id: int, comment: dict) -> None:
        with self._lock:
            self._pending.setdefault(stream_id, []).append(comment)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="livestream-batcher", daemon=True)
                self._thread.start()

    def flush(self, stream_id: int | None = None) -> None:
        with self._lock:
            if stream_id is None:
                batches, self._pending = self._pending, {}
            else:
                batches = {stream_id: self._pending.pop(stream_id)} if stream_id in self._pending else {}
        for sid, comments in batches.items():
            self._emit(sid, comments)

    def _emit(self, stream_id: int, comments: list[dict]) -> None:
        from .actions import stream_room

        payload = {"type": "livestream_comments", "stream_id": stream_id, "comments": comments}
        send_event(payload, [("/livestream", stream_room(stream_id)), ("/floor", contact_room(stream_id))])
        self.batches_sent += 1

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.flush()
            except Exception:  # a failed emit is logged; the comments are recorded already
                log.exception("livestream comment batch failed")


batcher = CommentBatcher()
