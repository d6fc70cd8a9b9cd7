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


def remember_socket_identity() -> None:
    """Keep the logged-in user's id and role in this socket's own session (Flask-SocketIO gives each socket a
    copy), so that the many events of a live desk are checked without loading the user from the database
    each time. A role change takes effect when the socket reconnects."""
    from flask import session

    session[SOCKET_IDENTITY] = {"id": current_user.id, "role": current_user.role}


def socket_identity() -> dict | None:
    """{"id", "role"} of this socket's user: remembered at connect, else loaded through Flask-Login."""
    from flask import session

    ident = session.get(SOCKET_IDENTITY)
    if ident is not None:
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
