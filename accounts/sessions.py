"""The session interface: Flask's signed cookie, opened once per Socket.IO connection rather than per event."""

from __future__ import annotations

import logging

from flask.sessions import SecureCookieSessionInterface

log = logging.getLogger(__name__)


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


# ----- server-side sessions: a copied cookie stops working at logout; a Redis flush signs nobody out ----------
#
# The record of a sign-in is a row of ``user_sessions`` (accounts/models.py UserSession), with Redis as a cache in
# front of it. A request costs one Redis GETEX on a hit (as before the table): the cached value is
# "<user id>:<when the row was last touched>", and the row's ``last_seen_at`` is written again only once that is
# TOUCH_SECONDS old, so the database sees one small UPDATE per sign-in every few minutes, not one per request (the
# Socket.IO path checks every 2 s per socket: accounts/roles.py). On a miss (Redis flushed or restarted empty) the
# row is read and put back in the cache: one database read, not a sign-in. With Redis away altogether the
# database answers alone. Logout deletes the row and leaves a short-lived "ended" marker in the cache, which a
# request that read the row just before the logout cannot overwrite (it fills the cache only where nothing is).

SESSION_ID = "kefu_sid"
ENDED = "ended"
ENDED_MARKER_SECONDS = 600  # longer than any request that read the row before a logout takes to fill the cache
TOUCH_SECONDS = 300.0  # at most this stale in the database (a tenth of a shorter idle limit)

# Replace the cached value only if it is still the one read (a logout's "ended" marker is never overwritten).
_SWAP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 end
return 0
"""


def _hash(sid: str) -> str:
    import hashlib

    return hashlib.sha256(sid.encode()).hexdigest()


def _key(id_hash: str) -> str:
    from extensions import redis_store

    return redis_store.key("session", id_hash)


def _idle_seconds() -> int:
    from flask import current_app

    return max(1, int(current_app.config["SESSION_IDLE_HOURS"] * 3600))


def _touch_every(idle: int) -> float:
    return min(TOUCH_SECONDS, idle / 10)


def do_start_session(user_id: int) -> None:
    """At sign-in: a fresh server-side session id in the cookie, its row in ``user_sessions`` (one transaction,
    which also deletes the rows of sign-ins idle for longer than SESSION_IDLE_HOURS) and its entry in the Redis
    cache (expiring after SESSION_IDLE_HOURS without a request)."""
    import secrets
    import time

    import redis
    from flask import session
    from sqlalchemy import delete

    from extensions import db, redis_store

    from .models import UserSession

    sid, now, idle = secrets.token_urlsafe(24), time.time(), _idle_seconds()
    id_hash = _hash(sid)
    db.session.execute(delete(UserSession).where(UserSession.last_seen_at < now - idle - _touch_every(idle)))
    db.session.add(UserSession(id_hash=id_hash, user_id=user_id, created_at=now, last_seen_at=now))
    db.session.commit()
    try:
        redis_store.client.set(_key(id_hash), f"{user_id}:{int(now)}", ex=idle)
    except redis.RedisError:  # the first request fills the cache from the row
        log.warning("could not cache a new session in Redis")
    session[SESSION_ID] = sid


def do_end_session() -> None:
    """At logout: the server forgets the session (its row deleted, then an "ended" marker in the cache), so the
    cookie and any copy of it is no longer a sign-in, also after Redis lost its keys."""
    import redis
    from flask import session
    from sqlalchemy import delete

    from extensions import db, redis_store

    from .models import UserSession

    sid = session.pop(SESSION_ID, None)
    if not sid:
        return
    id_hash = _hash(sid)
    db.session.execute(delete(UserSession).where(UserSession.id_hash == id_hash))
    db.session.commit()
    try:
        redis_store.client.set(_key(id_hash), ENDED, ex=ENDED_MARKER_SECONDS)
    except redis.RedisError:  # the row is gone: a cached entry left behind is refused at its next touch
        log.warning("could not mark a session ended in Redis")


def session_alive(user_id: int) -> bool:
    """Whether this request's session is one the server still holds for ``user_id``, sliding its idle expiry.
    One Redis read on a hit; the database when Redis lost the entry or is away."""
    import time

    import redis
    from flask import session

    from extensions import redis_store

    sid = session.get(SESSION_ID)
    if not sid:
        return False
    id_hash, idle = _hash(sid), _idle_seconds()
    try:
        value = redis_store.client.getex(_key(id_hash), ex=idle)
    except redis.RedisError:
        return _alive_in_db(id_hash, user_id, idle, cache=False)
    if value is None:  # flushed, restarted empty, or idle for too long: the row decides
        return _alive_in_db(id_hash, user_id, idle, cache=True)
    uid, _, touched = value.partition(":")
    if uid != str(user_id):  # another user's, or ENDED
        return False
    now = time.time()
    if touched.isdigit() and now - int(touched) < _touch_every(idle):
        return True
    return _touch(id_hash, user_id, value, now, adopt=not touched)


def _touch(id_hash: str, user_id: int, cached: str, now: float, *, adopt: bool) -> bool:
    """Write the row's ``last_seen_at`` (its own short transaction: this runs inside any request) and the new
    touch time into the cache. No row: the sign-in ended elsewhere (False), unless the cached value is one from
    before the table (``adopt``: it gets its row)."""
    import redis
    from sqlalchemy import update

    from extensions import db, redis_store

    from .models import UserSession

    with db.engine.begin() as conn:
        found = conn.execute(
            update(UserSession)
            .where(UserSession.id_hash == id_hash, UserSession.user_id == user_id)
            .values(last_seen_at=now)
        ).rowcount
        if not found and adopt:
            conn.execute(
                UserSession.__table__.insert().values(
                    id_hash=id_hash, user_id=user_id, created_at=now, last_seen_at=now
                )
            )
            found = 1
    try:
        client = redis_store.client
        if found:
            client.eval(_SWAP, 1, _key(id_hash), cached, f"{user_id}:{int(now)}")
        else:
            client.set(_key(id_hash), ENDED, ex=ENDED_MARKER_SECONDS)
    except redis.RedisError:
        pass
    return bool(found)


def _alive_in_db(id_hash: str, user_id: int, idle: int, *, cache: bool) -> bool:
    """The row's answer (deleting it if it has been idle too long), and with ``cache`` the cache filled again -
    only where it is empty, so a logout's ENDED marker written meanwhile wins."""
    import time

    import redis
    from sqlalchemy import delete, select, update

    from extensions import db, redis_store

    from .models import UserSession

    now = time.time()
    with db.engine.begin() as conn:
        row = conn.execute(
            select(UserSession.user_id, UserSession.last_seen_at).where(UserSession.id_hash == id_hash)
        ).first()
        if row is None:
            return False
        if now - row.last_seen_at > idle:
            conn.execute(delete(UserSession).where(UserSession.id_hash == id_hash))
            return False
        if row.user_id != user_id:
            return False
        conn.execute(update(UserSession).where(UserSession.id_hash == id_hash).values(last_seen_at=now))
    if not cache:
        return True
    try:
        client = redis_store.client
        if client.set(_key(id_hash), f"{user_id}:{int(now)}", ex=idle, nx=True):
            return True
        return (client.get(_key(id_hash)) or "").partition(":")[0] == str(user_id)
    except redis.RedisError:
        return True
