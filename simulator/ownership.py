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
"""

from __future__ import annotations

from extensions import redis_store

# ARGV: key, expected owner ('' = none recorded), new owner. 1 when the owner was as expected and is now ours.
TAKE = """
local cur = redis.call('HGET', ARGV[1], 'owner')
if (cur or '') ~= ARGV[2] then return 0 end
redis.call('HSET', ARGV[1], 'owner', ARGV[3])
return 1
"""


class Ownership:
    """Owner records for one process (``process_id``)."""

    def __init__(self, process_id: str) -> None:
        self.process_id = process_id
        self._take = None

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

    def release(self, kind: str, ident: int) -> None:
        """The customer is done (or the exercise over): forget the record if it is still ours."""
        key = self.key(kind, ident)
        if self.client.hget(key, "owner") == self.process_id:
            self.client.delete(key)

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
