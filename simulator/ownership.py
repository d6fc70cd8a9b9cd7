"""Which process drives which simulated customer and which exercise's arrivals, recorded in Redis.

A simulated customer's mind lives in the memory of the process that started it. So that starting (or
restarting) a web process never ends another process's customers nor starts a running exercise's arrivals a
second time, each is recorded with its owner's process id (routing/liveness.py):

- ``sim:contact:<id>`` hash: ``owner``, ``seed``, ``exercise_id``, ``started_by``;
- ``sim:exercise:<id>`` hash: ``owner``;
- ``sim:workers`` set and ``sim:load`` hash: the simulator workers (``flask simulator worker``) and how many
  customers each drives, so that web processes hand new customers and exercises to the least loaded live one.

A process adopts only what has no live owner: the owner's heartbeat expired (it was killed), or there is no
record at all and the live state is settled (every live process has had time to re-announce what it holds
after Redis lost the records; see ``Liveness.settled``). Adopting is a compare-and-set on the owner field, so
two processes never adopt the same customer.

**Leases (the fence).** An expired heartbeat does not prove a process dead: a process starved of CPU (a loaded
machine; a VM paused; SIGSTOP) misses its beats, another adopts its customers, and the starved one wakes up
still holding them in memory, a line or a mail half-decided. Checking the owner record just before acting does
not help: the process can stall again between the check and the write. So what a driven customer (or an
exercise's arrivals) records goes through a fence in the database, where the record itself is written:

- ``take_lease`` bumps a generation on the customer's ``simulated_customers`` row (the exercise's row) and names
  this process, and commits, *before* the new driver reads the recording it rebuilds the customer from;
- ``fenced`` runs an action in one transaction that first updates that row only where the generation is still
  the one this process took (a conditional update: it also holds the row until the commit), else raises
  ``LeaseLost`` and writes nothing.

A stale driver's write therefore either commits before the take-over (and the new driver's replay reads it) or
is refused after it (and the stale driver drops the customer): never both drivers acting on the same recording.
The generation, not Redis, decides, so it holds when Redis lost the records or names a process that is not dead.
An email customer's mail goes out through SMTP, outside any transaction of ours: it is sent only after the lease
is found current (``holds``), and a late duplicate is refused by the endpoint (its Message-ID is made from what
it answers, simulator/email_sending.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from contacts.transaction import atomic
from extensions import db, redis_store

from .models import Exercise, SimulatedCustomer
from .seeds import do_record_seed

log = logging.getLogger(__name__)

# The row that carries the lease of each kind of driven thing, and its key column.
_LEASED = {"contact": (SimulatedCustomer.__table__, "contact_id"), "exercise": (Exercise.__table__, "id")}


# How long taking a lease waits for a row another process holds in an open transaction (PostgreSQL; SQLite has its
# busy timeout). A driver stopped in the middle of a fenced write (a stalled machine, SIGSTOP) holds it until it
# resumes: without a bound, the taker - holding its engine's lock, or in the liveness thread - waited as long.
LOCK_WAIT = "1500ms"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_timeout


class LeaseLost(Exception):
    """This process no longer holds the lease it acted under (another process took the customer or exercise over):
    nothing was recorded, and the caller stops driving it."""


class LeaseBusy(Exception):
    """The lease was not taken now: its row is held by another process's open transaction (a stalled driver in the
    middle of a write) past ``LOCK_WAIT``. Nothing changed; the caller tries again on a later tick."""


# ARGV: key, expected owner ('' = none recorded), new owner. 1 when the owner was as expected and is now ours.
TAKE = """
local cur = redis.call('HGET', ARGV[1], 'owner')
if (cur or '') ~= ARGV[2] then return 0 end
redis.call('HSET', ARGV[1], 'owner', ARGV[3])
return 1
"""
# ARGV: key, owner it must still have. Deletes the record only while it names that owner (1 when it did). Livestream
# audiences' records use these two scripts too (livestream/audience_stream.py).
RELEASE = """
if redis.call('HGET', ARGV[1], 'owner') ~= ARGV[2] then return 0 end
return redis.call('DEL', ARGV[1])
"""

# ARGV: the load hash, a worker. Counts one less for the worker (never below 0; nothing for one no longer listed).
UNPICK = """
local n = tonumber(redis.call('HGET', ARGV[1], ARGV[2]) or '')
if not n or n <= 0 then return 0 end
return redis.call('HINCRBY', ARGV[1], ARGV[2], -1)
"""


class Ownership:
    """Owner records for one process (``process_id``)."""

    def __init__(self, process_id: str) -> None:
        self.process_id = process_id
        self._take = None
        self._release = None

    @property
    def client(self):
        return redis_store.client

    def key(self, kind: str, ident: int) -> str:
        return redis_store.key("sim", kind, ident)

    def claim(self, kind: str, ident: int, *, owner: str | None = None, **fields) -> None:
        """Record this process (or ``owner``: a worker it hands the work to) as the owner of a new customer
        (``kind`` contact) or exercise."""
        extra = {k: ("" if v is None else v) for k, v in fields.items()}
        self.client.hset(self.key(kind, ident), mapping={"owner": owner or self.process_id, **extra})

    def record(self, kind: str, ident: int) -> dict:
        return self.client.hgetall(self.key(kind, ident))

    def take(self, kind: str, ident: int, expected: str | None, *, to: str | None = None) -> bool:
        """Become the owner (or make ``to`` the owner) if the owner is still ``expected`` (None: no record);
        False if another took it."""
        if self._take is None:
            self._take = self.client.register_script(TAKE)
        return bool(self._take(keys=[], args=[self.key(kind, ident), expected or "", to or self.process_id]))

    # -- leases (the fence; see the module's docstring) -----------------------------------------------------

    def take_lease(self, kind: str, ident: int, *, seed: int | None = None, **seed_fields) -> int:
        """Hold the lease of a customer (``contact``) or an exercise from now on: bump its generation and name this
        process, committed (or with the caller's action, when one runs) before the caller reads the recording it
        goes on from. A customer's row is created with ``seed`` (and ``exercise_id``, ``started_by``) when missing.
        Returns the generation to give ``fenced``; LeaseBusy when a stalled driver's open write holds the row past
        ``LOCK_WAIT`` (not taken now)."""
        table, key = _LEASED[kind]
        with atomic():
            if kind == "contact" and seed is not None:
                do_record_seed(ident, seed, **seed_fields)
                db.session.flush()  # the row, if new, before the update below (Core statements do not flush)
            conn = db.session.connection()
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
            # Update first, then read: the update holds the row (and SQLite's write lock), so two takers never
            # read the same generation.
            try:
                taken = conn.execute(
                    update(table).where(table.c[key] == ident).values(lease=table.c.lease + 1, driver=self.process_id)
                ).rowcount
            except OperationalError as e:
                if getattr(e.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                    raise LeaseBusy(f"{kind} {ident}: its row is held by another process's transaction") from e
                raise
            if postgres:  # the caller's transaction, when the lease is taken in one, waits as it did
                conn.execute(text("SET LOCAL lock_timeout = DEFAULT"))
            if taken != 1:
                raise LeaseLost(f"no {kind} {ident} to hold a lease on")
            return conn.execute(select(table.c.lease).where(table.c[key] == ident)).scalar_one()

    @contextmanager
    def fenced(self, kind: str, ident: int, lease: int | None) -> Iterator[None]:
        """Run the block (an action recording for the customer or exercise) as one transaction that commits only
        while this process holds the lease ``lease``; LeaseLost, with nothing written, when another process took
        it over since. The row stays locked until the commit, so a take-over waits for the write and reads it."""
        table, key = _LEASED[kind]
        with atomic():
            held = (
                lease is not None
                and db.session.connection()
                .execute(
                    update(table)
                    .where(table.c[key] == ident, table.c.lease == lease, table.c.driver == self.process_id)
                    .values(lease=table.c.lease)
                )
                .rowcount
                == 1
            )
            if not held:
                raise LeaseLost(f"{kind} {ident} is driven by another process now")
            yield

    def holds(self, kind: str, ident: int, lease: int | None) -> bool:
        """Whether this process still holds the lease ``lease`` (a read: for what cannot be fenced, a mail sent over
        SMTP, whose duplicate the endpoint refuses by its Message-ID)."""
        if lease is None:
            return False
        table, key = _LEASED[kind]
        began = not db.session().in_transaction()
        row = db.session.execute(select(table.c.lease, table.c.driver).where(table.c[key] == ident)).first()
        if began:
            db.session.commit()  # no read transaction left open while the mail is ingested by another thread
        return row is not None and row.lease == lease and row.driver == self.process_id

    def lease_holder(self, kind: str, ident: int) -> str | None:
        """The process the database names as holding the lease (None: none taken yet)."""
        table, key = _LEASED[kind]
        return db.session.scalar(select(table.c.driver).where(table.c[key] == ident))

    def follow_holder(self, kind: str, ident: int) -> None:
        """After LeaseLost: point an owner record (``kind``: contact, group, livestream) that still names this
        process - re-announced after a Redis loss, say - at the process the lease of ``ident``'s row names, so the
        events for it reach the process that drives it. Best effort: Redis away, the holder re-announces."""
        try:
            holder = self.lease_holder("contact", ident)
            if holder and holder != self.process_id:
                self.take(kind, ident, self.process_id, to=holder)
        except Exception:
            db.session.rollback()
            log.warning("could not point the owner record of %s %s at its driver", kind, ident)

    def release(self, kind: str, ident: int) -> None:
        """The customer is done (or the exercise over): forget the record if it is still ours, in one step
        (compare-and-delete). A read then a delete dropped the record of a process that took the customer (room,
        exercise) over in between: the log then passed its events over, and a take-over pass trusting the missing
        record was free to start a second driver."""
        if self._release is None:
            self._release = self.client.register_script(RELEASE)
        self._release(keys=[], args=[self.key(kind, ident), self.process_id], client=self.client)

    def reannounce(self, contacts: dict[int, dict], exercises: list[int]) -> None:
        """Put back the records of what this process drives (Redis lost them)."""
        pipe = self.client.pipeline(transaction=False)
        for cid, fields in contacts.items():
            extra = {k: ("" if v is None else v) for k, v in fields.items()}
            pipe.hset(self.key("contact", cid), mapping={"owner": self.process_id, **extra})
        for ex_id in exercises:
            pipe.hset(self.key("exercise", ex_id), "owner", self.process_id)
        pipe.execute()

    # -- simulator workers ----------------------------------------------------------------------------------

    def register_worker(self, load: int = 0) -> None:
        """Say this process is a simulator worker driving ``load`` customers (every beat of the worker)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.sadd(redis_store.key("sim", "workers"), self.process_id)
        pipe.hset(redis_store.key("sim", "load"), self.process_id, load)
        pipe.execute()

    def unregister_worker(self) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.srem(redis_store.key("sim", "workers"), self.process_id)
        pipe.hdel(redis_store.key("sim", "load"), self.process_id)
        pipe.execute()

    def live_workers(self, is_alive) -> dict[str, int]:
        """The simulator workers whose heartbeat is current, with their load; dead ones are forgotten."""
        names = sorted(self.client.smembers(redis_store.key("sim", "workers")))
        if not names:
            return {}
        loads = self.client.hmget(redis_store.key("sim", "load"), names)
        live = {}
        for name, load in zip(names, loads, strict=True):
            if is_alive(name):
                live[name] = int(load or 0)
            else:
                self.client.srem(redis_store.key("sim", "workers"), name)
                self.client.hdel(redis_store.key("sim", "load"), name)
        return live

    def pick_worker(self, is_alive) -> str | None:
        """The least loaded live simulator worker (its load counted up at once, so a burst spreads), or None."""
        live = self.live_workers(is_alive)
        if not live:
            return None
        name = min(live, key=lambda w: (live[w], w))
        self.client.hincrby(redis_store.key("sim", "load"), name, 1)
        return name

    def unpick_worker(self, name: str) -> None:
        """``pick_worker`` counted ``name``'s load up for work that then did not go to it (another process placed the
        work first): the count taken back, or the worker looked busier than it is - fewer new customers and streams
        sent to it - until its next beat re-counted its load."""
        self.client.eval(UNPICK, 0, redis_store.key("sim", "load"), name)
