"""/group: the room's live channel for its agent (staff events, role-checked) and its customers (a person who
joined with the room's link proves each event with their member token). Thin handlers: validate -> action ->
ack; refusals are acked with their reason, never raised into the server."""

from __future__ import annotations

import functools

from flask import request
from flask_login import current_user
from flask_socketio import Namespace, join_room

from accounts.models import User
from accounts.roles import remember_socket_identity, socket_identity
from channels.chat.acks import ConnectionRateLimit
from contacts.actions import ActionError
from extensions import db

from . import actions
from .recording import STAFF_ROLES, get_room, member_room, members_room, room_state, staff_room
from .transcript import customer_events_after, staff_events_after

_limit = ConnectionRateLimit(rate=5.0, burst=10.0)  # events a second per connection
_handler = _limit.handler


def _staff_only(fn):
    """Staff events: refuse (with the reason, keeping the socket) an anonymous customer's socket or a role that
    does not serve rooms. (accounts.roles.socket_role_required would disconnect an anonymous socket, and a
    customer's socket in this namespace is anonymous by design.)"""

    @functools.wraps(fn)
    def wrapped(self, data=None):
        ident = socket_identity()
        if ident is None:
            return {"ok": False, "error": "login required"}
        if ident["role"] not in STAFF_ROLES:
            return {"ok": False, "error": f"role '{ident['role']}' may not do this"}
        return fn(self, data)

    return wrapped


def _after(data) -> int:
    try:
        return int(data.get("after_seq", 0))
    except (TypeError, ValueError) as e:
        raise ActionError("after_seq must be a number") from e


def _me():
    return db.session.get(User, socket_identity()["id"])


def _served_room(data):
    room = get_room(data.get("room_id"))
    if not actions.may_serve(_me(), room):
        raise ActionError("this group room is not yours")
    return room


def _member(data):
    room = get_room(data.get("room_id"))
    member = actions.member_for_token(room, data.get("member_id"), data.get("member_token"))
    return room, member


class GroupNamespace(Namespace):
    def on_connect(self, auth=None):
        if current_user.is_authenticated:
            remember_socket_identity()

    def on_disconnect(self, reason=None):
        _limit.forget(request.sid)

    # -- the agent's side -----------------------------------------------------------------------------------

    @_staff_only
    @_handler
    def on_watch(self, data):
        """The room page (re)connects: join the staff room, get the live view and the events after ``after_seq``."""
        room = _served_room(data)
        join_room(staff_room(room.id))
        return {"ok": True, "room": room_state(room.id).snapshot(), "events": staff_events_after(room, _after(data))}

    @_staff_only
    @_handler
    def on_reply(self, data):
        """Post to the room: ``mentions`` (member ids), ``reply_to`` (a member), ``cluster`` (a need id)."""
        room = _served_room(data)
        ev, answered = actions.do_reply_in_group(
            room,
            _me(),
            data.get("text"),
            mentions=data.get("mentions"),
            reply_to=data.get("reply_to"),
            cluster=data.get("cluster") or None,
            client_id=data.get("client_id"),
        )
        return {"ok": True, "event": ev, "answered": answered}

    @_staff_only
    @_handler
    def on_pin(self, data):
        """Pin an announcement (optionally as the answer to one need cluster)."""
        room = _served_room(data)
        ev, answered = actions.do_pin_announcement(room, _me(), data.get("text"), cluster=data.get("cluster") or None)
        return {"ok": True, "event": ev, "answered": answered}

    @_staff_only
    @_handler
    def on_unpin(self, data):
        room = _served_room(data)
        return {"ok": True, "event": actions.do_unpin_announcement(room, _me(), data.get("seq"))}

    @_staff_only
    @_handler
    def on_move_private(self, data):
        """Move a member's individual need to a one-to-one chat reserved for the room's agent."""
        room = _served_room(data)
        ev, contact, _token = actions.do_move_member_to_private(room, _me(), str(data.get("member") or ""))
        return {"ok": True, "event": ev, "contact_id": contact.id}

    @_staff_only
    @_handler
    def on_close(self, data):
        room = _served_room(data)
        actions.do_close_group_room(room, _me(), code=data.get("code") or "GROUP", notes=data.get("notes") or "")
        return {"ok": True}

    # -- a person in the audience ---------------------------------------------------------------------------

    @_handler
    def on_join(self, data):
        """Join with the room's link token and a name; returns the member id and its token (kept by the page)."""
        room = get_room(data.get("room_id"))
        if not data.get("token") or data.get("token") != room.customer_token:
            raise ActionError("this join link is not valid")
        member_id, token = actions.do_join_group_member(room, str(data.get("name") or ""))
        join_room(members_room(room.id))
        join_room(member_room(room.id, member_id))
        return {"ok": True, "member_id": member_id, "member_token": token, "events": customer_events_after(room, 0)}

    @_handler
    def on_resume(self, data):
        """Rejoin after a reload or a dropped socket; get what was missed."""
        room, member = _member(data)
        join_room(members_room(room.id))
        join_room(member_room(room.id, member.id))
        state = room_state(room.id)
        pinned = [p for p in state.pinned.values()]
        return {
            "ok": True,
            "status": member.status,
            "open": state.open,
            "pinned": pinned,
            "events": customer_events_after(room, _after(data)),
        }

    @_handler
    def on_post(self, data):
        room, member = _member(data)
        ev, created = actions.do_post_group_message(room, member.id, data.get("text"), client_id=data.get("client_id"))
        return {"ok": True, "seq": ev["seq"], "duplicate": not created}

    @_handler
    def on_leave(self, data):
        room, member = _member(data)
        actions.do_leave_group_member(room, member.id, "left")
        return {"ok": True}
