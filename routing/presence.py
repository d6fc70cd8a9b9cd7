"""Agents' desks across processes: how many desk sockets each agent has open, counted in Redis per process.

``presence:<agent>`` is a hash {process id: open desk sockets there}; ``presence:proc:<process>`` the agents a
process holds desks of. A process's count only counts while its heartbeat (routing/liveness.py) is current, so:

- the last desk closing *anywhere* sets the agent away (reason ``desk disconnected``): closing a second tab on
  one process no longer does it while a desk on another process is open;
- a process killed with -9 stops beating; within PROCESS_TTL_SECONDS plus one beat the process that claims it
  drops its counts, and its agents with no desk left elsewhere go away. Their contacts stay theirs and wait for
  them (see README "What survives which fault": a desk's browser reconnects through the proxy to a live process
  in a second or two, and finds the conversation where it was; the ACD only stops offering new contacts);
- after Redis lost the live state, each process puts its own counts back (``reannounce``).

A process keeps its own counts in memory too (``Presence.local``): they are what it re-announces.
"""

from __future__ import annotations

import logging
import threading

from flask import current_app

from accounts.models import User
from extensions import db, redis_store

from .liveness import get_liveness

log = logging.getLogger(__name__)

EXT = "kefu_presence"
DISCONNECTED = "desk disconnected"
SET_AWAY_FROM = ("available", "acw")

# ARGV: prefix, agent id, this process id, delta (1 or -1; 0 only counts). Returns the agent's open desks over
# the processes whose heartbeat is current (this one always counts: it may not beat yet, in tests and at start).
CHANGE = """
local prefix, agent, me, delta = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local key = prefix .. 'presence:' .. agent
if delta ~= 0 then
  local n = redis.call('HINCRBY', key, me, delta)
  if n <= 0 then
    redis.call('HDEL', key, me)
    redis.call('SREM', prefix .. 'presence:proc:' .. me, agent)
  else
    redis.call('SADD', prefix .. 'presence:proc:' .. me, agent)
  end
end
local total = 0
local flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  local n = tonumber(flat[i + 1]) or 0
  if n > 0 and (flat[i] == me or redis.call('EXISTS', prefix .. 'proc:' .. flat[i]) == 1) then
    total = total + n
  end
end
return total
"""


class Presence:
    """Desk sockets of one process, mirrored in Redis."""

    def __init__(self, store, process_id: str) -> None:
        self.store = store
        self.process_id = process_id
        self.local: dict[int, int] = {}
        self._lock = threading.Lock()
        self._change = store.client.register_script(CHANGE)

    def _count(self, agent_id: int, delta: int) -> int:
        return int(self._change(keys=[], args=[self.store.prefix, int(agent_id), self.process_id, delta]))

    def desk_opened(self, agent_id: int) -> int:
        """A desk socket of ``agent_id`` connected to this process; returns the agent's open desks anywhere."""
        with self._lock:
            self.local[agent_id] = self.local.get(agent_id, 0) + 1
        return self._count(agent_id, 1)

    def desk_closed(self, agent_id: int) -> int:
        """A desk socket closed here; returns how many the agent still has open in live processes."""
        with self._lock:
            left = self.local.get(agent_id, 0) - 1
            if left > 0:
                self.local[agent_id] = left
            else:
                self.local.pop(agent_id, None)
        return self._count(agent_id, -1 if left >= 0 else 0)

    def desks_open(self, agent_id: int) -> int:
        return self._count(agent_id, 0)

    def reannounce(self) -> None:
        """Put this process's counts back (Redis lost them)."""
        with self._lock:
            local = dict(self.local)
        client = self.store.client
        pipe = client.pipeline(transaction=False)
        for agent_id, n in local.items():
            pipe.hset(self.store.key("presence", agent_id), self.process_id, n)
            pipe.sadd(self.store.key("presence", "proc", self.process_id), agent_id)
        pipe.execute()

    def clear(self) -> None:
        """Forget every process's counts (a rebuild; each live process then re-announces its own)."""
        names = list(self.store.client.scan_iter(match=self.store.prefix + "presence:*", count=1000))
        for i in range(0, len(names), 500):
            self.store.client.delete(*names[i : i + 500])


def get_presence(app=None) -> Presence:
    return (app or current_app).extensions[EXT]


def init_presence(app) -> Presence:
    """Bind this process's Presence and its liveness hooks (called by ``routing.init_app``)."""
    liveness = get_liveness(app)
    presence = app.extensions[EXT] = Presence(redis_store, liveness.process_id)
    liveness.on("reannounce", presence.reannounce)
    liveness.on("dead", process_gone)
    return presence


def _set_away_if_deskless(agent_id: int) -> bool:
    """Set an available (or ACW) agent with no open desk anywhere away; True when it was."""
    from .actions import agent_snapshot, do_set_agent_state

    if get_presence().desks_open(agent_id) > 0:
        return False
    if agent_snapshot(agent_id).get("state") not in SET_AWAY_FROM:
        return False
    user = db.session.get(User, int(agent_id))
    if user is None:
        return False
    try:
        do_set_agent_state(user, "away", reason=DISCONNECTED)
    except Exception:
        db.session.rollback()
        log.exception("could not set agent %s away", agent_id)
        return False
    return True


def process_gone(process_id: str) -> list[int]:
    """A process stopped beating: drop its desk counts; its agents with no desk elsewhere go away.
    Returns the ids of the agents set away."""
    store = get_presence().store
    client = store.client
    members = client.smembers(store.key("presence", "proc", process_id))
    away = []
    for agent_id in sorted(int(a) for a in members):
        client.hdel(store.key("presence", agent_id), process_id)
        if _set_away_if_deskless(agent_id):
            away.append(agent_id)
    client.delete(store.key("presence", "proc", process_id))
    if away:
        log.warning("agents %s set away: their desks were on %s, which stopped", away, process_id)
    return away


def audit_presence(liveness=None) -> list[int]:
    """Every registered agent who is available (or in ACW) with no desk open in any live process goes away:
    run once after a start or a rebuild, when every process has had time to re-announce its desks."""
    from .actions import get_acd

    away = [a for a in get_acd().agent_ids() if _set_away_if_deskless(a)]
    if away:
        log.warning("agents %s set away: no desk of theirs is open in any process", away)
    return away
