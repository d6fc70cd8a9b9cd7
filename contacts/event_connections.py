"""A chat line's event connection is kept for the next socket event instead of going back to the pool.

Why: a fresh handler's chat line or typing change reads the contact head and writes its event on a connection of its
own (``contacts.events.event_connection``). Checking that connection out of SQLAlchemy's pool and back in for every
event (the Connection, the pool's fairy and record, the reset-on-return rollback, the events around them) cost about
a tenth of a line's CPU in process, and on PostgreSQL the checkout also pings the server (``pool_pre_ping``): a round
trip per line (bench/README.md chat_load, "CPU per chat line"). So the app context's teardown puts the connection,
its transaction ended, on a small shelf per engine, and the next event takes it from there.

What stays the same:
- A shelved connection holds no transaction: the teardown rolls back whatever a refused line left open (as the pool's
  reset on return did, with the same ``rollback`` events: the gevent SQLite writer's turn is released by them), then
  rolls the DB-API connection back as the pool's reset does. It holds no lock, so nothing waits on it.
- At most ``keep`` connections wait on the shelf (the rest go back to the pool), and one unused for ``max_idle``
  seconds goes back to the pool when the shelf is next touched: an idle process keeps no more connections than
  before, and every checkout from the pool is pinged as before.
- The database dropping a shelved connection (a restart) costs no line: the first statement a reused connection
  runs is retried once on a connection from the pool (``contacts.events.read_row``, ``append_event``), as the
  pre-ping would have replaced it; a statement that fails otherwise fails as before.
- ``engine.dispose()`` empties the shelf (tests drop their databases after it).
"""

from __future__ import annotations

import contextlib
import time
import weakref

from sqlalchemy import event

KEEP = 4  # at most this many connections wait on a shelf (fewer when the pool is small: half its size)
MAX_IDLE = 2.0  # seconds a connection may wait on the shelf before it goes back to the pool


class Shelf:
    """Open Connections with no transaction, of one engine; the most recently used last. ``take`` and ``put`` are
    safe from any thread (a list's pop and append are atomic; each connection is only ever in one place)."""

    def __init__(self, keep: int, max_idle: float = MAX_IDLE) -> None:
        self.keep = keep
        self.max_idle = max_idle
        self._idle: list[tuple[object, float]] = []

    def take(self):
        """A shelved connection, or None (the caller checks one out of the pool)."""
        while True:
            try:
                conn, since = self._idle.pop()
            except IndexError:
                return None
            if time.monotonic() - since <= self.max_idle and not conn.closed and not conn.invalidated:
                return conn
            _close(conn)  # waited too long: the older ones below it too, the next turns of the loop close them

    def put(self, conn) -> None:
        """Shelve ``conn`` (its transaction ended here first), or return it to the pool when the shelf is full."""
        if conn.closed:
            return
        if conn.invalidated or not _reset(conn):
            _close(conn)
            return
        self._idle.append((conn, time.monotonic()))
        while len(self._idle) > self.keep or (self._idle and time.monotonic() - self._idle[0][1] > self.max_idle):
            try:
                old, _ = self._idle.pop(0)
            except IndexError:
                break
            _close(old)

    def clear(self, *_args) -> None:
        """Return every shelved connection to the pool (the engine is being disposed)."""
        while True:
            try:
                conn, _ = self._idle.pop()
            except IndexError:
                return
            _close(conn)

    def __len__(self) -> int:
        return len(self._idle)


def _reset(conn) -> bool:
    """End whatever transaction ``conn`` holds, as the pool's reset on return would; False if that failed."""
    try:
        if conn.in_transaction():
            conn.rollback()  # a line refused after its head read (the rollback events fire as before)
        conn.connection.dbapi_connection.rollback()  # the pool's reset: a no-op with no transaction open
        return True
    except Exception:
        return False


def _close(conn) -> None:
    with contextlib.suppress(Exception):
        conn.close()


_shelves: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def shelf_for(engine) -> Shelf:
    """The shelf of ``engine`` (made on first use; emptied when the engine is disposed)."""
    shelf = _shelves.get(engine)
    if shelf is None:
        size = getattr(engine.pool, "size", None)
        keep = KEEP if size is None else max(1, min(KEEP, size() // 2))
        new = Shelf(keep)
        shelf = _shelves.setdefault(engine, new)
        if shelf is new:
            event.listen(engine, "engine_disposed", shelf.clear)
    return shelf


def dropped(conn, error) -> bool:
    """Whether ``error`` (a DBAPIError raised by a statement on ``conn``) says the database dropped the connection."""
    if getattr(error, "connection_invalidated", False):
        return True
    orig = getattr(error, "orig", None)
    try:
        dbapi_conn = conn.connection.dbapi_connection
    except Exception:
        return True  # the connection is gone already
    return orig is not None and conn.dialect.is_disconnect(orig, dbapi_conn, None)
