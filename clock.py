"""One injectable clock for the whole sandbox.

Everything that reads the time (events, SLA clocks, ACW timers, customer patience) calls ``clock.now()``
or ``clock.monotonic()``, so tests and simulations can run the sandbox faster than real time.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """Wall clock scaled by ``speed`` from the moment it was (re)started; ``advance`` jumps it forward."""

    def __init__(self, speed: float = 1.0):
        self._lock = threading.Lock()
        self.configure(speed)

    def configure(self, speed: float = 1.0) -> None:
        with self._lock:
            self.speed = float(speed)
            self._origin_real = time.time()
            self._origin_virtual = self._origin_real
            self._offset = 0.0

    def timestamp(self) -> float:
        """Seconds since the epoch on the sandbox clock."""
        real = time.time()
        return self._origin_virtual + (real - self._origin_real) * self.speed + self._offset

    def now(self) -> datetime:
        """Timezone-aware UTC now on the sandbox clock."""
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def advance(self, seconds: float) -> None:
        """Jump the sandbox clock forward (tests and fast simulations)."""
        with self._lock:
            self._offset += seconds

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of sandbox time."""
        time.sleep(max(0.0, seconds) / self.speed)


clock = Clock()
