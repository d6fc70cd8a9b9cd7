"""The session interface: Flask's signed cookie, opened once per Socket.IO connection rather than per event."""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface


class SocketSessionInterface(SecureCookieSessionInterface):
    """Flask's cookie session, except for Socket.IO events. Flask-SocketIO gives each socket its own copy of the
    session, made at connect and kept in the connection's WSGI environ (``saved_session``), and installs that
    copy right after pushing each event's request context; Flask would first open the cookie again (decompress,
    parse, check the signature) for every event of a live desk, only for it to be replaced. Returning the
    socket's copy here is the same session, without that work."""

    def open_session(self, app, request):
        saved = request.environ.get("saved_session")
        if saved is not None:
            return saved
        return super().open_session(app, request)


# ----- server-side sessions: a copied cookie stops working at logout -----------------------------------------

SESSION_ID = "kefu_sid"


def _key(sid: str) -> str:
    from extensions import redis_store

    return redis_store.key("session", sid)


def start_session(user_id: int) -> None:
    """At sign-in: a fresh server-side session id in the cookie, and its record in Redis (expiring after
    SESSION_IDLE_HOURS without a request)."""
    import secrets

    from flask import current_app, session

    from extensions import redis_store

    sid = secrets.token_urlsafe(24)
    redis_store.client.set(_key(sid), str(user_id), ex=int(current_app.config["SESSION_IDLE_HOURS"] * 3600))
    session[SESSION_ID] = sid


def end_session() -> None:
    """At logout: the server forgets the session, so the cookie (and any copy of it) is no longer a sign-in."""
    from flask import session

    from extensions import redis_store

    sid = session.pop(SESSION_ID, None)
    if sid:
        redis_store.client.delete(_key(sid))


def session_alive(user_id: int) -> bool:
    """Whether this request's session is one the server still holds for ``user_id`` (sliding its expiry)."""
    from flask import current_app, session

    from extensions import redis_store

    sid = session.get(SESSION_ID)
    if not sid:
        return False
    ttl = int(current_app.config["SESSION_IDLE_HOURS"] * 3600)
    return redis_store.client.getex(_key(sid), ex=ttl) == str(user_id)
