"""/floor: the leads' live floor and monitoring. Thin handlers: validate -> action -> ack.

Leads and admins open it for the floor; graders open it to monitor silently. Each socket joins the rooms of
what it may see (accounts/scope.py): ``floor:queue`` (contacts nobody holds nor is reserved for), one room per
group it leads, its own lead room, and ``floor:all`` for admins. State changes and alerts reach only the rooms
of those who supervise the agent (console/pushes.py, console/alerts.py). Every event checks the role, and
every monitoring action checks the contact (console/monitoring.py).
"""

from __future__ import annotations

import threading

from flask import request
from flask_login import current_user
from flask_socketio import Namespace, join_room, leave_room

from accounts.roles import remember_socket_identity, socket_role_required
from accounts.scope import floor_rooms_of_user
from channels.chat.acks import ack_errors
from contacts.actions import ActionError, get_contact
from contacts.events import contact_room
from contacts.models import ContactEvent
from extensions import db

from . import monitoring
from .floor import floor_snapshot

LEADS = ("lead", "admin")
_call_monitors: dict[str, set[int]] = {}  # socket id -> contacts whose call it has joined (hung up on disconnect)
_call_monitors_lock = threading.Lock()
MONITORS = ("lead", "admin", "grader")


def _payload(data) -> dict:
    if not isinstance(data, dict):
        raise ActionError("expected a JSON object")
    return data


def _me():
    return current_user._get_current_object()


def _contact(data):
    return get_contact(_payload(data).get("contact_id"))


class FloorNamespace(Namespace):
    def on_connect(self, auth=None):
        if not current_user.is_authenticated or current_user.role not in MONITORS:
            return False
        remember_socket_identity()
        if current_user.role == "grader":
            return  # graders monitor contacts; the floor itself is the leads'
        for room in floor_rooms_of_user(current_user):
            join_room(room)

    def on_disconnect(self, reason=None):
        """A lead who closes the page leaves the calls they were monitoring (recorded as monitor.stop)."""
        with _call_monitors_lock:
            joined = _call_monitors.pop(request.sid, set())
        if not joined or not current_user.is_authenticated:
            return
        from .call_monitor import do_leave_call_monitor

        for cid in joined:
            try:
                do_leave_call_monitor(_me(), get_contact(cid))
            except Exception:  # the call may have ended meanwhile; nothing is left to undo
                db.session.rollback()
        db.session.remove()

    @socket_role_required(*LEADS)
    @ack_errors
    def on_snapshot(self, data=None):
        """Agents, queues, live contacts by channel and the live alerts of this lead's groups."""
        return {"ok": True, **floor_snapshot(_me())}

    @socket_role_required(*MONITORS)
    @ack_errors
    def on_watch(self, data):
        """Follow one contact's events live (silent: ``monitor.watch`` is recorded, the desk is not told).
        ``record: false`` re-joins after a reconnect without recording again."""
        data = _payload(data)
        contact = _contact(data)
        monitoring.require_right(_me(), contact, "watch")
        if data.get("record", True) and contact.is_open:
            monitoring.do_start_monitoring(_me(), contact, "watch")
        join_room(contact_room(contact.id))
        return {
            "ok": True,
            "contact": contact.summary(),
            "events": _all_events(contact),
            "rights": sorted(monitoring.monitor_rights(_me(), contact)),
        }

    @socket_role_required(*MONITORS)
    @ack_errors
    def on_unwatch(self, data):
        data = _payload(data)
        contact = _contact(data)
        monitoring.require_right(_me(), contact, "watch")
        leave_room(contact_room(contact.id))
        if contact.is_open:
            monitoring.do_stop_monitoring(_me(), contact, "watch")
        return {"ok": True}

    @socket_role_required(*LEADS)
    @ack_errors
    def on_coach(self, data):
        """A private coaching note to the agent on this contact."""
        data = _payload(data)
        event = monitoring.do_send_coaching_note(_me(), _contact(data), data.get("text"))
        return {"ok": True, "event": event}

    @socket_role_required(*LEADS)
    @ack_errors
    def on_take_over(self, data):
        """The lead becomes the contact's agent; the desk takes it from here."""
        event = monitoring.do_take_over_contact(_me(), _contact(data))
        return {"ok": True, "event": event}

    @socket_role_required(*MONITORS)
    @ack_errors
    def on_monitor_call(self, data):
        """Join a live call with the browser's SDP offer as ``lead:<id>`` in listen, whisper or barge mode."""
        from .call_monitor import do_join_call_monitor

        data = _payload(data)
        contact = _contact(data)
        reply = do_join_call_monitor(_me(), contact, str(data.get("mode") or ""), data.get("sdp"))
        with _call_monitors_lock:
            _call_monitors.setdefault(request.sid, set()).add(contact.id)
        return {"ok": True, **reply}

    @socket_role_required(*MONITORS)
    @ack_errors
    def on_monitor_mode(self, data):
        """Switch between listen, whisper and barge on a call already joined."""
        from .call_monitor import do_set_call_monitor_mode

        data = _payload(data)
        return {"ok": True, "event": do_set_call_monitor_mode(_me(), _contact(data), str(data.get("mode") or ""))}

    @socket_role_required(*MONITORS)
    @ack_errors
    def on_monitor_hang_up(self, data):
        from .call_monitor import do_leave_call_monitor

        contact = _contact(data)
        with _call_monitors_lock:
            _call_monitors.get(request.sid, set()).discard(contact.id)
        return {"ok": True, "event": do_leave_call_monitor(_me(), contact)}

    @socket_role_required(*LEADS)
    @ack_errors
    def on_ack_alert(self, data):
        event = monitoring.do_acknowledge_alert(_me(), _payload(data).get("id"))
        return {"ok": True, "event": event}


def _all_events(contact) -> list[dict]:
    """The whole recording so far, including what the desk never gets (the customer's mood, monitoring)."""
    from sqlalchemy import select

    q = select(ContactEvent).where(ContactEvent.contact_id == contact.id).order_by(ContactEvent.seq)
    return [e.as_dict() for e in db.session.scalars(q)]
