"""Socket.IO events run in socket_context.EventRequestContext: what a handler reads of its context is as before."""

from __future__ import annotations

from importlib.metadata import version

from flask import g, has_request_context, request, session, url_for
from flask.ctx import RequestContext
from flask.globals import _cv_request
from flask_login import current_user
from flask_socketio import Namespace

from extensions import db
from extensions import socketio as kefu_socketio
from socket_context import EventRequestContext, EventSocketIO


class Probe(Namespace):
    """Records what each event's context offers."""

    seen: list[dict] = []

    def on_connect(self, auth=None):
        session["probe"] = "set at connect"  # the socket's own session copy keeps it
        Probe.seen.append({"event": "connect", "ctx": type(_cv_request.get())})

    def on_look(self, data=None):
        from contacts.events import event_connection

        event_connection()  # checked out in the event, put back by the app context's teardown
        Probe.seen.append(
            {
                "event": "look",
                "ctx": type(_cv_request.get()),
                "has_request": has_request_context(),
                "sid": request.sid,
                "namespace": request.namespace,
                "message": request.event["message"],
                "args": request.event["args"],
                "session": session.get("probe"),
                "user": current_user.id if current_user.is_authenticated else None,
                "url": url_for("accounts.login"),
                "external": url_for("accounts.login", _external=True),
                "rule": request.url_rule,
                "g_before": g.get("probe_mark"),
                "adapter": _cv_request.get().url_adapter,
                "lang": request.accept_languages.best_match(["en", "zh_CN"]),
            }
        )
        g.probe_mark = "set in an event"
        return {"ok": True}


def test_events_run_in_the_cheaper_context_with_what_handlers_read(app, client, auth, make_user):
    """The connect runs in Flask's own request context; every later event in an EventRequestContext with the
    socket's sid, namespace, session copy, user, url_for (same URLs as an HTTP request of that host), a fresh ``g``
    per event, no URL match, and the app context's teardown putting the event connection back (pool or shelf)."""
    assert isinstance(kefu_socketio, EventSocketIO)
    make_user("probe_agent")
    auth.login("probe_agent")
    kefu_socketio.on_namespace(Probe("/ctxprobe"))
    Probe.seen.clear()
    with app.app_context():
        pool = db.engine.pool
        before = pool.checkedout()
    sc = kefu_socketio.test_client(
        app, namespace="/ctxprobe", flask_test_client=client, headers={"Accept-Language": "en"}
    )
    try:
        sid = sc.eio_sid and kefu_socketio.server.manager.sid_from_eio_sid(sc.eio_sid, "/ctxprobe")
        assert sc.emit("look", {"n": 1}, namespace="/ctxprobe", callback=True) == {"ok": True}
        assert sc.emit("look", {"n": 2}, namespace="/ctxprobe", callback=True) == {"ok": True}
        with app.app_context():
            from contacts.event_connections import shelf_for

            # back in the pool, or on the shelf for the next event (contacts/event_connections.py)
            assert db.engine.pool.checkedout() == before + len(shelf_for(db.engine))
        with app.test_request_context("/", headers={"Host": "localhost"}):
            login_url, login_external = url_for("accounts.login"), url_for("accounts.login", _external=True)
    finally:
        sc.disconnect(namespace="/ctxprobe")
    connect, first, second = Probe.seen[:3]
    assert connect["ctx"] is RequestContext  # Flask-SocketIO's own path: it makes the socket's session copy
    for i, ev in enumerate((first, second), start=1):
        assert ev["ctx"] is EventRequestContext and ev["has_request"]
        assert (ev["sid"], ev["namespace"], ev["message"]) == (sid, "/ctxprobe", "look")
        assert ev["args"] == ({"n": i},)
        assert ev["session"] == "set at connect"
        assert ev["user"] is not None
        assert (ev["url"], ev["external"]) == (login_url, login_external)
        assert ev["rule"] is None and ev["g_before"] is None  # no URL match; a new app context (g) per event
        assert ev["lang"] == "en"  # the connect request's headers
    assert first["adapter"] is second["adapter"]  # bound once per connection


def test_the_replaced_method_matches_the_pinned_libraries():
    """socket_context.EventSocketIO._handle_event restates Flask-SocketIO 5.7.0's event path on Flask 3.1.3 (and
    EventRequestContext Flask's RequestContext.__init__): re-read both when either pin changes."""
    assert version("Flask-SocketIO") == "5.7.0"
    assert version("Flask") == "3.1.3"
