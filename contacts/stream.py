"""The shared log of contact events on Redis Streams, and the consumer groups that carry them across processes.

Every published contact event is appended (XADD, trimmed to ``EVENT_LOG_MAXLEN``) to ``<prefix>events:log`` with:
``e`` the payload (JSON), ``o`` the process that published it, ``t`` its event type, ``a`` its actor, ``c`` its
contact, ``r`` the listener kinds running in that process and ``h`` the kinds that already dealt with it there (the
in-process fast path, ``contacts.events.subscribe(listener, kind=...)``); an event of a type that a side log carries
(``SIDE_LOGS``: the wrap-ups) is appended to ``<prefix>events:log:<name>`` too, with the same fields, for kinds
reading only those.

A listener kind (``StreamKind``: the simulator, say) has one consumer group on the log; each process running it is
one consumer (named by its process id). So every entry reaches one process of each kind (at least once: XACK only
after the handler; an entry pending on a dead process's consumer is claimed after ``claim_idle``, one pending on a
live consumer only after ``stuck``: a slow handler is not run twice at once). That
process skips what the publisher already dealt with, and for a kind whose state lives in one process (``owner_of``:
who drives a simulated customer) forwards the entry to the owner's inbox stream ``events:inbox:<kind>:<owner>``,
which only the owner reads. An entry is handled at most once per kind as far as the log can tell (a done marker per
entry id, checked before a claimed entry is handled); a crash between the handler and the marker hands it over
again, so handlers are idempotent too (the simulator keys them by the event's sequence number). Control messages
(hand a customer to a simulator worker) travel on the same inboxes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from extensions import redis_store

from . import payload_json

log = logging.getLogger(__name__)

EXT = "kefu_event_log"
DONE_TTL = 3600  # seconds a done marker is kept: far longer than any entry stays pending
# Side logs: ``<prefix>events:log:<name>`` holds the entries of these event types only (also on the log), for a
# kind that wants nothing else (``StreamKind.log``). Auto-grading reads the wrap-ups: on the whole log its consumer
# parsed and skipped every chat line and typing change of the centre, a few per cent of a web process's CPU under
# chat load (bench/README.md chat_load). Every process appends to every side log, whatever it runs itself.
SIDE_LOGS: dict[str, frozenset[str]] = {"wrap_up": frozenset({"wrap_up"})}


@dataclass
class StreamKind:
    """One kind of listener: ``handle(payload)`` runs in the app context of the process the entry is meant for.
    ``owner_of(payload)`` names the process holding the state the event is about (None: nobody in particular);
    ``types`` filters on the event type before anything is parsed, and ``actors`` on the actor of the types it
    names (the simulator reads an agent's lines, not the customer's own); ``control(message)`` takes inbox messages;
    ``log`` names the side log (``SIDE_LOGS``) the kind reads instead of the whole log (its types must be the side
    log's)."""

    name: str
    handle: Callable[[dict], None]
    owner_of: Callable[[dict], str | None] | None = None
    types: frozenset[str] | None = None
    control: Callable[[dict], None] | None = None
    # Called (in its app context) once the groups were made again after Redis lost them: what was pending in
    # the lost log and inboxes is gone, and a kind keeping state catches up from the recording.
    regrouped: Callable[[], None] | None = None
    log: str | None = None
    actors: dict[str, frozenset[str]] | None = None


@dataclass
class Stats:
    """What one consumer did: entries by outcome (handled, forwarded, skipped, done, control, failed)."""

    outcomes: Counter = field(default_factory=Counter)
    claimed: int = 0
    duplicates: int = 0  # a done marker was already there: handled twice (a race of two claims)


class EventLog:
    """The log of one app: appending (from ``contacts.events.send_event``) and its consumers."""

    def __init__(
        self, app, *, maxlen: int = 20000, block_ms: int = 500, claim_idle_ms: int = 3000, stuck_ms: int = 120000
    ) -> None:
        self.app = app
        self.maxlen = maxlen
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.stuck_ms = max(stuck_ms, claim_idle_ms)
        self.consumers: dict[str, StreamConsumer] = {}
        # A kind's consumer is asked for on whichever thread first needs it (the liveness thread, a request's): made
        # under this lock, so that two at once get one consumer, the one ``stop`` ends.
        self._consumers_lock = threading.Lock()

    @property
    def client(self) -> redis.Redis:
        return redis_store.client

    def key(self, *parts) -> str:
        return redis_store.key("events", *parts)

    @property
    def process_id(self) -> str:
        liveness = self.app.extensions.get("kefu_liveness")  # routing/liveness.py; contacts does not import it
        return liveness.process_id if liveness is not None else "local"

    def is_alive(self, process_id: str) -> bool:
        liveness = self.app.extensions.get("kefu_liveness")
        return liveness.is_alive(process_id) if liveness is not None else process_id == self.process_id

    def log_key(self, side: str | None = None) -> str:
        """The key of the log, or of one of its side logs (``SIDE_LOGS``)."""
        return self.key("log") if side is None else self.key("log", side)

    def append_commands(
        self, payload: dict, runs: list[str], handled: list[str], encoded: str | None = None
    ) -> list[tuple[str, tuple]]:
        """The XADDs of one published contact event (``encoded``: its JSON, when the caller has it) to the log and
        to the side logs of its type, for the caller's pipeline (contacts/redis_writer.py)."""
        ev = payload.get("event") or {}
        fields = {
            "e": encoded or payload_json.dumps(payload),
            "o": self.process_id,
            "t": str(ev.get("type") or ""),
            "a": str(ev.get("actor") or ""),
            "c": str(ev.get("contact_id") or ""),
            "r": ",".join(runs),
            "h": ",".join(handled),
        }
        keys = [self.key("log")] + [self.key("log", side) for side, types in SIDE_LOGS.items() if fields["t"] in types]
        return [("xadd", (key, fields, "*", self.maxlen, True)) for key in keys]

    def send_control(self, kind: str, process_id: str, message: dict) -> str:
        """Put a control message in ``process_id``'s inbox for ``kind`` (read by its consumer's ``control``)."""
        return self.client.xadd(self.key("inbox", kind, process_id), {"x": json.dumps(message)})

    def consumer(self, kind: StreamKind) -> StreamConsumer:
        if kind.log is not None and not (kind.types and kind.types <= SIDE_LOGS.get(kind.log, frozenset())):
            raise ValueError(f"kind {kind.name}: side log {kind.log!r} does not carry every type it reads")
        with self._consumers_lock:
            if kind.name not in self.consumers:
                self.consumers[kind.name] = StreamConsumer(self, kind)
            return self.consumers[kind.name]

    def stop(self) -> None:
        with self._consumers_lock:
            consumers = list(self.consumers.values())
        for c in consumers:
            c.stop()


def get_event_log(app) -> EventLog:
    """This app's EventLog (created on first use; ``app`` may be ``current_app``: the log keeps the app itself,
    as its consumers run on threads of their own)."""
    app = app._get_current_object() if hasattr(app, "_get_current_object") else app
    log_ = app.extensions.get(EXT)
    if log_ is None:
        log_ = app.extensions[EXT] = EventLog(
            app,
            maxlen=int(app.config.get("EVENT_LOG_MAXLEN", 20000)),
            claim_idle_ms=int(float(app.config.get("EVENT_LOG_CLAIM_IDLE_SECONDS", 3.0)) * 1000),
            stuck_ms=int(float(app.config.get("EVENT_LOG_STUCK_SECONDS", 120.0)) * 1000),
        )
    return log_


class StreamConsumer:
    """One process's consumer of one kind: reads the log and its own inbox, claims what dead consumers left."""

    def __init__(self, event_log: EventLog, kind: StreamKind) -> None:
        self.log, self.kind = event_log, kind
        self.name = event_log.process_id
        self.stats = Stats()
        self._groups_ok = False
        self._lost = False  # the groups were lost (NOGROUP, Redis down) and are to be made again
        self._next_claim = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # start and stop run on any thread (the liveness thread, a request's, the app's shutdown): the check for a
        # running thread and the start of a new one are made under this lock, so two starts make one thread.
        self._thread_lock = threading.Lock()

    @property
    def log_key(self) -> str:
        """The log this kind reads: the whole log, or its side log."""
        return self.log.log_key(self.kind.log)

    @property
    def inbox_key(self) -> str:
        return self.log.key("inbox", self.kind.name, self.name)

    def ensure_groups(self) -> None:
        """Create the kind's group on the log (from now on) and on this process's inbox (from its start; both kept
        across restarts of other processes; recreated after Redis lost them)."""
        client = self.log.client
        # The log from now on; the inbox from its start: it is this process's alone (its id is this run's), so
        # what was put there before the group existed (a hand-over's adopt message, a reply forwarded to a worker
        # just listed) is meant for us and must not be skipped.
        for key, start in ((self.log_key, "$"), (self.inbox_key, "0")):
            try:
                client.xgroup_create(key, self.kind.name, id=start, mkstream=True)
            except redis.ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise
        self._groups_ok = True
        if self._lost:
            self._lost = False
            if self.kind.regrouped is not None:
                try:
                    with self.log.app.app_context():
                        self.kind.regrouped()
                except Exception:
                    log.exception("event log %s: catching up after the groups were lost failed", self.kind.name)

    # -- the loop -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Read the log on a thread of this consumer's (one: a start while it runs does nothing)."""
        with self._thread_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self.ensure_groups()
            # Each thread its own stop event: one a stop gave up waiting for (a handler running long) stays stopped
            # when a new thread is started.
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name=f"events-{self.kind.name}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """End the reading thread (after the batch it is handling)."""
        with self._thread_lock:
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.log.block_ms / 1000 + 2)

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except redis.ResponseError as e:
                if "NOGROUP" in str(e) or "UNBLOCKED" in str(e):  # Redis lost the streams (flushed, restarted)
                    self._groups_ok, self._lost = False, True
                else:
                    log.exception("event log consumer %s failed", self.kind.name)
                stop.wait(0.2)
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                self._groups_ok, self._lost = False, True
                stop.wait(0.5)  # the liveness supervisor brings Redis back
            except Exception:
                log.exception("event log consumer %s failed", self.kind.name)
                stop.wait(0.2)

    def step(self, block_ms: int | None = None) -> int:
        """Read and process what is new (waiting up to ``block_ms``), then claim stale entries when due.
        Returns the number of entries processed."""
        if not self._groups_ok:
            self.ensure_groups()
        block = self.log.block_ms if block_ms is None else block_ms
        got = self.log.client.xreadgroup(
            self.kind.name,
            self.name,
            {self.log_key: ">", self.inbox_key: ">"},
            count=100,
            block=block or None,
        )
        n = 0
        for stream, entries in got or []:
            n += self._process(stream, entries, claimed=False)
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + max(0.5, self.log.claim_idle_ms / 3000)
            n += self.claim()
        return n

    def claim(self) -> int:
        """Take entries of the log left pending longer than ``claim_idle`` by a consumer whose process is dead,
        or longer than ``stuck`` by a live one (a handler that hangs), and process them; forget consumers of dead
        processes with nothing pending, and their inboxes.

        A live consumer's entry is not taken at ``claim_idle``: a handler that is merely slow (grading a long
        chat on a loaded machine takes seconds) would otherwise be run again by another process while it is still
        running, and again by a third."""
        client, n = self.log.client, 0
        alive: dict[str, bool] = {self.name: True}
        for key in (self.log_key, self.inbox_key):
            start = "-"
            while True:
                pending = client.xpending_range(
                    key, self.kind.name, min=start, max="+", count=100, idle=self.log.claim_idle_ms
                )
                if not pending:
                    break
                ids = []
                for p in pending:
                    owner = p["consumer"]
                    if owner == self.name:
                        continue  # being handled on this process's own thread
                    if owner not in alive:
                        alive[owner] = self.log.is_alive(owner)
                    if not alive[owner] or p["time_since_delivered"] >= self.log.stuck_ms:
                        ids.append(p["message_id"])
                if ids:
                    entries = client.xclaim(key, self.kind.name, self.name, self.log.claim_idle_ms, ids)
                    entries = [(i, f) for i, f in entries if f is not None]  # trimmed meanwhile
                    self.stats.claimed += len(entries)
                    n += self._process(key, entries, claimed=True)
                if len(pending) < 100:
                    break
                start = "(" + pending[-1]["message_id"]
        for info in client.xinfo_consumers(self.log_key, self.kind.name):
            name = info["name"]
            if name != self.name and not info.get("pending") and not self.log.is_alive(name):
                client.xgroup_delconsumer(self.log_key, self.kind.name, name)
                client.delete(self.log.key("inbox", self.kind.name, name))
        return n

    # -- one batch ------------------------------------------------------------------------------------------

    def _done_key(self, entry_id: str, inbox: bool = False) -> str:
        """The marker of a log entry handled or forwarded (``inbox``: its forwarded copy handled by the owner)."""
        return self.log.key("done", self.kind.name, "in" if inbox else "log", entry_id)

    def _process(self, stream: str, entries: list, *, claimed: bool) -> int:
        inbox = stream == self.inbox_key
        client = self.log.client
        if claimed or inbox:  # only these can have been handled already (a first delivery never was)
            ids = [fields.get("i") or entry_id for entry_id, fields in entries]
            done = client.mget([self._done_key(i, inbox) for i in ids]) if ids else []
        else:
            done = [None] * len(entries)
        # Entries this process passes on (skipped, already done) are acknowledged together after the batch: most
        # of the log is such entries (the publisher dealt with them in-process), and an XACK round trip for each,
        # per kind, cost more server CPU than the chat line itself. Nothing was done for them, so a crash before
        # that XACK only hands them over again to be passed on again.
        passed: list = []
        for (entry_id, fields), was_done in zip(entries, done, strict=True):
            origin_id = fields.get("i") or entry_id
            outcome = "skipped"
            try:
                if was_done:
                    outcome = "done"
                elif "x" in fields:
                    outcome = self._control(fields["x"])
                else:
                    outcome = self._deliver(fields, origin_id, inbox)
            except Exception:  # a handler's bug: logged and acknowledged, not retried for ever
                log.exception("event log %s: entry %s failed", self.kind.name, entry_id)
                outcome = "failed"
            if outcome in ("skipped", "done"):
                passed.append(entry_id)
                self.stats.outcomes[outcome] += 1
                continue
            pipe = client.pipeline(transaction=False)
            if outcome in ("handled", "forwarded"):
                pipe.set(self._done_key(origin_id, inbox), outcome, nx=True, ex=DONE_TTL)
            pipe.xack(stream, self.kind.name, entry_id)
            res = pipe.execute()
            if outcome in ("handled", "forwarded") and not res[0]:
                self.stats.duplicates += 1
                client.incr(self.log.key("duplicates", self.kind.name))
                log.warning("event log %s: entry %s was %s twice", self.kind.name, origin_id, outcome)
            self.stats.outcomes[outcome] += 1
        if passed:
            client.xack(stream, self.kind.name, *passed)
        return len(entries)

    def _control(self, raw: str) -> str:
        if self.kind.control is not None:
            with self.log.app.app_context():
                self.kind.control(json.loads(raw))
        return "control"

    def _deliver(self, fields: dict, entry_id: str, inbox: bool) -> str:
        kind = self.kind
        if not inbox:
            if kind.name in fields.get("h", "").split(","):
                return "skipped"  # the publishing process dealt with it in-process
            if kind.types is not None and fields.get("t") not in kind.types:
                return "skipped"
            if kind.actors is not None and "a" in fields:  # (an entry from before the field: read, as it was)
                wanted = kind.actors.get(fields.get("t"))
                if wanted is not None and fields["a"] not in wanted:
                    return "skipped"  # e.g. a customer's own line: read by no simulated customer, parsed for nothing
        payload = payload_json.loads(fields["e"])
        if not inbox:
            owner = None
            if kind.owner_of is not None:
                with self.log.app.app_context():
                    owner = kind.owner_of(payload)
            if owner is None:
                if kind.name in fields.get("r", "").split(","):
                    return "skipped"  # nobody holds it and the publisher, which runs this kind, passed on it
            elif owner != self.name:
                if not self.log.is_alive(owner):
                    return "skipped"  # the process adopting its work rebuilds it from the recording
                self.log.client.xadd(
                    self.log.key("inbox", kind.name, owner), {"i": entry_id, "e": fields["e"]}, maxlen=self.log.maxlen
                )
                return "forwarded"
        with self.log.app.app_context():
            kind.handle(payload)
        return "handled"
