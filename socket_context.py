"""The Flask context each Socket.IO event runs in, made cheaper than a fresh HTTP request's.

Flask-SocketIO (5.7.0, pinned) runs every event inside ``app.request_context(environ)`` of the socket's connect
request: a new Request, a URL adapter bound to the environ and the URL matched against every route of the app, then
the socket's own session copy installed (accounts/sessions.py). For a chat line that was about a tenth of the
server's CPU (bench/README.md chat_load, "where a message's CPU goes"). What an event needs of it: ``request.sid``,
``request.namespace``, the socket's session (identity, role), ``current_user``, ``url_for``, the headers and
arguments of the connect request (the locale), the app context (``g``, the database session and the event
connection, closed by the app's teardowns as before). What it never needs: the URL match, whose only outcome for the
Socket.IO endpoint was a NotFound nobody reads (events are dispatched by name, not by route).

So an event past the connect runs in ``EventRequestContext``: a real RequestContext (the same push, pop, teardowns
and signals; ``flask.request``, ``session``, ``has_request_context()`` as before) over a new Request of the same
environ, whose URL adapter is bound once per connection and kept in the environ (the same adapter every event of
that connection bound before: ``url_for`` builds the same URLs), and which skips the URL match. The connect event
itself, and any event before the socket's session copy exists, go through Flask-SocketIO's own path unchanged.
Role and group checks, CSRF (the connect's origin check, the session cookie) and the session copy are untouched.
tests/test_socket_context.py checks the replacement against the pinned libraries.
"""

from __future__ import annotations

import sys

from flask.ctx import RequestContext
from flask_socketio import SocketIO
from werkzeug.exceptions import HTTPException

_ADAPTER = "kefu.url_adapter"  # environ key: (url adapter or None, the HTTPException binding raised or None)


class EventRequestContext(RequestContext):
    """A request context for one Socket.IO event of an established connection (see the module docstring)."""

    def __init__(self, app, environ: dict, session) -> None:
        # Flask's own attributes, set as RequestContext.__init__ sets them, but for the URL adapter (see above)
        self.app = app
        request = app.request_class(environ)
        request.json_module = app.json
        trusted = app.config["TRUSTED_HOSTS"]
        if trusted is not None:
            request.trusted_hosts = trusted
        cached = environ.get(_ADAPTER)
        if cached is None:
            try:
                cached = (app.create_url_adapter(request), None)
            except HTTPException as e:
                cached = (None, e)
            environ[_ADAPTER] = cached
        self.url_adapter, error = cached
        if error is not None:
            request.routing_exception = error
        self.request = request
        self.flashes = None
        self._session = session
        self._after_request_functions = []
        self._cv_tokens = []

    def match_request(self) -> None:
        """No URL match: an event is dispatched by its name, and its URL (the Socket.IO endpoint) names no view."""


class EventSocketIO(SocketIO):
    """Flask-SocketIO, running the events of an established connection in an ``EventRequestContext``."""

    def _handle_event(self, handler, message, namespace, sid, *args):
        if message == "connect" or not self.manage_session:
            return super()._handle_event(handler, message, namespace, sid, *args)
        environ = self.server.get_environ(sid, namespace=namespace)
        if not environ:
            return "", 400  # as Flask-SocketIO: no record of this client, ignore the event
        session = environ.get("saved_session")
        if session is None:  # the socket's session copy is made by the library's own path
            return super()._handle_event(handler, message, namespace, sid, *args)
        with EventRequestContext(environ["flask.app"], environ, session) as ctx:
            request = ctx.request
            request.sid = sid
            request.namespace = namespace
            request.event = {"message": message, "args": args}
            try:
                return handler(*args)
            except ConnectionRefusedError:
                raise  # let this error bubble up to python-socketio
            except Exception:
                err_handler = self.exception_handlers.get(namespace, self.default_exception_handler)
                if err_handler is None:
                    raise
                return err_handler(sys.exc_info()[1])
