"""Socket.IO acknowledgements for refused actions, shared by the desk and customer namespaces."""

from __future__ import annotations

import functools
import logging
import threading
import time

from flask import request

from contacts.actions import ActionError
from extensions import db

log = logging.getLogger(__name__)


def ack_errors(fn):
    """Turn a refused action (ActionError) into an ``{"ok": false, "error": ...}`` ack and roll back; the
    session is released after every event, so a long-lived socket thread never holds a stale one."""

    @functools.wraps(fn)
    def wrapped(self, data=None):
        try:
            return fn(self, data)
        except ActionError as e:
            db.session.rollback()
            return {"ok": False, "error": str(e)}
        except Exception:  # e.g. the database is overloaded: say so; the client may resend with its client_id
            log.exception("socket event %s failed", fn.__name__)
            db.session.rollback()
            return {"ok": False, "error": "the server could not do this now; it has been logged, try again"}
        finally:
            db.session.remove()

    return wrapped


class ConnectionRateLimit:
    """A token bucket per Socket.IO connection (``rate`` events a second, bursts up to ``burst``), for the
    namespaces anyone with a customer token may use. ``forget(sid)`` on disconnect."""

    def __init__(self, rate: float = 5.0, burst: float = 10.0):
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def allow(self, sid: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(sid, [self.burst, now])
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[sid] = [tokens, now]
                return False
            self._buckets[sid] = [tokens - 1, now]
            return True

    def forget(self, sid: str) -> None:
        with self._lock:
            self._buckets.pop(sid, None)

    def handler(self, fn):
        """Rate-limit per connection, insist on a JSON object, and ack refusals with their reason."""

        @functools.wraps(fn)
        def checked(ns, data=None):
            if not self.allow(request.sid):
                return {"ok": False, "error": "too many messages; slow down"}
            if not isinstance(data, dict):
                raise ActionError("expected a JSON object")
            return fn(ns, data)

        return ack_errors(checked)
