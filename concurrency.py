"""How the web process runs its concurrent work: ``threading`` (the default) or ``gevent`` (opt-in).

``KEFU_ASYNC_MODE=threading`` (default): Flask-SocketIO in threading mode (werkzeug + simple-websocket), a
few OS threads per socket. Simple and what the tests use; about 500 chat conversations per process at a stress
pace (bench/README.md).

``KEFU_ASYNC_MODE=gevent``: ``python app.py`` monkey-patches the standard library first thing
(``patch_if_requested``), then serves with gevent's pywsgi + simple-websocket: every socket and every handler
is a greenlet on one OS thread, switching only where it waits on I/O. What stays on real OS threads:

- the media loop (``extensions.media_loop``: aiortc and the SMTP server) runs on a *native* thread with its
  own epoll selector (``native_thread``, ``media_event_loop``), so its C work (codecs, OpenCV) can use the
  second core and its event loop never waits on the gevent hub;
- blocking work that the media loop hands off (``loop.run_in_executor``) runs on native worker threads
  (``NativeThreadPoolExecutor``): a stdlib ThreadPoolExecutor submitted to from the media thread would start
  greenlets on a hub that never runs there, and hang.

With SQLite under gevent, writers take turns on a cooperative lock (``serialise_sqlite_writers``): SQLite's own
lock would make a second writer's greenlet sleep inside C (``busy_timeout``), freezing the one thread while the
first writer, which yielded mid-transaction, can never finish.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import sys
import weakref

ASYNC_MODES = ("threading", "gevent")
# The OS thread whose gevent hub serves the sockets, and that hub (set by patch_if_requested).
_hub_thread: int | None = None
_main_hub = None


def requested_mode() -> str:
    """The async mode named by ``KEFU_ASYNC_MODE`` (default ``threading``); ValueError for anything else."""
    mode = (os.environ.get("KEFU_ASYNC_MODE") or "threading").strip().lower()
    if mode not in ASYNC_MODES:
        raise ValueError(f"KEFU_ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}, not {mode!r}")
    return mode


def patch_if_requested() -> str:
    """Monkey-patch the standard library for gevent when ``KEFU_ASYNC_MODE=gevent``. Call it before anything
    else is imported (``python app.py`` does, at its top); returns the mode."""
    mode = requested_mode()
    if mode == "gevent":
        from gevent import monkey

        monkey.patch_all()
        import gevent

        global _hub_thread, _main_hub
        _hub_thread = monkey.get_original("_thread", "get_ident")()
        _main_hub = gevent.get_hub()
    return mode


def gevent_active() -> bool:
    """True when the standard library's sockets and threads are gevent's (patched before the app started)."""
    if "gevent.monkey" not in sys.modules:
        return False
    from gevent import monkey

    return monkey.is_module_patched("socket") and monkey.is_module_patched("threading")


def effective_mode(configured: str) -> str:
    """The Socket.IO async mode to use: gevent only when asked for *and* the process is patched (a ``flask``
    CLI command run with KEFU_ASYNC_MODE=gevent in its environment serves nothing, so threading is right)."""
    if configured == "gevent" and gevent_active():
        return "gevent"
    if configured not in ASYNC_MODES:
        raise ValueError(f"ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}, not {configured!r}")
    return "threading"


def off_hub_thread() -> bool:
    """True on a native thread (the media loop, its workers) of a gevent process: such a thread must not touch
    gevent objects of the hub thread (sockets, queues), see ``spawn_on_hub``."""
    if _hub_thread is None or not gevent_active():
        return False
    from gevent import monkey

    return monkey.get_original("_thread", "get_ident")() != _hub_thread


def native_lock():
    """A lock of the operating system's, even when ``threading`` is patched into gevent's: for state shared by the
    hub's greenlets and native threads (``compute_off_hub``), held for a short computation and never across I/O.
    gevent's own locks must not be shared between OS threads (its maintainers: only compute in a thread)."""
    if gevent_active():
        from gevent import monkey

        return monkey.get_original("_thread", "allocate_lock")()
    import threading

    return threading.Lock()


_compute_pool = None


def compute_off_hub(fn, *args):
    """``fn(*args)``, for CPU-bound work without I/O (reading a chat line with the language model: 5-40 ms each,
    a grading reads dozens). On the hub thread of a gevent process it runs on a native thread of its own while the
    calling greenlet waits, so the hub goes on serving every other socket: run on the hub, a grading's lines held
    it for the whole reading (1.6 s for 40 lines, tests/understanding/test_off_hub.py). Anywhere else (threading
    mode, a native thread, a CLI) it runs here. One thread: the work needs the interpreter, so a second would
    only queue; ``fn`` must not touch gevent objects (use ``native_lock`` for its locks)."""
    if _hub_thread is None or not gevent_active() or off_hub_thread():
        return fn(*args)
    global _compute_pool
    if _compute_pool is None:
        from gevent.threadpool import ThreadPool

        _compute_pool = ThreadPool(1)
    return _compute_pool.apply(fn, args)


def spawn_on_hub(fn, *args) -> None:
    """Run ``fn(*args)`` in a new greenlet on the hub thread; callable from any thread, returns at once."""
    import gevent

    _main_hub.loop.run_callback_threadsafe(gevent.spawn, fn, *args)


def server_options(mode: str) -> dict:
    """Options for ``socketio.run`` in ``mode``: a request handler that turns Nagle's algorithm off on every
    accepted connection, and under gevent also closes the TCP connection once a WebSocket on it has ended.

    Why no Nagle: a chat ``send`` writes two small WebSocket frames back to back (the event to the room, then the
    ack). With Nagle on, the second waits until the peer ACKs the first, and Linux delays that ACK by up to
    40 ms: 40-50 ms added to about one round trip in twenty (the p95 of bench/chat_load.py sat at ~50 ms even
    with the server idle). Browsers and aiohttp set TCP_NODELAY on their side; the servers here do not.

    Why close under gevent: simple-websocket speaks on a duplicate of the socket; without it, pywsgi reads the
    WebSocket's closing frame as the next HTTP request and logs "Invalid HTTP method" for every hang-up."""
    if mode == "gevent":
        from gevent.pywsgi import WSGIHandler

        class WebSocketAwareHandler(WSGIHandler):
            def handle(self):
                _no_delay(self.socket)
                return super().handle()

            def run_application(self):
                try:
                    super().run_application()
                finally:
                    if (self.environ or {}).get("HTTP_UPGRADE", "").lower() == "websocket":
                        self.close_connection = True

        return {"handler_class": WebSocketAwareHandler}
    from werkzeug.serving import WSGIRequestHandler

    class NoDelayRequestHandler(WSGIRequestHandler):
        disable_nagle_algorithm = True  # socketserver's StreamRequestHandler.setup() sets TCP_NODELAY

    return {"allow_unsafe_werkzeug": True, "request_handler": NoDelayRequestHandler}


def _no_delay(sock) -> None:
    import contextlib
    import socket

    # a unix socket, or one already closed: nothing to tune
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def native_thread(target, name: str) -> None:
    """Run ``target()`` on a real OS thread, even when ``threading`` is patched into greenlets."""
    if gevent_active():
        from gevent import monkey

        monkey.get_original("_thread", "start_new_thread")(target, ())
    else:
        import threading

        threading.Thread(target=target, name=name, daemon=True).start()


def media_event_loop(uvloop: bool = False):
    """A new asyncio loop for a native thread: on the real epoll selector under gevent (gevent's selector
    would park the thread on a hub of its own), with native worker threads as its default executor.

    ``uvloop=True`` (a ``flask media worker`` process, never patched by gevent): uvloop's loop when it is
    installed. Its C event loop, datagram transports and thread-safe wake-ups cut ~10 % of a media worker's
    CPU per call (bench/README.md voice_calls); without the package, the standard loop."""
    import asyncio

    if uvloop and not gevent_active():
        try:
            import uvloop as _uvloop
        except ImportError:
            import logging

            logging.getLogger(__name__).warning("uvloop is not installed; the media loop is asyncio's own")
        else:
            return _uvloop.new_event_loop()
    if not gevent_active():
        return asyncio.new_event_loop()
    from gevent import monkey

    loop = asyncio.SelectorEventLoop(monkey.get_original("selectors", "EpollSelector")())
    # as many workers as the stdlib default executor would have
    workers = min(32, (os.cpu_count() or 1) + 4)
    loop.set_default_executor(NativeThreadPoolExecutor(max_workers=workers, thread_name_prefix="media-executor"))
    return loop


def redis_connection_pool(url: str, **kwargs):
    """A redis-py connection pool for ``url``. Under gevent a connection belongs to the OS thread that opened it
    (its socket is bound to that thread's hub), so native threads get pools of their own."""
    import redis

    if not gevent_active():
        return redis.ConnectionPool.from_url(url, **kwargs)
    global _per_thread_pool_class
    if _per_thread_pool_class is None:
        _per_thread_pool_class = _make_per_thread_pool()
    return _per_thread_pool_class.from_url(url, **kwargs)


_per_thread_pool_class = None


def _make_per_thread_pool():
    import redis
    from gevent import monkey

    get_ident = monkey.get_original("_thread", "get_ident")

    class PerThreadConnectionPool(redis.ConnectionPool):
        """Connections for the hub thread from this pool; each other OS thread gets a pool of its own."""

        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            self._kwargs = kwargs
            self._owner = get_ident()
            self._others: dict[int, redis.ConnectionPool] = {}

        def _mine(self):
            tid = get_ident()
            if tid == self._owner:
                return None
            pool = self._others.get(tid)
            if pool is None:
                pool = self._others[tid] = redis.ConnectionPool(**self._kwargs)
            return pool

        def get_connection(self, *args, **kwargs):
            pool = self._mine()
            return super().get_connection(*args, **kwargs) if pool is None else pool.get_connection(*args, **kwargs)

        def release(self, connection) -> None:
            pool = self._mine()
            return super().release(connection) if pool is None else pool.release(connection)

        def disconnect(self, *args, **kwargs) -> None:
            for pool in list(self._others.values()):
                pool.disconnect(*args, **kwargs)
            return super().disconnect(*args, **kwargs)

    return PerThreadConnectionPool


def thread_pool_executor(max_workers: int, thread_name_prefix: str = "") -> concurrent.futures.Executor:
    """A thread pool for blocking work handed off by the media loop: the stdlib's, or native threads under
    gevent (see the module docstring)."""
    if gevent_active():
        return NativeThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
    return concurrent.futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=thread_name_prefix)


class NativeThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A fixed pool of real OS threads fed from the unpatched C ``SimpleQueue``, usable from any thread while
    gevent has patched ``threading`` and ``queue``. Workers start on first use. (A ThreadPoolExecutor subclass
    only because asyncio's ``set_default_executor`` insists on one; none of the parent's machinery is used.)"""

    _counter = itertools.count()

    def __init__(self, max_workers: int = 4, thread_name_prefix: str = "") -> None:  # noqa: B026
        from gevent import monkey

        self._queue = monkey.get_original("queue", "SimpleQueue")()
        self._start = monkey.get_original("_thread", "start_new_thread")
        self._lock = monkey.get_original("_thread", "allocate_lock")()
        self._max = max(1, int(max_workers))
        self._workers = 0
        self._idle = 0
        self._shutdown = False
        self.name = thread_name_prefix or f"native-pool-{next(self._counter)}"

    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
            if self._idle == 0 and self._workers < self._max:
                self._workers += 1
                self._start(self._work, ())
            self._queue.put((future, fn, args, kwargs))
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._queue.get()
            with self._lock:
                self._idle -= 1
            if item is None:
                return
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as e:  # handed back to whoever waits on the future
                future.set_exception(e)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            workers = self._workers
        for _ in range(workers):
            self._queue.put(None)


# engine -> its writer's-turn taker, for statements run on the DB-API cursor (no before_cursor_execute event)
_writer_turns: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def take_writer_turn(conn) -> None:
    """Before a write run straight on the DB-API cursor of SQLAlchemy Connection ``conn`` (contacts/hot_sql.py):
    take the SQLite writer's turn as the ``before_cursor_execute`` listener would for a statement SQLAlchemy runs
    (the Connection's commit or rollback ends it as usual). Nothing to do unless ``serialise_sqlite_writers``
    applies to the engine."""
    take = _writer_turns.get(conn.engine)
    if take is not None:
        take(conn.connection.info)


def serialise_sqlite_writers(engine) -> None:
    """Under gevent, let one connection at a time write to the SQLite file, waiting for its turn
    cooperatively; the turn ends with the transaction (commit, rollback, or the pool's reset on return)."""
    import threading  # patched: a gevent lock, so a waiting greenlet lets the others run

    from sqlalchemy import event

    turn = threading.Lock()
    key = "kefu_sqlite_writer"

    def release(dbapi_conn_info: dict) -> None:
        if dbapi_conn_info.pop(key, False):
            turn.release()

    def take(info: dict) -> None:
        if info.get(key):
            return
        if not turn.acquire(timeout=30):
            raise TimeoutError("waited 30 s for the SQLite writer's turn")
        info[key] = True

    _writer_turns[engine] = take

    @event.listens_for(engine, "before_cursor_execute")
    def _take_turn(conn, cursor, statement, parameters, context, executemany):
        head = statement.lstrip()[:8].upper()
        if head.startswith(("SELECT", "PRAGMA", "WITH")):  # readers never block in WAL mode
            return
        take(conn.connection.info)  # the pooled DB-API connection's info: lives as long as the transaction

    @event.listens_for(engine, "commit")
    def _committed(conn):
        # Fired just before the commit itself; no greenlet can run in between (the commit does no gevent I/O).
        release(conn.connection.info)

    @event.listens_for(engine, "rollback")
    def _rolled_back(conn):
        release(conn.connection.info)

    @event.listens_for(engine, "reset")
    def _reset(dbapi_conn, record, reset_state=None):
        release(record.info)

    @event.listens_for(engine, "close")
    def _closed(dbapi_conn, record):
        release(record.info)


def handle_quick_events_inline(server) -> None:
    """Run the events a namespace lists in its ``inline_events`` (its per-line chat events: quick, never waiting on
    another process) on the connection's own reader, in order; start every other event on a task of its own, as
    python-socketio does for all of them with ``async_handlers``.

    A task per event cost a quarter of the server's CPU per chat line under gevent (a greenlet spawned, scheduled
    and switched to for every line, typing change and figures poll): bench/README.md, chat_load. Events that may
    wait long (media ops wait on a media worker up to 30 s) keep their own task, so they never hold up the other
    namespaces sharing the page's connection, nor its pings. With ``async_handlers`` off (Flask-SocketIO's test
    client turns it off) every event runs inline, as before.

    This replaces ``Server._handle_event`` of the pinned python-socketio (5.18.1); tests/test_concurrency.py checks
    that the replacement is in place and which events run where."""

    def _handle_event(eio_sid, namespace, id, data):
        namespace = namespace or "/"
        sid = server.manager.sid_from_eio_sid(eio_sid, namespace)
        if not server.manager.is_connected(sid, namespace):
            server.logger.warning("%s is not connected to namespace %s", sid, namespace)
            return
        handler = server.namespace_handlers.get(namespace)
        if not server.async_handlers or (data and data[0] in getattr(handler, "inline_events", ())):
            server._handle_event_internal(server, sid, eio_sid, data, namespace, id)
        else:
            server.start_background_task(server._handle_event_internal, server, sid, eio_sid, data, namespace, id)

    server._handle_event = _handle_event
