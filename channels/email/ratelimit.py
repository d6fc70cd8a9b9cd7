"""A sliding-window count of accepted messages per key (an envelope sender, a client address), in bounded memory.

A flood that rotates its key (a new sender for every message) must not grow the table without end: when it
holds ``max_keys`` keys, the expired ones are swept, and if it is still full the least recently used key is
forgotten (a forgotten key only starts its count again; it is never refused by mistake).
"""

from __future__ import annotations

from collections import OrderedDict, deque

MAX_KEYS = 10_000


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key. Not thread-safe: the SMTP handler uses it on the
    media loop only."""

    def __init__(self, limit: int, window: float, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._times: OrderedDict[str, deque] = OrderedDict()

    def __len__(self) -> int:
        return len(self._times)

    def _expire(self, key: str, now: float) -> deque | None:
        times = self._times.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._times[key]
            return None
        return times

    def over(self, key: str, now: float) -> bool:
        """Whether ``key`` has used up its allowance for now."""
        times = self._expire(key, now)
        return times is not None and len(times) >= self.limit

    def hit(self, key: str, now: float) -> None:
        """Count one accepted message for ``key``."""
        times = self._expire(key, now)
        if times is None:
            if len(self._times) >= self.max_keys:
                for old in list(self._times):
                    self._expire(old, now)
                while len(self._times) >= self.max_keys:
                    self._times.popitem(last=False)
            times = self._times[key] = deque()
        self._times.move_to_end(key)
        times.append(now)
