"""Role checks for routes and socket events. Every route and every socket event goes through one of these."""

from __future__ import annotations

import functools

from flask import abort, jsonify, request
from flask_login import current_user
from flask_socketio import disconnect


def role_required(*roles: str):
    """Route decorator: 401 when not logged in, 403 for a role not in ``roles``."""

    def deco(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                if request.path.startswith("/api/"):
                    return jsonify(error="login required"), 401
                from flask import redirect, url_for
                from flask_login import login_url

                return redirect(login_url(url_for("accounts.login"), next_url=request.full_path))
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return deco


SOCKET_IDENTITY = "kefu_identity"
# How often an open socket re-checks that its sign-in still exists on the server (a logout elsewhere ends it):
# one Redis read per socket at most this often, instead of one per event on a live desk.
SESSION_RECHECK_SECONDS = 2.0


def remember_socket_identity() -> None:
    """Keep the logged-in user's id and role in this socket's own session (Flask-SocketIO gives each socket a
    copy), so that the many events of a live desk are checked without loading the user from the database
    each time. A role change takes effect when the socket reconnects; a logout within SESSION_RECHECK_SECONDS."""
    import time

    from flask import session

    session[SOCKET_IDENTITY] = {"id": current_user.id, "role": current_user.role, "checked": time.monotonic()}


def socket_identity() -> dict | None:
    """{"id", "role"} of this socket's user: remembered at connect, else loaded through Flask-Login. None once
    the sign-in it was opened with has ended (logout): the socket's events are refused from then on."""
    import time

    from flask import session

    from .sessions import session_alive

    ident = session.get(SOCKET_IDENTITY)
    if ident is not None:
        now = time.monotonic()
        if now - ident.get("checked", 0.0) >= SESSION_RECHECK_SECONDS:
            if not session_alive(ident["id"]):
                session.pop(SOCKET_IDENTITY, None)
                return None
            ident["checked"] = now
        return ident
    if current_user.is_authenticated:
        return {"id": current_user.id, "role": current_user.role}
    return None


def socket_role_required(*roles: str):
    """Socket.IO handler decorator: refuse (and say why) an event from the wrong role or an anonymous socket."""

    def deco(handler):
        @functools.wraps(handler)
        def wrapped(self, *args, **kwargs):
            ident = socket_identity()
            if ident is None:
                disconnect()
                return {"ok": False, "error": "login required"}
            if roles and ident["role"] not in roles:
                return {"ok": False, "error": f"role '{ident['role']}' may not do this"}
            return handler(self, *args, **kwargs)

        return wrapped

    return deco
