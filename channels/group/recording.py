"""A group room's recording and live view: room names on the /group namespace, the per-room lock, the live
RoomState (rebuilt from the events on first use), and ``record`` - append one event, fold it into the live view
and publish it: the full event to the staff room of the /group namespace and the floor, a customer's view of
it to the members' room. The do_* actions (channels/group/actions.py) all record through it."""

from __future__ import annotations

import hashlib
import threading

from flask import current_app
from sqlalchemy import select

from accounts.models import User
from contacts.actions import ActionError
from contacts.events import append_event, publish_contact_event
from contacts.models import Contact, ContactEvent
from contacts.transaction import on_commit
from extensions import db, socketio

from .room import RoomState

GROUP_QUEUE = "group.room"
STAFF_ROLES = ("trainee", "lead", "admin")
_EXT = "kefu_group_rooms"
_locks: dict[int, threading.RLock] = {}
_locks_guard = threading.Lock()

# Customer-visible event types, and the fields of each a customer may see.
CUSTOMER_FIELDS = {
    "message": ("member", "name", "mentions", "mention_names", "reply_to"),
    "group.announcement": ("cluster",),
    "group.unpinned": ("announcement_seq",),
    "group.member_joined": ("member", "name"),
    "group.member_left": ("member", "name"),
    "contact.ended": ("reason",),
}


def staff_room(room_id: int) -> str:
    return f"room:{room_id}:staff"


def members_room(room_id: int) -> str:
    return f"room:{room_id}:members"


def member_room(room_id: int, member_id: str) -> str:
    return f"room:{room_id}:member:{member_id}"


def room_lock(room_id: int) -> threading.RLock:
    with _locks_guard:
        return _locks.setdefault(room_id, threading.RLock())


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def room_state(room_id: int) -> RoomState:
    """This room's live view: rebuilt from the recording on first use in this process, and brought up to date
    with the events recorded since (by another web process: a member who joined there, a post made there) on
    every use. Without that catch-up a process kept the view it first built: a member who joined through
    another process and came back here on a new socket was refused as "unknown member", and a join here could
    reuse a member id given out there (found by bench/fault_injection.py's group room). One indexed query per
    use, which finds nothing in the common case."""
    rooms = current_app.extensions.setdefault(_EXT, {})
    with room_lock(room_id):
        state = rooms.get(room_id)
        q = select(ContactEvent).where(ContactEvent.contact_id == room_id)
        if state is not None:
            q = q.where(ContactEvent.seq > state.last_seq)
        events = [e.as_dict() for e in db.session.scalars(q.order_by(ContactEvent.seq))]
        if state is None:
            state = rooms[room_id] = RoomState.replay(room_id, events)
        else:
            for ev in events:
                state.apply(ev)
        return state


def refresh_room_state(room_id: int) -> RoomState:
    """Rebuild this process's live view of a room from the recording: a process that takes a room's simulated
    audience over may have built its view before the members that another process let in had joined."""
    with room_lock(room_id):
        current_app.extensions.setdefault(_EXT, {}).pop(room_id, None)
        return room_state(room_id)


def get_room(room_id) -> Contact:
    """The group room contact with this id, or ActionError."""
    try:
        rid = int(room_id)
    except (TypeError, ValueError) as e:
        raise ActionError("room id must be a number") from e
    room = db.session.get(Contact, rid)
    if room is None or room.channel != "group":
        raise ActionError(f"no group room {rid}")
    return room


def may_serve(user: User, room: Contact) -> bool:
    """The room's own agent, the lead of that agent's group, or an admin."""
    if user.role == "admin" or room.agent_id == user.id:
        return True
    agent = db.session.get(User, room.agent_id) if room.agent_id else None
    return user.role == "lead" and agent is not None and user.leads_group_of(agent)


def customer_view_of(ev: dict) -> dict:
    data = ev.get("data") or {}
    keep = CUSTOMER_FIELDS.get(ev["type"], ())
    return {
        "room_id": ev["contact_id"],
        "seq": ev["seq"],
        "type": ev["type"],
        "actor": ev["actor"],
        "ts": ev["ts"],
        "text": ev["text"] if ev["type"] in ("message", "group.announcement") else None,
        "client_id": ev["client_id"] if ev["actor"] == "customer" else None,
        "data": {k: data[k] for k in keep if k in data},
    }


def customer_visible(ev: dict) -> bool:
    return ev["type"] in CUSTOMER_FIELDS


def record(room: Contact | int, type: str, actor: str, *, actor_id=None, text=None, data=None, client_id=None):
    """Append one event to the room (committed), fold it into the live view and publish it. Returns (event dict,
    created, members this event answered)."""
    room_id = room if isinstance(room, int) else room.id
    with room_lock(room_id):
        state = room_state(room_id)
        ev, created = append_event(room_id, type, actor, actor_id=actor_id, text=text, data=data, client_id=client_id)
        event = ev.as_dict()
        if not created:
            return event, False, []
        answered = state.apply(event)
        if type == "customer.state":
            publish_contact_event(ev)  # floor and in-process listeners only: the agent never sees a mind
        else:
            publish_contact_event(ev, extra_rooms=[("/group", staff_room(room_id))])
            if customer_visible(event):  # after the commit when inside an action (closing the room)
                on_commit(_emit_to_members, room_id, customer_view_of(event))
        return event, True, answered


def _emit_to_members(room_id: int, payload: dict) -> None:
    try:
        socketio.emit("event", payload, to=members_room(room_id), namespace="/group")
    except Exception:  # the event is committed; a dead socket must not undo it
        current_app.logger.exception("emit to group members failed")
