"""Which process drives which simulated customer and which exercise's arrivals, recorded in Redis.

A simulated customer's mind lives in the memory of the process that started it. So that starting (or
restarting) a web process never ends another process's customers nor starts a running exercise's arrivals a
second time, each is recorded with its owner's process id (routing/liveness.py):

- ``sim:contact:<id>`` hash: ``owner``, ``seed``, ``exercise_id``, ``started_by``;
- ``sim:exercise:<id>`` hash: ``owner``.

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

    def claim(self, kind: str, ident: int, **fields) -> None:
        """Record this process as the owner of a new customer (``kind`` contact) or exercise."""
        extra = {k: ("" if v is None else v) for k, v in fields.items()}
        self.client.hset(self.key(kind, ident), mapping={"owner": self.process_id, **extra})

    def record(self, kind: str, ident: int) -> dict:
        return self.client.hgetall(self.key(kind, ident))

    def take(self, kind: str, ident: int, expected: str | None) -> bool:
        """Become the owner if the owner is still ``expected`` (None: no record); False if another took it."""
        if self._take is None:
            self._take = self.client.register_script(TAKE)
        return bool(self._take(keys=[], args=[self.key(kind, ident), expected or "", self.process_id]))

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
