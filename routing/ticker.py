"""One background ticker thread per app, running registered periodic callbacks (ACW expiry and dispatch,
the simulator's arrivals...) every ``TICK_SECONDS`` of real time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

PERIODIC_KEY = "kefu_periodic"
TICKER_KEY = "kefu_ticker"


class Ticker:
    """A daemon thread calling each callback inside its own app context; a failing callback is logged and the
    thread goes on (one bad tick must not stop ACW expiry or arrivals)."""

    def __init__(self, app, interval: float) -> None:
        self.app = app
        self.interval = max(0.01, float(interval))
        self.ticks = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def callbacks(self) -> list[Callable[[], None]]:
        return self.app.extensions.setdefault(PERIODIC_KEY, [])

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kefu-ticker", daemon=True)
        self._thread.start()

    def is_alive(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    def run_once(self) -> None:
        liveness = self.app.extensions.get("kefu_liveness")
        if liveness is not None and not liveness.ready:
            return  # Redis is down or the live state is being rebuilt: no assignment from half a queue
        for fn in list(self.callbacks):
            try:
                with self.app.app_context():
                    fn()
            except Exception:
                log.exception("periodic callback %r failed", fn)
        self.ticks += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()


def register_periodic(app, fn: Callable[[], None]) -> None:
    """Have ``fn()`` called on every tick of this app's ticker (inside an app context). Registering the same
    function twice has no effect; callbacks registered before ``start_ticker`` run once it starts."""
    callbacks = app.extensions.setdefault(PERIODIC_KEY, [])
    if fn not in callbacks:
        callbacks.append(fn)


def start_ticker(app, *, rebuild: bool = True) -> Ticker:
    """Start this app's ticker (once; a second call returns the running one). It runs ``routing.actions.tick``
    first on every tick. With ``rebuild`` the live state is first rebuilt from the database when Redis lost it
    or no other process is alive (routing/liveness.py), so a restart loses no waiting customer and a process
    joining a running centre touches nobody's queues. A served app (not ``TESTING``) also starts its liveness
    supervisor here: heartbeat, Redis loss, dead processes (tests drive those by hand)."""
    ticker = app.extensions.get(TICKER_KEY)
    if ticker is not None and ticker.is_alive():
        return ticker
    from .actions import tick
    from .liveness import get_liveness

    liveness = get_liveness(app)
    if rebuild and not app.config.get("TESTING"):
        liveness.start()  # beats, rebuilds if needed, then supervises in its own thread
    elif rebuild:
        liveness.ensure_live_state(at_start=True, wait=30.0)
    callbacks = app.extensions.setdefault(PERIODIC_KEY, [])
    if tick not in callbacks:
        callbacks.insert(0, tick)
    ticker = Ticker(app, app.config.get("TICK_SECONDS", 0.25))
    app.extensions[TICKER_KEY] = ticker
    ticker.start()
    return ticker
