"""/floor: leads' live floor. Every event is role-checked; watching a contact outside one's groups is refused."""

from __future__ import annotations

from flask_login import current_user
from flask_socketio import Namespace, join_room, leave_room

from accounts.roles import remember_socket_identity, socket_role_required
from contacts.actions import ActionError, get_contact
from contacts.events import contact_room
from extensions import db

from .floor import floor_snapshot, may_watch

LEADS = ("lead", "admin")


class FloorNamespace(Namespace):
    def on_connect(self, auth=None):
        if not current_user.is_authenticated or current_user.role not in LEADS:
            return False
        remember_socket_identity()
        join_room("floor")

    @socket_role_required(*LEADS)
    def on_snapshot(self, data=None):
        try:
            return {"ok": True, **floor_snapshot(current_user)}
        finally:
            db.session.remove()

    @socket_role_required(*LEADS)
    def on_watch(self, data):
        """Follow one contact's events live."""
        try:
            contact = get_contact((data or {}).get("contact_id") if isinstance(data, dict) else None)
            if not may_watch(current_user, contact):
                return {"ok": False, "error": "this contact is outside your groups"}
            join_room(contact_room(contact.id))
            return {"ok": True, "contact": contact.summary()}
        except ActionError as e:
            return {"ok": False, "error": str(e)}
        finally:
            db.session.remove()

    @socket_role_required(*LEADS)
    def on_unwatch(self, data):
        if isinstance(data, dict) and str(data.get("contact_id", "")).isdigit():
            leave_room(contact_room(int(data["contact_id"])))
        return {"ok": True}
