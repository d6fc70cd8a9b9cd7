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
