"""GroupAudienceDriver: runs the simulated audiences of group rooms on the sandbox clock.

Like the chat simulator (simulator/engine.py), it listens to recorded events (``contacts.events.subscribe``) and
only queues those of the rooms it drives; ``tick`` (the app's ticker, or a test) applies them to the customers'
minds (simulator/group_audience.py) and carries out what is due through the same actions a person's page uses
(``channels.group.actions``: join, post, leave). Each reaction of a mind is recorded as a ``customer.state``
event on the room (member, what it recognised and how), which the agent never sees.

Minds are in memory; when their process dies, another process (or a live simulator worker) takes the audience over
from the room's recording and goes on (simulator/group_takeover.py).

Across processes (issue 18): an audience lives in the process that opened its room (owner record
``sim:group:<room>``). What the room's agent does from a desk on another process reaches it through the shared
event log (contacts/stream.py, kind ``group_audience``: whichever process gets an entry forwards it to the owner's
inbox). Each event is applied once per room by its sequence number, however it came.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask import current_app, has_app_context

from channels.group.actions import (
    do_join_group_member,
    do_leave_group_member,
    do_post_group_message,
    do_record_member_state,
)
from channels.group.recording import get_room, room_lock
from clock import clock
from contacts.actions import ActionError
from contacts.events import subscribe, unsubscribe
from contacts.stream import StreamKind, get_event_log
from extensions import db

from .group_audience import GroupCustomer, Line, plan_audience
from .group_takeover import RoomTakeOver
from .ownership import LeaseLost

log = logging.getLogger(__name__)
WATCHED = frozenset({"message", "group.announcement", "group.moved_private", "contact.ended", "wrap_up"})
GROUP_KIND = "group_audience"  # the kind on the shared event log


@dataclass
class LiveRoom:
    room_id: int
    scenario: object
    lang: str
    customers: list[GroupCustomer]
    by_member: dict[str, GroupCustomer] = field(default_factory=dict)
    applied: set[int] = field(default_factory=set)  # seqs of the room's events applied (each once)
    lease: int | None = None  # the audience's lease (simulator/ownership.py), taken when driven here


@dataclass(order=True)
class _Due:
    due: float
    seq: int
    room_id: int = field(compare=False)
    index: int = field(compare=False)
    kind: str = field(compare=False)  # join | post | leave
    line: Line | None = field(compare=False, default=None)


class GroupAudienceDriver(RoomTakeOver):
    """Stored as ``app.extensions["kefu_group_audience"]``."""

    def __init__(self, app):
        self.app = app
        self.rooms: dict[int, LiveRoom] = {}
        self._ids: set[int] = set()
        self._due: list[_Due] = []
        self._seq = itertools.count()
        self._inbox: deque[dict] = deque()
        self._lock = threading.RLock()
        self._consumer = None
        subscribe(self._on_event, kind=GROUP_KIND)
        liveness = app.extensions.get("kefu_liveness")  # routing/liveness.py
        if liveness is not None:
            liveness.on("reannounce", self.reannounce)  # Redis lost the owner records: put ours back

    def stop(self) -> None:
        unsubscribe(self._on_event)
        if self._consumer is not None:
            self._consumer.stop()

    def start_room(self, room_id: int, scenario, lang: str, size: int, mix, seed: int) -> None:
        """Plan the room's audience and schedule each customer's joining on the sandbox clock; or, while a
        simulator worker is alive, hand the room to it (it plans the same audience from ``group.opened``)."""
        sim = self.app.extensions.get("kefu_simulator")
        worker = sim._delegate_to() if sim is not None else None
        if worker is not None:
            sim.ownership.claim("group", room_id, owner=worker)
            sim._send(worker, {"adopt": "group", "id": room_id})
            return
        with self._lock:
            customers = plan_audience(scenario, size, mix, seed)
            self.rooms[room_id] = LiveRoom(room_id, scenario, lang, customers, lease=self._take_lease(room_id, seed))
            self._ids.add(room_id)
            self._owner_record("claim", room_id)
            now = clock.timestamp()
            for c in customers:
                self._push(now + c.join_after, room_id, c.index, "join")

    def stop_room(self, room_id: int) -> None:
        with self._lock:
            if room_id in self.rooms or self._taking.get(room_id):  # driven here, or being taken over
                self._owner_record("release", room_id)
            self._forget(room_id)

    def live_members(self, room_id: int) -> int:
        room = self.rooms.get(room_id)
        return sum(1 for c in room.customers if c.status not in ("left", "private")) if room else 0

    # -- driving ------------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Apply queued events, carry out what is due, and let waiting customers lose patience."""
        if self._consumer is None and self.app.config.get("SIMULATOR_ENABLED"):
            self.start_stream()  # a served process: its ticker ticks us
        with self._lock, self._context():
            try:
                self.check_leases()
            except Exception:  # Redis away: the liveness supervisor brings it back
                log.warning("could not check the group rooms' owner records")
            now = clock.timestamp()
            for _ in range(20):
                progressed = self._drain()
                progressed = self._run_due(now) or progressed
                if not progressed:
                    break
            for room in list(self.rooms.values()):
                for c in room.customers:
                    lines = c.on_tick(now, room.scenario)
                    if lines:
                        self._schedule(room, c, lines, now, reason="patience")
            self._run_due(now)

    def next_due(self) -> float | None:
        with self._lock:
            return self._due[0].due if self._due else None

    def run_for(self, seconds: float, step: float = 1.0) -> None:
        """Advance the sandbox clock by ``seconds`` in steps, ticking each step (tests, benchmarks)."""
        left = seconds
        self.tick()
        while left > 0:
            jump = min(step, left)
            clock.advance(jump)
            left -= jump
            self.tick()

    # -- internals ----------------------------------------------------------------------------------------

    def _context(self):
        if has_app_context() and current_app._get_current_object() is self.app:
            return contextlib.nullcontext()
        return self.app.app_context()

    def _on_event(self, payload: dict) -> bool | None:
        """Listener: events of the rooms this process drives are queued (True: no other process needs them);
        False for other contacts' events, which the log carries to the process driving their room."""
        if payload.get("type") != "contact_event":
            return None
        if not (has_app_context() and current_app._get_current_object() is self.app):
            return None
        ev = payload.get("event") or {}
        if ev.get("contact_id") not in self._ids:
            return False
        self._queue(ev)
        return True

    def _queue(self, ev: dict) -> None:
        if ev.get("type") not in WATCHED or (ev["type"] == "message" and ev.get("actor") == "customer"):
            return
        self._inbox.append(ev)

    # -- across processes ---------------------------------------------------------------------------------

    def start_stream(self) -> None:
        """Consume the shared log: what the agents of our rooms do from desks on other processes."""
        self._consumer = get_event_log(self.app).consumer(self.stream_kind())
        self._consumer.start()

    def stream_kind(self) -> StreamKind:
        """This driver's kind of the shared log. ``regrouped``: the log's groups were made again after Redis lost
        them, from new entries on, so what was appended before is never read: the rooms catch up from their
        recordings (as on a re-announce)."""
        return StreamKind(
            GROUP_KIND,
            handle=self.on_stream,
            owner_of=self._owner_of,
            types=WATCHED,
            regrouped=lambda: self.catch_up(list(self.rooms)),
        )

    def on_stream(self, payload: dict) -> None:
        """An event recorded by another process in a room this process drives."""
        ev = payload.get("event") or {}
        room_id = ev.get("contact_id")
        if room_id not in self._ids and self._owner_of(payload) == self._process_id():
            # Handed to us and the adopt message is still on its way: take the audience over now (the replay
            # of the recording applies this event too).
            sim = self.app.extensions.get("kefu_simulator")
            if sim is not None:
                sim.adopt_room(room_id)
            return
        if room_id in self._ids:
            self._queue(ev)

    def _process_id(self) -> str | None:
        ownership = self._ownership()
        return ownership.process_id if ownership is not None else None

    def _ownership(self):
        sim = self.app.extensions.get("kefu_simulator")
        return sim.ownership if sim is not None else None

    def _owner_of(self, payload: dict) -> str | None:
        ownership = self._ownership()
        room_id = (payload.get("event") or {}).get("contact_id")
        if ownership is None or room_id is None:
            return None
        return ownership.record("group", room_id).get("owner") or None

    def _take_lease(self, room_id: int, seed: int) -> int | None:
        """Hold the lease of the room's audience (on the room contact's ``simulated_customers`` row, with the
        audience's seed): what it records from now on is fenced by it."""
        ownership = self._ownership()
        return ownership.take_lease("contact", room_id, seed=seed) if ownership is not None else None

    @contextlib.contextmanager
    def _fence(self, room: LiveRoom) -> Iterator[None]:
        """Record for the room's audience only while this process holds its lease (LeaseLost otherwise, nothing
        written): a process taken for dead on a stalled machine, whose audience another process took over, must
        not post, join or leave for it a second time. The room's lock is taken first, in the order the group
        actions take it (room lock, then the database), so a member's post here never waits on us the other way."""
        ownership = self._ownership()
        if ownership is None:
            yield
            return
        with room_lock(room.room_id), ownership.fenced("contact", room.room_id, room.lease):
            yield

    def _lease_lost(self, room_id: int) -> None:
        """Another process drives this room's audience now: let it go here, and point a Redis owner record that
        still names this process at the lease's holder."""
        db.session.rollback()
        log.warning("the audience of group room %s is driven by another process now; letting it go", room_id)
        self._forget(room_id)
        ownership = self._ownership()
        if ownership is not None:
            ownership.follow_holder("group", room_id)

    def _process_id_tag(self) -> str:
        return (self._process_id() or "local").rsplit("-", 1)[-1]

    def _owner_record(self, action: str, room_id: int) -> None:
        ownership = self._ownership()
        if ownership is None:
            return
        try:
            getattr(ownership, action)("group", room_id)
        except Exception:  # Redis away: put back by ``reannounce`` once it is rebuilt
            log.warning("could not %s the owner record of group room %s", action, room_id)

    def reannounce(self) -> None:
        """The liveness ``reannounce`` hook: Redis lost the owner records; put back those of our rooms, then catch up
        on their recordings (as chat customers do, ``SimulatorWorkers.catch_up``): an agent's post recorded while no
        record named this process was passed over by the log, and one whose entry the loss took never comes. Each
        event is applied once, so an entry that still comes changes nothing; a failed read is tried again at the next
        ``check_leases``."""
        with self._lock:
            rooms = list(self.rooms)
        for room_id in rooms:
            self._owner_record("claim", room_id)
        if rooms:
            self.catch_up(rooms)

    def _drain(self) -> bool:
        progressed = False
        while self._inbox:
            ev = self._inbox.popleft()
            progressed = True
            room = self.rooms.get(ev["contact_id"])
            if room is None or ev.get("seq") in room.applied:
                continue  # a room no longer driven, or an event delivered twice
            room.applied.add(ev.get("seq"))
            try:
                self._apply(room, ev)
            except Exception:
                db.session.rollback()
                log.exception("group audience could not apply event %s", ev.get("id"))
        return progressed

    def _apply(self, room: LiveRoom, ev: dict) -> None:
        ts = float(ev["ts"])
        if ev["type"] in ("contact.ended", "wrap_up"):
            self.stop_room(room.room_id)
            return
        if ev["type"] == "group.moved_private":
            c = room.by_member.get((ev.get("data") or {}).get("member"))
            if c is not None:
                self._drop(room.room_id, c.index)
                self._schedule(room, c, c.on_moved(room.scenario), ts, reason="moved")
            return
        for c in room.customers:
            lines = c.on_agent_post(ev, room.scenario, room.lang)
            if lines or c.answered_seq == ev["seq"]:
                self._schedule(room, c, lines, ts, reason="answered")

    def _schedule(self, room: LiveRoom, c: GroupCustomer, lines: list[Line], ts: float, *, reason: str) -> None:
        self._record_state(room, c, reason)
        at = ts
        for line in lines:
            at += line.delay
            self._push(at, room.room_id, c.index, "leave" if line.text is None else "post", line)

    def _record_state(self, room: LiveRoom, c: GroupCustomer, reason: str) -> None:
        if c.member_id is None:
            return
        data = {
            "member": c.member_id,
            "kind": c.kind,
            "need": c.need["id"] if c.need else None,
            "status": c.status,
            "reaction": reason,
            "answered_seq": c.answered_seq,
            "answered_how": c.answered_how,
        }
        try:
            with self._fence(room):
                do_record_member_state(room.room_id, data)
        except LeaseLost:
            self._lease_lost(room.room_id)
        except Exception:
            db.session.rollback()
            log.exception("could not record a group member's state in room %s", room.room_id)

    def _push(self, due: float, room_id: int, index: int, kind: str, line: Line | None = None) -> None:
        heapq.heappush(self._due, _Due(due, next(self._seq), room_id, index, kind, line))

    def _drop(self, room_id: int, index: int) -> None:
        self._due = [d for d in self._due if not (d.room_id == room_id and d.index == index)]
        heapq.heapify(self._due)

    def _run_due(self, now: float) -> bool:
        progressed = False
        while self._due and self._due[0].due <= now:
            item = heapq.heappop(self._due)
            progressed = True
            room = self.rooms.get(item.room_id)
            if room is not None:
                self._perform(room, room.customers[item.index], item)
        return progressed

    def _perform(self, room: LiveRoom, c: GroupCustomer, item: _Due) -> None:
        """Carry out one due thing through the room's customer-side actions."""
        try:
            with self._fence(room):
                self._act(room, c, item)
        except LeaseLost:
            self._lease_lost(room.room_id)
        except ActionError as e:
            db.session.rollback()
            log.info("group room %s member %s: %s refused: %s", room.room_id, c.member_id, item.kind, e)
        except Exception:
            db.session.rollback()
            log.exception("group room %s member %s: %s failed", room.room_id, c.member_id, item.kind)

    def _act(self, room: LiveRoom, c: GroupCustomer, item: _Due) -> None:
        contact = get_room(room.room_id)
        if item.kind == "join":
            c.member_id, _ = do_join_group_member(contact, c.name, simulated=True)
            room.by_member[c.member_id] = c
            for line in c.opening(room.scenario):
                self._push(item.due + line.delay, room.room_id, c.index, "post", line)
        elif item.kind == "post":
            line = item.line
            ev, _ = do_post_group_message(
                contact,
                c.member_id,
                line.text,
                need=line.need,
                kind=line.kind,
                # The process id's random part: a line of an audience taken over from a dead process never
                # repeats one of its ids (it would be taken for a resend and dropped).
                client_id=f"gsim-{room.room_id}-{c.index}-{self._process_id_tag()}-{item.seq}",
            )
            c.on_posted(float(ev["ts"]), line.kind)
        elif item.kind == "leave":
            do_leave_group_member(contact, c.member_id, "impatient" if c.status == "left" else "left")
