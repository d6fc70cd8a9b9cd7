"""Server-side sign-ins kept in the database with Redis as a cache in front (issue 18): a Redis flush signs nobody
out and costs one database read; logout still revokes a copied cookie, also after a flush; idle expiry still holds."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, select, update

from accounts.models import UserSession
from accounts.roles import SESSION_RECHECK_SECONDS
from extensions import db, redis_store, socketio
from tests import factories


@pytest.fixture
def lead(app):
    with app.app_context():
        factories.user("bob", role="lead")


def _login(client):
    assert client.post("/login", data={"username": "bob", "password": "pass1234"}).status_code == 302


def _session_sql(app):
    """The statements on ``user_sessions`` run while the list is held (any connection of the app's engine)."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        if "user_sessions" in statement:
            seen.append(statement.split()[0].upper())

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
    return seen


def test_a_sign_in_survives_a_redis_flush(app, client, lead):
    """Signed in, Redis flushed: the next page and a new socket are still signed in, and an open socket's
    periodic re-check still accepts it."""
    _login(client)
    sock = socketio.test_client(app, namespace="/floor", flask_test_client=client)
    assert sock.is_connected("/floor")
    assert client.get("/api/floor").status_code == 200

    with app.app_context():
        redis_store.flush_prefix()
    assert client.get("/api/floor").status_code == 200
    again = socketio.test_client(app, namespace="/floor", flask_test_client=client)
    assert again.is_connected("/floor")

    with app.app_context():
        redis_store.flush_prefix()
    time.sleep(SESSION_RECHECK_SECONDS + 0.2)  # the open socket asks the server again
    ack = sock.emit("snapshot", {}, namespace="/floor", callback=True)
    assert ack.get("ok") is True, ack
    for s in (sock, again):
        s.disconnect(namespace="/floor")


def test_a_flush_costs_a_database_read_and_a_cached_request_none(app, client, lead):
    """While Redis holds the sign-in a request does not touch ``user_sessions``; the first request after a flush
    reads the row (and touches it) and fills the cache, and the one after it is served from the cache again."""
    _login(client)
    seen = _session_sql(app)
    assert client.get("/api/floor").status_code == 200
    assert seen == []
    with app.app_context():
        redis_store.flush_prefix()
    assert client.get("/api/floor").status_code == 200
    assert seen == ["SELECT", "UPDATE"]
    seen.clear()
    for _ in range(3):
        assert client.get("/api/floor").status_code == 200
    assert seen == []


def test_logout_revokes_a_copied_cookie_even_after_a_flush(app, lead):
    """A cookie copied before logout is refused after the logout, also once Redis lost every key (the row is
    gone, not only the cache entry): over HTTP, for a new socket, and for a socket opened before."""
    a = app.test_client()
    _login(a)
    thief = app.test_client()
    thief.set_cookie("session", a.get_cookie("session").value)
    assert thief.get("/api/floor").status_code == 200
    old_sock = socketio.test_client(app, namespace="/floor", flask_test_client=thief)
    assert old_sock.is_connected("/floor")

    assert a.post("/logout").status_code == 302
    with app.app_context():
        assert db.session.scalars(select(UserSession)).all() == []
        redis_store.flush_prefix()
    assert thief.get("/api/floor").status_code == 401
    sock = socketio.test_client(app, namespace="/floor", flask_test_client=thief)
    assert not sock.is_connected("/floor")
    time.sleep(SESSION_RECHECK_SECONDS + 0.2)
    ack = old_sock.emit("snapshot", {}, namespace="/floor", callback=True)
    assert ack == {"ok": False, "error": "login required"}


def test_logout_between_a_cache_miss_and_its_refill_wins(app, client, lead):
    """A request that read the row just before a logout fills the cache only where it is empty: the logout's
    "ended" marker stays, and the cookie is refused."""
    from accounts.sessions import ENDED, _alive_in_db, _hash, _key

    _login(client)
    with client.session_transaction() as s:
        sid = s["kefu_sid"]
    with app.app_context():
        user_id = db.session.scalar(select(UserSession.user_id))
        redis_store.client.set(_key(_hash(sid)), ENDED, ex=60)  # the logout's marker, written meanwhile
        assert _alive_in_db(_hash(sid), user_id, 3600, cache=True) is False
        assert redis_store.client.get(_key(_hash(sid))) == ENDED


def test_an_idle_sign_in_expires_from_the_database_too(app, client, lead):
    """A sign-in idle for longer than SESSION_IDLE_HOURS is refused when Redis no longer has it, and its row is
    deleted; an active one slides (its row's last_seen_at moves on a miss)."""
    _login(client)
    idle = app.config["SESSION_IDLE_HOURS"] * 3600
    with app.app_context():
        before = db.session.scalar(select(UserSession.last_seen_at))
        db.session.execute(update(UserSession).values(last_seen_at=before - 60))
        db.session.commit()
        redis_store.flush_prefix()
    assert client.get("/api/floor").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(UserSession.last_seen_at)) >= before

        db.session.execute(update(UserSession).values(last_seen_at=time.time() - idle - 1))
        db.session.commit()
        redis_store.flush_prefix()
    assert client.get("/api/floor").status_code == 401
    with app.app_context():
        db.session.expire_all()
        assert db.session.scalars(select(UserSession)).all() == []


def test_a_stale_touch_reaches_the_database_and_a_deleted_row_ends_the_cached_sign_in(app, client, lead):
    """Once the cached touch time is older than TOUCH_SECONDS the row's last_seen_at is written again; a row
    deleted behind the cache's back (not through logout) ends the sign-in at that touch."""
    from accounts.sessions import _hash, _key

    _login(client)
    with client.session_transaction() as s:
        key = _key(_hash(s["kefu_sid"]))
    with app.app_context():
        uid = db.session.scalar(select(UserSession.user_id))
        db.session.execute(update(UserSession).values(last_seen_at=1.0))
        db.session.commit()
        redis_store.client.set(key, f"{uid}:1", ex=3600)  # touched long ago
    assert client.get("/api/floor").status_code == 200
    with app.app_context():
        db.session.expire_all()
        assert db.session.scalar(select(UserSession.last_seen_at)) > time.time() - 60
        assert int(redis_store.client.get(key).split(":")[1]) > time.time() - 60

        db.session.execute(UserSession.__table__.delete())
        db.session.commit()
        redis_store.client.set(key, f"{uid}:1", ex=3600)
    assert client.get("/api/floor").status_code == 401
