"""A small centre of real processes for the multi-process tests: web processes (``python app.py``), media
workers (``flask media worker``) and simulator workers (``flask simulator worker``) on one PostgreSQL database
and one Redis server, each with its own log file (read it when a process dies), and HTTP / Socket.IO clients that
log in like a browser does."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import socketio

from tests.markers import on_postgresql

ROOT = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT = 90.0  # an app import takes ~5 s on a quiet machine; many more on a loaded one
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|name="csrf-token" content="([^"]+)"')
# Short beats so a killed process is seen dead in ~2 s (the defaults: 1 s and 5 s).
HEARTBEAT, TTL = "0.5", "2"


def servers() -> tuple[str, str]:
    """DATABASE_URL and REDIS_URL of the servers the processes share; the test is skipped without them."""
    db_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not on_postgresql() or not redis_url:
        pytest.skip(
            "several processes must share a database server and a Redis server: set DATABASE_URL=postgresql://... "
            "and REDIS_URL (CI runs the suite with both)"
        )
    return db_url, redis_url


def create_database(db_url: str, prefix: str = "kefu_mp") -> tuple[str, Callable[[], None]]:
    """A database of its own on the PostgreSQL server (the suite's test database is reset by other tests), named
    ``<prefix>_<hex>``, and the function that drops it."""
    import psycopg

    # KEFU_MP_DB_PREFIX: put before the name (engineers sharing a server keep to their own database names).
    name = f"{os.environ.get('KEFU_MP_DB_PREFIX', '')}{prefix}_{uuid.uuid4().hex[:10]}"
    base = db_url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as e:
        pytest.skip(f"cannot create a database on {base}: {e}")
    url = base.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def centre_app(url: str, redis_url: str, prefix: str, **overrides):
    """The test's own app on the cluster's database (``url``, from create_database) and Redis: no simulator of
    its own, the schema created and the en pack loaded. ``overrides`` are further config values."""
    from app import create_app
    from config import TestingConfig
    from extensions import db
    from scenarios.loader import load_pack_into_db

    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://" + url.split("://", 1)[1],
        REDIS_URL=redis_url,
        REDIS_PREFIX=prefix,
        SIMULATOR_ENABLED=False,
        **overrides,
    )
    with app.app_context():
        db.create_all()
        load_pack_into_db(Path(__file__).resolve().parents[2] / "scenarios" / "packs" / "en")
    return app


def with_browsers(cluster: Cluster) -> list[Browser]:
    """Give ``cluster`` a ``browser(name, user)`` that logs ``user`` in on web process ``name``; the list it fills
    is for closing them at the end."""
    browsers: list[Browser] = []
    cluster.browser = lambda name, user: browsers.append(Browser(cluster.url(name)).login(user)) or browsers[-1]
    return browsers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """Processes sharing ``db_url``, ``redis_url`` and ``prefix``; stopped (and their logs kept) by ``stop``."""

    def __init__(self, tmp: Path, db_url: str, redis_url: str, prefix: str, secret: str, recordings: Path) -> None:
        self.tmp, self.db_url, self.redis_url, self.prefix = tmp, db_url, redis_url, prefix
        self.secret, self.recordings = secret, recordings
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}

    def env(self, name: str) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("KEFU_CONFIG", "KEFU_CLOCK_SPEED", "KEFU_ASYNC_MODE")}
        env.update(
            DATABASE_URL=self.db_url,
            REDIS_URL=self.redis_url,
            REDIS_PREFIX=self.prefix,
            SOCKETIO_MESSAGE_QUEUE=self.redis_url,
            SECRET_KEY=self.secret,
            KEFU_INSTANCE=str(self.tmp / name),
            KEFU_MEDIA_TRANSPORT="redis",
            KEFU_RECORDINGS_DIR=str(self.recordings),
            KEFU_SMTP_PORT="0",
            KEFU_LOCALE="en",
            KEFU_HEARTBEAT_SECONDS=HEARTBEAT,
            KEFU_PROCESS_TTL=TTL,
            KEFU_ASR="off",
            PYTHONPATH=str(ROOT),
            PYTHONFAULTHANDLER="1",
        )
        return env

    def _spawn(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "a")  # noqa: SIM115 - the child writes to it for its whole life
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def start_web(self, name: str, **extra_env: str) -> str:
        """Start ``python app.py`` on a free port (not waiting; ``extra_env``: more environment); returns its
        base URL."""
        port = self.ports[name] = free_port()
        env = {**self.env(name), "KEFU_PORT": str(port), "KEFU_SIMULATOR": "1", **extra_env}
        self._spawn(name, [sys.executable, "app.py"], env)
        return self.url(name)

    def start_media_worker(self, name: str) -> None:
        env = {**self.env(name), "KEFU_SIMULATOR": "0", "KEFU_CONFIG": "testing"}
        self._spawn(name, [sys.executable, "-m", "flask", "--app", "app", "media", "worker", "--id", name], env)

    def start_sim_worker(self, name: str) -> None:
        env = {**self.env(name), "KEFU_SIMULATOR": "1"}
        self._spawn(name, [sys.executable, "-m", "flask", "--app", "app", "simulator", "worker"], env)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def wait_web(self, name: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url(name) + "/login", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"web process {name} did not start:\n{self.log(name)}")

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill(self, name: str) -> None:
        """kill -9: no clean-up of any kind runs in the process."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def haproxy_config(path: Path, port: int, webs: dict[str, int]) -> Path:
    """Write the proxy's configuration as cluster/run.sh does (its template, its server lines: health-checked, one
    cookie each) for web processes ``webs`` (name -> port), listening on ``port``."""
    servers = "".join(f"    server {name} 127.0.0.1:{p} check cookie {name}\n" for name, p in webs.items())
    text = (ROOT / "cluster" / "haproxy.cfg.in").read_text()
    path.write_text(text.replace("@BIND@", f"127.0.0.1:{port}").replace("@SERVERS@\n", servers))
    return path


class Browser:
    """One person's HTTP session on one web process (cookies, CSRF token) and their Socket.IO sockets."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""
        self.sockets: list[socketio.Client] = []

    def _token(self, html: str) -> str:
        m = _CSRF.search(html)
        assert m, "no CSRF token on the page"
        return m.group(1) or m.group(2)

    def login(self, username: str, password: str = "pass1234") -> Browser:
        with self.opener.open(self.base + "/login", timeout=20) as r:
            token = self._token(r.read().decode())
        body = urllib.parse.urlencode({"csrf_token": token, "username": username, "password": password}).encode()
        with self.opener.open(self.base + "/login", data=body, timeout=20) as r:
            page = r.read().decode()
        self.csrf = self._token(page)
        assert any(c.name == "session" for c in self.jar), f"{username} could not log in"
        return self

    def post_json(self, path: str, body: dict) -> tuple[int, dict]:
        req = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": self.csrf},
            method="POST",
        )
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def socket(self, namespace: str = "/desk") -> socketio.Client:
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        sio = socketio.Client(reconnection=False)
        sio.connect(self.base, namespaces=[namespace], transports=["websocket"], headers={"Cookie": cookie})
        self.sockets.append(sio)
        return sio

    def close(self) -> None:
        for sio in self.sockets:
            if sio.connected:
                sio.disconnect()


def wait_for(pred, timeout: float = 15.0, step: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"{what} not met within {timeout:.0f} s")


def tear_down(app, cluster: Cluster, drop: Callable[[], None]) -> None:
    """Stop a test centre's processes, delete its Redis keys and drop its database (every fixture's ``finally``)."""
    from extensions import db, redis_store

    cluster.stop()
    with app.app_context():
        redis_store.flush_prefix()
        db.session.remove()
        db.engine.dispose()
    drop()


def assigned(app, cid: int) -> bool:
    """Whether contact ``cid`` is active and assigned to an agent (read from the centre's database)."""
    from contacts.models import Contact
    from extensions import db

    with app.app_context():
        c = db.session.get(Contact, cid)
        out = c.status == "active" and c.agent_id is not None
        db.session.remove()
        return out


def email_driver(app, cid: int, workers: dict[str, str]) -> str:
    """Wait until simulated email customer ``cid`` is owned by one of ``workers`` (name -> owner id) and its contact
    is assigned to an agent; return the driving worker's name."""
    from extensions import redis_store

    owner = wait_for(
        lambda: (o := redis_store.client.hget(redis_store.key("sim", "contact", cid), "owner")) in workers.values()
        and o,
        timeout=10,
        what="the customer handed to a worker",
    )
    wait_for(lambda: assigned(app, cid), timeout=20, what="the email assigned to flo")
    return next(n for n, w in workers.items() if w == owner)
