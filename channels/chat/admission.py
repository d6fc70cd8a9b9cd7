"""Admission control at the chat's door: past what this web process can serve, a new customer is refused with a
clear message ("the queue is full, try again later or write to us by email") instead of being let in to slow down
every conversation already running.

A contact centre does this at the trunk: a queue holds so many calls, and the next caller hears "all lines are
busy" rather than joining a wait nobody will answer in time. Here the scarce thing is the web process's one core
(bench/README.md, chat_load: one gevent process held 1,000-1,500 conversations at the stress pace and not 2,000,
where p99 went to ~0.6 s and sockets dropped). Four limits, each in config (0 switches it off):

- ``CHAT_MAX_LIVE`` (``KEFU_CHAT_MAX_LIVE``): customer chat sockets this process serves. A seat is taken by a
  ``start`` and by a ``resume`` (a reconnecting customer is never refused: their chat was accepted), and given
  back by ``leave`` or the socket closing. The cap counts sockets, not contacts: an ended chat whose page stays
  open (the CSAT survey) keeps its seat until the customer leaves or closes the page.
- ``CHAT_START_RATE`` / ``CHAT_START_BURST``: new chats a second (a start costs several commits and the ACD's
  dispatch; a burst of thousands at once would starve the running chats for seconds).
- ``CHAT_SHED_LAG_MS``: new chats are refused while this process's event loop runs late by more than this
  (smoothed): whatever the counts say, a late loop means the process is past its capacity now (a slower
  machine, other work on it, a heavier pace than the one measured).
- ``CHAT_SHED_BUSY``: under gevent, new chats are refused while the serving thread is runnable (on a core or
  waiting for one, from ``/proc/thread-self/schedstat``) more than this share of the time (smoothed over ~2 s).
  An event loop that never idles has a backlog, and the backlog hides from the lag probe: the loop's timers still
  fire every turn while the sockets' unread packets wait in the kernel. On a busy machine (other processes on the
  cores) the wait for a core counts too, and that is right: the process then serves less than its measured
  capacity. (chat_load, other work holding 1.4 of the 2 cores: 1,500 seats admitted under a lag of < 250 ms, then
  13 s round trips and 688 sockets dropped.)

Each web process has its own door (``door(app)``): in a cluster the proxy spreads customers, and the centre's
capacity is the sum. Only ``start`` is ever refused; nothing already accepted is dropped or refused.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

EXT = "kefu_chat_door"
REFUSED = "queue_full"  # the ack's ``code`` for every refusal at the door: clients read this, not the text
LAG_PERIOD = 0.1  # seconds between two wake-ups of the lag probe
LAG_SMOOTHING = 0.3  # weight of the newest lag sample: one GC pause alone does not shut the door
BUSY_EVERY = 5  # lag readings between two busy readings (0.5 s)
BUSY_SMOOTHING = 0.3  # weight of the newest busy reading (~2 s to cross the threshold from idle)


@dataclass(frozen=True)
class Refusal:
    """Why the door said no: ``reason`` is ``capacity``, ``start_rate``, ``lag`` or ``busy``; ``retry_after`` in
    seconds."""

    reason: str
    retry_after: int


class Door:
    """The admission state of one web process. Thread-safe (threading mode); under gevent its lock is gevent's."""

    def __init__(
        self,
        max_live: int,
        start_rate: float,
        start_burst: float,
        shed_lag_ms: float,
        shed_busy: float = 0.0,
        clock=time.monotonic,
    ) -> None:
        self.max_live, self.start_rate = max(0, int(max_live)), max(0.0, float(start_rate))
        self.start_burst = max(1.0, float(start_burst))
        self.shed_lag = max(0.0, float(shed_lag_ms)) / 1000.0
        self.shed_busy = max(0.0, float(shed_busy))
        self._clock = clock
        self._lock = threading.Lock()
        self._seats: set[str] = set()  # the sids holding a seat
        self._tokens, self._refilled = self.start_burst, clock()
        self.lag = 0.0  # smoothed event-loop lag, seconds
        self.busy = 0.0  # smoothed share of the time the serving thread was runnable
        self.refused: dict[str, int] = {"capacity": 0, "start_rate": 0, "lag": 0, "busy": 0}
        self._logged = 0.0

    @property
    def live(self) -> int:
        return len(self._seats)

    def admit(self, sid: str) -> Refusal | None:
        """A new chat on socket ``sid``: take a seat (kept if the socket holds one already) and a start token,
        or say why not. The seat is taken here, before the chat is opened, so concurrent starts cannot overshoot
        the cap; ``release`` it if the start then fails."""
        with self._lock:
            refusal = self._refusal(sid)
            if refusal is None:
                self._seats.add(sid)
                return None
            self.refused[refusal.reason] += 1
        self._log_refusals()
        return refusal

    def _refusal(self, sid: str) -> Refusal | None:
        if self.shed_lag and self.lag > self.shed_lag:
            return Refusal("lag", 30)
        if self.shed_busy and self.busy > self.shed_busy:
            return Refusal("busy", 30)
        if self.max_live and sid not in self._seats and len(self._seats) >= self.max_live:
            return Refusal("capacity", 60)
        if self.start_rate:
            now = self._clock()
            self._tokens = min(self.start_burst, self._tokens + (now - self._refilled) * self.start_rate)
            self._refilled = now
            if self._tokens < 1:
                return Refusal("start_rate", 10)
            self._tokens -= 1
        return None

    def seated(self, sid: str) -> bool:
        return sid in self._seats

    def hold(self, sid: str) -> None:
        """Socket ``sid`` carries an accepted chat (a resume): it has a seat, over the cap if need be."""
        with self._lock:
            self._seats.add(sid)

    def release(self, sid: str) -> None:
        """Socket ``sid`` left its chat or closed: its seat is free."""
        with self._lock:
            self._seats.discard(sid)

    def note_lag(self, seconds: float) -> None:
        """One reading of the lag probe: how much later than asked the event loop woke up. A reading counts at most
        twice the threshold: one long stall (a model loaded on first use, ~4 s) is one reading and must not shut
        the door by itself; two late readings in a row do."""
        sample = min(max(0.0, seconds), 2 * self.shed_lag) if self.shed_lag else max(0.0, seconds)
        self.lag = (1 - LAG_SMOOTHING) * self.lag + LAG_SMOOTHING * sample

    def note_busy(self, share: float) -> None:
        """One busy reading: the share of the last interval the serving thread was on a core or waiting for one."""
        self.busy = (1 - BUSY_SMOOTHING) * self.busy + BUSY_SMOOTHING * min(1.0, max(0.0, share))

    def _log_refusals(self) -> None:
        # One line every 10 s at most while refusing: the operator learns the door is shut, the log stays small.
        now = self._clock()
        if now - self._logged >= 10:
            self._logged = now
            log.warning(
                "chat door: refusing new chats (%d live of %s, lag %.0f ms, busy %.0f%%); refused so far %s",
                self.live,
                self.max_live or "no cap",
                self.lag * 1000,
                self.busy * 100,
                self.refused,
            )


def door(app) -> Door:
    """This web process's door (made on first use from the app's config)."""
    d = app.extensions.get(EXT)
    if d is None:
        c = app.config
        d = app.extensions[EXT] = Door(
            c.get("CHAT_MAX_LIVE", 0),
            c.get("CHAT_START_RATE", 0),
            c.get("CHAT_START_BURST", 1),
            c.get("CHAT_SHED_LAG_MS", 0),
            c.get("CHAT_SHED_BUSY", 0),
        )
    return d


def _schedstat() -> tuple[float, float] | None:
    """(seconds on a core, seconds waiting for one) of the calling OS thread, or None where Linux's schedstat is
    not there."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            on_cpu, waiting, _ = f.read().split()
    except (OSError, ValueError):
        return None
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def start_lag_probe(app) -> None:
    """Measure this process's event-loop lag for the door, on the server's own kind of task (a greenlet under
    gevent, a thread in threading mode, where the lateness is the wait for the GIL), and under gevent how busy the
    serving thread is (the probe's greenlet runs on it). Started with the web server's background services; a
    process that serves no sockets has nothing to shed on."""
    from concurrency import gevent_active
    from extensions import socketio

    d = door(app)
    busy = d.shed_busy and gevent_active() and _schedstat() is not None
    if not d.shed_lag and not busy:
        return

    def probe() -> None:
        last, n = (time.monotonic(), _schedstat()) if busy else (0.0, None), 0
        while True:
            t = time.monotonic()
            socketio.sleep(LAG_PERIOD)
            d.note_lag(time.monotonic() - t - LAG_PERIOD)
            n += 1
            if busy and n % BUSY_EVERY == 0:
                now, stat = time.monotonic(), _schedstat()
                (t0, s0) = last
                d.note_busy((stat[0] - s0[0] + stat[1] - s0[1]) / max(1e-6, now - t0))
                last = (now, stat)

    socketio.start_background_task(probe)
