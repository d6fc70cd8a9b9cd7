"""The ACD's Redis layer: waiting queues, agent seats and states, and the atomic assignment (routing/lua.py).

Nothing here touches the database or Flask: it takes plain ids and numbers, so any thread (or a benchmark)
can drive it. ``routing.actions`` wraps it with users, contacts, recorded state changes and published events.

Assignment rules, all applied inside one Lua script:

- a contact goes to an agent whose state is ``available``, who serves the contact's queue (the queue id itself
  or ``<channel>.*``), whose level rank is at least the contact's required rank (L5=1, L4=2, L3=3), and whose
  load on the contact's channel is below its capacity there; a contact transferred to a named agent goes to
  that agent only, and one transferred to a queue or level never goes back to the agent who sent it;
- an agent holding a call (voice or video, from ringing to its wrap-up) is on that call: offered nothing else, and
  its effective state is ``on_call``;
- among eligible agents the least loaded on that channel wins, then the longest idle. ``idle_since`` is the
  moment the agent last became available (by hand or when ACW ended) or last finished a contact, so for
  single-contact channels this is plain longest-idle-first, and chat agents fill up evenly;
- contacts are taken transfers first (a transferred customer has already waited), then by priority (VIP = 1
  before 0), then longest wait, merged across every queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import lua

TWO32 = 2**32
TRANSFER_BAND = 11  # above every priority: transferred contacts go to the front of their new queue
MAX_PRIORITY = 10
CALL_CHANNELS = ("voice", "video")  # an agent holding one of these is on a call (lua.on_call)


@dataclass(frozen=True)
class Assignment:
    contact_id: int
    agent_id: int
    queue: str
    wait: float


def _pairs(mapping: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in mapping.items())


def _num(value, default=0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class ACD:
    """Automatic call distributor over one Redis client and key prefix (``redis_store.key("acd") + ":"``)."""

    def __init__(self, client, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._enqueue = client.register_script(lua.PRELUDE + lua.ENQUEUE)
        self._remove = client.register_script(lua.PRELUDE + lua.REMOVE)
        self._dispatch = client.register_script(lua.PRELUDE + lua.DISPATCH)
        self._set_state = client.register_script(lua.PRELUDE + lua.SET_STATE)
        self._release = client.register_script(lua.PRELUDE + lua.RELEASE)
        self._expire_acw = client.register_script(lua.PRELUDE + lua.EXPIRE_ACW)
        self._reseat = client.register_script(lua.PRELUDE + lua.RESEAT)

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    # -- contacts ---------------------------------------------------------------------------------------------

    def enqueue(
        self,
        contact_id: int,
        queue: str,
        channel: str,
        *,
        enqueued_at: float,
        priority: int = 0,
        rank: int = 0,
        order_ts: float | None = None,
        target_agent_id: int | None = None,
        exclude_agent_id: int | None = None,
        transferred: bool = False,
        count_offer: bool = True,
    ) -> bool:
        """Put a contact in its queue. ``order_ts`` (default ``enqueued_at``) orders it within its band;
        a transferred contact goes in the front band. False when the contact is already waiting."""
        band = TRANSFER_BAND if transferred else max(0, min(MAX_PRIORITY, int(priority or 0)))
        score = (TRANSFER_BAND - band) * TWO32 + (enqueued_at if order_ts is None else order_ts)
        args = [
            self.prefix, contact_id, queue, channel, int(rank or 0),
            target_agent_id or "", exclude_agent_id or "", repr(float(score)), repr(float(enqueued_at)),
            int(bool(transferred)), int(bool(count_offer)),
        ]  # fmt: skip
        return bool(self._enqueue(keys=[], args=args))

    def remove(self, contact_id: int, now: float, sl_seconds: float, *, count: bool = True) -> tuple[str, float] | None:
        """Take a waiting contact out (the customer left); counts an abandonment. None if it was not waiting."""
        res = self._remove(keys=[], args=[self.prefix, contact_id, repr(now), sl_seconds, int(count)])
        if not res:
            return None
        return res[0], float(res[1])

    def dispatch(self, now: float, *, max_assign: int = 200, scan_limit: int = 20000) -> list[Assignment]:
        """Run the assignment once: up to ``max_assign`` (contact, agent) pairs, each seated already."""
        flat = self._dispatch(keys=[], args=[self.prefix, repr(now), max_assign, scan_limit])
        return [
            Assignment(int(flat[i]), int(flat[i + 1]), flat[i + 2], float(flat[i + 3])) for i in range(0, len(flat), 4)
        ]

    def waiting(self, queue: str) -> list[int]:
        """Contact ids waiting in ``queue``, in the order they will be offered."""
        return [int(c) for c in self.client.zrange(self.key("q", queue), 0, -1)]

    def is_waiting(self, contact_id: int) -> bool:
        return bool(self.client.exists(self.key("c", contact_id)))

    def position(self, contact_id: int, queue: str) -> int | None:
        """The contact's place in ``queue`` in the order of offering (1 = next), or None when it is not waiting
        there."""
        rank = self.client.zrank(self.key("q", queue), contact_id)
        return None if rank is None else rank + 1

    def clear_waiting(self) -> None:
        """Forget every waiting contact (before rebuilding the queues from the database)."""
        names = [self.key("tagents"), self.key("wqueues")]
        for pattern in ("q:*", "qr:*", "qw:*", "c:*", "tq:*"):
            names.extend(self.client.scan_iter(match=_glob_escape(self.prefix) + pattern, count=1000))
        for i in range(0, len(names), 500):
            self.client.delete(*names[i : i + 500])

    def clear_agents(self) -> None:
        """Forget every registered agent, its seats and availability (before restoring them from the database,
        when Redis came back with an older snapshot than the database's record)."""
        names = [self.key("agents"), self.key("acw")]
        for pattern in ("agent:*", "seats:*", "avail:*"):
            names.extend(self.client.scan_iter(match=_glob_escape(self.prefix) + pattern, count=1000))
        for i in range(0, len(names), 500):
            self.client.delete(*names[i : i + 500])

    # -- agents -----------------------------------------------------------------------------------------------

    def set_agent(
        self,
        agent_id: int,
        state: str,
        *,
        now: float,
        rank: int,
        level: str,
        name: str,
        capacities: dict[str, int],
        default_queues: list[str],
        queues: list[str] | None = None,
        reason: str | None = None,
        acw_until: float | None = None,
        seats: dict[int, str] | None = None,
    ) -> tuple[str | None, str | None]:
        """Register or update an agent and set its state. ``queues`` None keeps the stored list (or the default
        for a new agent); ``seats`` (contact id -> channel) are loaded only when the agent is new here.
        Returns the previous (state, reason)."""
        args = [
            self.prefix, agent_id, state, reason or "", repr(now), repr(acw_until or 0.0), int(rank), level,
            name.replace(",", " "), _pairs(capacities), ",".join(queues or []), ",".join(default_queues),
            _pairs(seats or {}),
        ]  # fmt: skip
        prev_state, prev_reason = self._set_state(keys=[], args=args)
        return prev_state or None, prev_reason or None

    def release(
        self, agent_id: int, contact_id: int, now: float, *, acw_until: float | None = None
    ) -> tuple[str | None, str | None, str | None]:
        """Free the agent's seat for this contact (once); with ``acw_until`` the agent goes to ACW.
        Returns (freed channel, previous state, new state)."""
        res = self._release(
            keys=[], args=[self.prefix, agent_id, contact_id, repr(now), "" if acw_until is None else repr(acw_until)]
        )
        return tuple(v or None for v in res)

    def expire_acw(self, now: float) -> list[int]:
        """Agents whose ACW has run out become available; returns their ids."""
        return [int(a) for a in self._expire_acw(keys=[], args=[self.prefix, repr(now)])]

    def reseat(self, agent_id: int, seats: dict[int, str]) -> bool:
        """Replace a registered agent's seats (contact id -> channel) with those the database records."""
        return bool(self._reseat(keys=[], args=[self.prefix, agent_id, _pairs(seats)]))

    def agent_ids(self) -> list[int]:
        return sorted(int(a) for a in self.client.smembers(self.key("agents")))

    def agent_exists(self, agent_id: int) -> bool:
        return bool(self.client.exists(self.key("agent", agent_id)))

    def agent_seats(self, agent_id: int) -> dict[int, str]:
        return {int(c): ch for c, ch in self.client.hgetall(self.key("seats", agent_id)).items()}

    def snapshots(self, agent_ids: list[int]) -> list[dict]:
        """The live state of these agents (one round trip); unregistered agents show as offline."""
        pipe = self.client.pipeline(transaction=False)
        for aid in agent_ids:
            pipe.hgetall(self.key("agent", aid))
        return [_snapshot(aid, h) for aid, h in zip(agent_ids, pipe.execute(), strict=True)]

    # -- figures ----------------------------------------------------------------------------------------------

    def count_answer(self, queue: str, wait: float, sl_seconds: float) -> None:
        pipe = self.client.pipeline(transaction=False)
        fig = self.key("fig", queue)
        pipe.hincrby(fig, "answered", 1)
        pipe.hincrbyfloat(fig, "answer_wait_sum", wait)
        if wait <= sl_seconds:
            pipe.hincrby(fig, "answered_in_sl", 1)
        pipe.execute()

    def queue_names(self) -> list[str]:
        return sorted(self.client.smembers(self.key("queues")))

    def figures(self, queues: list[str], now: float) -> dict[str, dict]:
        """Raw counters per queue plus the waiting count and the longest current wait."""
        pipe = self.client.pipeline(transaction=False)
        for q in queues:
            pipe.hgetall(self.key("fig", q))
            pipe.zcard(self.key("q", q))
            pipe.zrange(self.key("qw", q), 0, 0, withscores=True)
        res = pipe.execute()
        out = {}
        for i, q in enumerate(queues):
            fig, waiting, oldest = res[3 * i], res[3 * i + 1], res[3 * i + 2]
            raw = {k: _num(v) for k, v in fig.items()}
            raw["waiting"] = waiting
            raw["longest_wait"] = max(0.0, now - oldest[0][1]) if oldest else 0.0
            out[q] = raw
        return out


def _snapshot(agent_id: int, h: dict) -> dict:
    load = {k[5:]: int(_num(v)) for k, v in h.items() if k.startswith("load:")}
    capacity = {k[4:]: int(_num(v)) for k, v in h.items() if k.startswith("cap:")}
    state = h.get("state") or "offline"
    effective = state
    if state == "available" and any(load.get(ch, 0) > 0 for ch in CALL_CHANNELS):
        effective = "on_call"  # offered nothing else until the call's wrap-up frees its seat (lua.refresh)
    elif state == "available" and capacity and all(load.get(ch, 0) >= cap for ch, cap in capacity.items()):
        effective = "busy"
    return {
        "agent_id": agent_id,
        "name": h.get("name") or None,
        "registered": bool(h),
        "state": state,
        "effective_state": effective,
        "reason": h.get("reason") or None,
        "since": _num(h.get("since"), None),
        "idle_since": _num(h.get("idle_since"), None),
        "acw_until": _num(h.get("acw_until"), None),
        "level": h.get("level") or None,
        "rank": int(_num(h.get("rank"))),
        "load": load,
        "capacity": capacity,
        "queues": [q for q in (h.get("queues") or "").split(",") if q],
    }


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
