"""A group room's simulated audience taken over from the room's recording (issue 18): a mixin of
GroupAudienceDriver.

An audience lives in one process (owner record ``sim:group:<room>``). When that process dies (kill -9), the
process that adopts its work (simulator/engine.py ``recover``), or the live simulator worker it hands the room to,
rebuilds the audience from the recording and goes on: the customers are planned again from ``group.opened``
(scenario, size, mix, seed: the same names, kinds, needs, questions and patience), and the room's events are
replayed in order through each customer's mind - who joined as which member, what they posted (a question starts
their wait), the agent's replies and announcements (each customer reacts as it did live, by the same keyword
rule), moves to a private chat, patience run out, who left. Then what was cut off is done now:

- a reaction recorded as ``customer.state`` whose lines were not all posted posts the rest (a thanks, a calm
  line, the private-chat line); one that left on patience leaves;
- an agent post that no recorded reaction answers is new to the audience: whoever it answers reacts now (its
  ``customer.state`` is recorded then, as live);
- a customer not yet joined joins when due, one joined but silent asks when due; patience goes on from the time
  of their recorded question.

Nothing posted is posted again (line ids carry the process, so a taken-over line is never taken for a resend of
the dead process's), and each event is applied once (its sequence number is remembered). The taker holds the
audience's lease (simulator/ownership.py) before it reads the recording, and every join, post, leave and recorded
reaction is fenced by it: a process taken for dead that was only stalled records nothing more for the room. The
lease wait and the replay run outside the driver's lock, so the process's other rooms go on ticking meanwhile; the
room is registered with the driver once rebuilt (``take_over``).
"""

from __future__ import annotations

import heapq
import logging
import time

from sqlalchemy import select

from channels.group.recording import refresh_room_state
from clock import clock
from contacts.models import ContactEvent, event_dict
from extensions import db
from scenarios.group import GroupContentError, Mix, find_group_scenario

from .group_audience import Line, plan_audience

log = logging.getLogger(__name__)
OPENING_KINDS = ("question", "off_topic", "rude")


class RoomTakeOver:
    """Take-over for GroupAudienceDriver (which provides rooms, _ids, _due, _inbox, _lock, _push, _queue,
    _ownership, _take_lease and _record_state, and LiveRoom)."""

    _lease_check_at = 0.0
    _behind: frozenset[int] = frozenset()  # rooms whose catch-up could not read the recording: tried again

    def check_leases(self) -> list[int]:
        """Once a second: stop driving (here) the rooms whose audience another process drives now - this one was
        taken for dead on a stalled machine and their audiences were taken over - so a room never has two. The owner
        record only says whom to ask: a room whose record names another process is let go when its lease (the
        database) is no longer ours, and kept, its record claimed back, while it is - after a Redis loss a stalled
        process re-announces the rooms it still has in memory, and on the record's word the lease's holder let them
        go and nobody drove them (simulator/workers.py ``check_leases`` does the same for customers). A room whose
        record is claimed back catches up on the recording: the log handed the process the record named the room's
        events meanwhile, and it dropped them. Returns the rooms let go."""
        ownership, now = self._ownership(), time.monotonic()
        if ownership is None or now < self._lease_check_at or not self.rooms:
            return []
        self._lease_check_at = now + 1.0
        rooms = list(self.rooms)
        pipe = ownership.client.pipeline(transaction=False)
        for room_id in rooms:
            pipe.hget(ownership.key("group", room_id), "owner")
        named = [(r, o) for r, o in zip(rooms, pipe.execute(), strict=True) if o and o != ownership.process_id]
        kept = [r for r, owner in named if self._keep_if_leased(ownership, r, owner)]
        if kept or self._behind:
            self.catch_up(sorted(self._behind | set(kept)))
        return [r for r, _ in named if r not in kept]

    def _keep_if_leased(self, ownership, room_id: int, owner: str) -> bool:
        """The owner record of a room driven here names ``owner``, another process: the lease decides. True, and the
        record claimed back (compare-and-set: unless it changed meanwhile), while this process still holds the
        room's lease; False, and the room let go, when not. The database unreadable: kept, as the fence refuses its
        writes if another holds the lease (and the next check asks again)."""
        live = self.rooms.get(room_id)
        try:
            held = ownership.holds("contact", room_id, live.lease if live is not None else None)
        except Exception:
            db.session.rollback()
            log.warning("could not read the lease of group room %s; keeping its audience until it can be", room_id)
            return True
        if not held:
            log.warning("the audience of group room %s is driven by another process now; letting it go", room_id)
            self._forget(room_id)
            return False
        log.warning("group room %s: its owner record named %s, but its lease is ours; claiming it back", room_id, owner)
        try:
            ownership.take("group", room_id, owner)
        except Exception:  # Redis away: put back by ``reannounce`` once it is rebuilt
            log.warning("could not claim back the owner record of group room %s", room_id)
        return True

    def catch_up(self, room_ids: list[int]) -> int:
        """Apply to the audiences of ``room_ids`` the recorded events they have not applied, in order (each once, by
        its sequence number: an entry that still comes changes nothing). What already came is applied first, in the
        order it came. Returns how many were applied (a failure to read the recording: tried again at the next
        check)."""
        from .group_driver import WATCHED

        with self._lock, self._context():
            self._drain()
            ids = [r for r in room_ids if r in self.rooms]
            if not ids:
                return 0
            try:
                rows = db.session.scalars(
                    select(ContactEvent)
                    .where(ContactEvent.contact_id.in_(ids), ContactEvent.type.in_(sorted(WATCHED)))
                    .order_by(ContactEvent.contact_id, ContactEvent.seq)
                ).all()
                missed = [event_dict(e) for e in rows]
            except Exception:
                db.session.rollback()
                log.warning("could not read the recordings of group rooms %s to catch up; trying again", ids)
                self._behind = frozenset(ids)
                return 0
            self._behind = frozenset()
            missed = [
                e
                for e in missed
                if e["seq"] not in self.rooms[e["contact_id"]].applied
                and not (e["type"] == "message" and e["actor"] == "customer")
            ]
            for ev in missed:
                self._queue(ev)
            self._drain()
        if missed:
            log.warning("group audiences caught up on %d recorded event(s) the log took elsewhere", len(missed))
        return len(missed)

    def _forget(self, room_id: int) -> None:
        """Stop driving a room's audience here, recording nothing (one being taken over is not registered)."""
        with self._lock:
            self.rooms.pop(room_id, None)
            self._ids.discard(room_id)
            self._due = [d for d in self._due if d.room_id != room_id]
            heapq.heapify(self._due)
            if room_id in self._taking:
                self._taking[room_id] = False

    @property
    def _taking(self) -> dict[int, bool]:
        """The rooms whose audience a take-over is rebuilding now, each False once it is let go meanwhile (its lease
        lost during the replay, the room closed): that take-over then registers nothing."""
        return self.__dict__.setdefault("_taking_over", {})

    def take_over(self, room) -> bool:
        """Drive the audience of an open room (a Contact) whose owner record now names this process, rebuilt
        from its recording. False when it cannot be (closed, no ``group.opened``, scenario not loaded).

        The lease wait and the replay run outside the driver's lock, which every room's tick takes: held through
        them, every other room of this process stopped (its members silent) for as long as a stalled driver's write
        held the lease or a long recording was replayed. The room is built aside, out of every tick's sight (a tick
        never sees it half-built), and registered with its due steps in one step under the lock; what was recorded
        on it after the replay read the recording is queued then, ahead of what comes next (``_register``). A second
        take-over of the room meanwhile (an event of it from the log) leaves it to this one."""
        with self._lock:
            if room.id in self.rooms or room.id in self._taking:
                return True
            self._taking[room.id] = True
        try:
            live, events, due = self._rebuild(room)
            if live is None:
                return False
            if not self._register(live, due, max((e["seq"] for e in events), default=0)):
                log.warning("group room %s was let go while its audience was being taken over", room.id)
                return True
        finally:
            with self._lock:
                self._taking.pop(room.id, None)
        log.warning("took over the simulated audience of group room %s (%d events replayed)", room.id, len(events))
        return True

    def _rebuild(self, room) -> tuple[object | None, list[dict], list[tuple]]:
        """The room's audience taken over, not yet registered: (the room, the events replayed, its due steps), the
        lease taken and the recording replayed. (None, [], []) when it cannot be."""
        from .group_driver import LiveRoom

        if room.channel != "group" or room.status != "active":
            return None, [], []
        opened = db.session.scalar(
            select(ContactEvent).where(ContactEvent.contact_id == room.id, ContactEvent.type == "group.opened").limit(1)
        )
        if opened is None or not (opened.data or {}).get("audience"):
            return None, [], []
        # The lease first, then the recording: a write of the process that drove the audience until now (taken for
        # dead, perhaps only stalled) either is in what we read below or is refused (simulator/ownership.py).
        lease = self._take_lease(room.id, int(opened.data.get("seed") or 0))
        events = [
            event_dict(e)
            for e in db.session.scalars(
                select(ContactEvent).where(ContactEvent.contact_id == room.id).order_by(ContactEvent.seq)
            )
        ]
        opened = next((e for e in events if e["type"] == "group.opened"), None)
        if opened is None or not opened["data"].get("audience"):
            return None, [], []
        d = opened["data"]
        try:
            scenario, lang = find_group_scenario(d["scenario_id"])
            mix = Mix.model_validate(d["mix"])
        except (GroupContentError, KeyError, ValueError) as e:
            log.warning("cannot take over the audience of group room %s: %s", room.id, e)
            return None, [], []
        customers = plan_audience(scenario, int(d["audience"]), mix, int(d["seed"]))
        live = LiveRoom(room.id, scenario, lang, customers, lease=lease)
        refresh_room_state(room.id)  # members let in by the dead process: new ones must not reuse their ids
        return live, events, self._replay(live, events, float(opened["ts"]))

    def _register(self, live, due: list[tuple], replayed: int) -> bool:
        """Drive a rebuilt room from now on: registered, its due steps queued, and the room's watched events recorded
        after ``replayed`` (the last seq the replay read: the log passed them over while the room was not ours here)
        queued ahead of the inbox, in order - all under the driver's lock, so the next tick applies them first and
        the room's events from now on come to the inbox. A failed read is tried again at the next ``check_leases``.
        False, and nothing registered, when the room was let go meanwhile."""
        from .group_driver import WATCHED

        with self._lock:
            if not self._taking.get(live.room_id):
                return False
            self.rooms[live.room_id] = live
            self._ids.add(live.room_id)
            for at, index, kind, line in due:
                self._push(at, live.room_id, index, kind, line)
            try:
                rows = db.session.scalars(
                    select(ContactEvent)
                    .where(
                        ContactEvent.contact_id == live.room_id,
                        ContactEvent.seq > replayed,
                        ContactEvent.type.in_(sorted(WATCHED)),
                    )
                    .order_by(ContactEvent.seq)
                ).all()
            except Exception:
                db.session.rollback()
                log.warning("could not read what was recorded in group room %s during its take-over", live.room_id)
                self._behind = self._behind | {live.room_id}
                return True
            tail = [event_dict(e) for e in rows]
            self._inbox.extendleft(
                reversed([e for e in tail if not (e["type"] == "message" and e["actor"] == "customer")])
            )
        return True

    def _replay(self, live, events: list[dict], opened_at: float) -> list[tuple]:
        """Bring the rebuilt room's customers to where its recording left them, and record what the dead driver owed
        (``_owe``); returns the steps due from now on, (when, customer index, join | post | leave, line), queued
        when the room is registered."""
        scenario, now = live.scenario, clock.timestamp()
        by_name = {c.name: c for c in live.customers}
        joined_at: dict[int, float] = {}
        posts: dict[int, list[tuple[int, str]]] = {c.index: [] for c in live.customers}
        states: dict[int, list[dict]] = {c.index: [] for c in live.customers}
        reactions: list[tuple] = []  # (customer, lines, seq of what they reacted to, reason)
        gone: set[int] = set()
        for ev in events:
            live.applied.add(ev["seq"])
            data, kind = ev["data"], ev["type"]
            c = live.by_member.get(data.get("member")) if isinstance(data.get("member"), str) else None
            if kind == "group.member_joined" and data.get("simulated"):
                c = by_name.get(data.get("name"))
                if c is not None and c.member_id is None:
                    c.member_id = data["member"]
                    live.by_member[c.member_id] = c
                    c.opening(scenario)  # a rude customer's one ruder nudge
                    joined_at[c.index] = float(ev["ts"])
            elif kind == "message" and ev["actor"] == "customer" and c is not None:
                said = data.get("kind") or ""
                posts[c.index].append((ev["seq"], said))
                if said == "nudge" or (said == "rude" and c.asked_at is not None):
                    c.nudged = True
                    c.rude_left = max(0, c.rude_left - (said == "rude"))
                c.on_posted(float(ev["ts"]), said)
            elif kind == "customer.state" and c is not None:
                states[c.index].append({**data, "seq": ev["seq"]})
                if data.get("reaction") == "patience":
                    c.nudged = True
                    if data.get("status") == "left":
                        c.status = "left"
            elif kind == "group.member_left" and c is not None:
                c.status = "left"
                gone.add(c.index)
            elif kind == "group.moved_private" and c is not None:
                reactions.append((c, c.on_moved(scenario), ev["seq"], "moved"))
            elif kind in ("message", "group.announcement"):
                for c in live.customers:
                    lines = c.on_agent_post(ev, scenario, live.lang)
                    if lines or c.answered_seq == ev["seq"]:
                        reactions.append((c, lines, ev["seq"], "answered"))
        due: list[tuple] = []
        for c, lines, seq, reason in reactions:
            self._owe(live, c, lines, seq, reason, states[c.index], posts[c.index], now, due)
        for c in live.customers:
            self._resume(live, c, states[c.index], posts[c.index], c.index in gone, joined_at, opened_at, now, due)
        return due

    def _owe(self, live, c, lines: list[Line], seq: int, reason: str, states, posts, now: float, due) -> None:
        """A reaction the replay found: post what of it was not posted (recording it first when it never was)."""
        recorded = next(
            (
                s
                for s in states
                if s["seq"] > seq
                and s.get("reaction") == reason
                and (reason != "answered" or s.get("answered_seq") == seq)
            ),
            None,
        )
        if recorded is None:
            self._record_state(live, c, reason)  # new to the audience: an agent post the dead driver never applied
            after = seq
        else:
            after = recorded["seq"]
        kinds = {line.kind for line in lines}
        done = sum(1 for s, said in posts if s > after and said in kinds)
        at = now
        for line in lines[done:]:
            at += line.delay
            due.append((at, c.index, "leave" if line.text is None else "post", line))

    def _resume(self, live, c, states, posts, gone: bool, joined_at, opened_at: float, now: float, due) -> None:
        """What a customer still had to do when the driver died: join, ask, or finish leaving."""
        if gone:
            return
        if c.member_id is None:
            if c.status != "left":
                due.append((max(now, opened_at + c.join_after), c.index, "join", None))
            return
        if c.status == "left":  # out of patience: their parting line (unless posted), then they leave
            last = next((s for s in reversed(states) if s.get("reaction") == "patience"), None)
            after = last["seq"] if last else 0
            at = now
            if not any(s > after and said == "leave_line" for s, said in posts):
                line = Line(0.0, c.rng.choice(live.scenario.leave_lines), "leave_line")
                due.append((at, c.index, "post", line))
                at += 1.0
            due.append((at, c.index, "leave", None))
            return
        if c.asked_at is None and c.status == "idle" and not any(said in OPENING_KINDS for _, said in posts):
            for line in c.opening(live.scenario):
                due.append((max(now, joined_at[c.index] + line.delay), c.index, "post", line))
