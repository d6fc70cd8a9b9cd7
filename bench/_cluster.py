"""The server under test for bench/chat_cluster.py: N ``python app.py`` web processes (gevent) on one PostgreSQL
database and one Redis server, behind HAProxy with sticky sessions when N > 1 (as cluster/run.sh starts them),
with the same handle as bench/_server.py's ServerProcess (setup, start, stats, alive, log_problems, stop), so
bench/chat_load.py's ``run`` drives it unchanged.

- PostgreSQL: the machine's server (``--pg``, default postgresql://postgres@127.0.0.1:5432), a database of the
  run's own (``overload_<random>``), dropped at the end.
- Redis: a private ``redis-server`` on a free loopback port, no persistence (as the single-server bench runs its
  own embedded Redis): the CPU it uses is then this run's alone. ``--redis-url`` uses a given server instead.
- Socket.IO's message queue is that Redis when N > 1 (an emit from one process reaches sockets on another); one
  process serves without it, as a one-host centre would.

CPU figures: ``stats()`` gives chat_load's Meter the web processes' CPU summed ("server") and Redis's; every reading
also keeps the PostgreSQL backends serving this database, HAProxy and each web process (``samples``), which
chat_cluster.py pairs by window (the Meter reads once at a window's start and once at its end).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from _server import ROOT, _proc_stat, door_env, free_port, wait_serving

_ENV_DROP = ("KEFU_CONFIG", "REDIS_PREFIX", "KEFU_CLOCK_SPEED", "SOCKETIO_MESSAGE_QUEUE")


def _cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        return _proc_stat(pid)[0]
    except OSError:
        return 0.0


class ClusterServer:
    def __init__(
        self,
        tmp: Path,
        *,
        web: int,
        port: int,
        chat_capacity: int,
        agents: int,
        password: str,
        pg: str = "postgresql://postgres@127.0.0.1:5432",
        redis_url: str | None = None,
        proxy: bool | None = None,
    ) -> None:
        self.tmp = Path(tmp)
        self.web = web
        self.proxy = web > 1 if proxy is None else proxy
        self.port = port  # the proxy's (or the one web process's) port
        self.ports = [free_port() for _ in range(web)] if self.proxy else [port]
        self.url = f"http://127.0.0.1:{port}"
        self.pg = pg.rstrip("/")
        self.db_name = f"overload_{uuid.uuid4().hex[:8]}"
        self.redis_url = redis_url
        self.agents, self.password = agents, password
        self.procs: list[subprocess.Popen] = []
        self.redis: subprocess.Popen | None = None
        self.haproxy: subprocess.Popen | None = None
        self.samples: list[dict] = []
        self.log_path = self.tmp / "web-1.log"  # chat_load keeps the first process's log when it has errors
        self.env = {k: v for k, v in os.environ.items() if k not in _ENV_DROP}
        self.env.update(
            KEFU_INSTANCE=str(self.tmp),
            KEFU_HOST="127.0.0.1",
            KEFU_CHAT_CAPACITY=str(chat_capacity),
            KEFU_ACW_SECONDS="0",  # as chat_load: ACW takes every seat of an agent, which would stall the churn
            KEFU_SIMULATOR="0",
            KEFU_ASYNC_MODE="gevent",
            KEFU_SMTP_PORT="0",
            KEFU_ASR="off",
            SECRET_KEY=os.urandom(16).hex(),  # one key for every process: a session signed by one opens on another
            PYTHONUNBUFFERED="1",
            DATABASE_URL=f"{self.pg}/{self.db_name}",
        )
        self.env.update(door_env(self.env))

    # -- set-up --------------------------------------------------------------------------------------------------

    def _psql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self.pg}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def setup(self, timeout: float = 600) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._psql(f'CREATE DATABASE "{self.db_name}"')
        if self.redis_url is None:
            rport = free_port()
            self.redis = subprocess.Popen(
                [shutil.which("redis-server") or "redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(self.tmp)],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            self.redis_url = f"redis://127.0.0.1:{rport}/0"
            time.sleep(0.3)
        self.env.update(REDIS_URL=self.redis_url, REDIS_PREFIX="kefu:")
        if self.web > 1:
            self.env["SOCKETIO_MESSAGE_QUEUE"] = self.redis_url
        cmd = [sys.executable, str(ROOT / "bench" / "_server.py"), "setup", "--agents", str(self.agents)]
        res = subprocess.run(
            [*cmd, "--password", self.password], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if res.returncode != 0:
            raise RuntimeError(f"set-up failed:\n{res.stdout}\n{res.stderr}")

    def start(self, timeout: float = 120) -> None:
        for i, port in enumerate(self.ports, 1):
            with open(self.tmp / f"web-{i}.log", "wb") as log:
                env = {**self.env, "KEFU_PORT": str(port), "KEFU_INSTANCE": str(self.tmp / f"web-{i}")}
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )  # fmt: skip
        for i, port in enumerate(self.ports):
            self._wait(f"http://127.0.0.1:{port}", self.procs[i], timeout)
        if self.proxy:
            cfg = self.tmp / "haproxy.cfg"
            servers = "".join(
                f"    server web{i} 127.0.0.1:{p} check cookie web{i}\n" for i, p in enumerate(self.ports, 1)
            )
            text = (ROOT / "cluster" / "haproxy.cfg.in").read_text()
            cfg.write_text(text.replace("@BIND@", f"127.0.0.1:{self.port}").replace("@SERVERS@\n", servers))
            with open(self.tmp / "haproxy.log", "wb") as log:
                self.haproxy = subprocess.Popen(
                    ["haproxy", "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            self._wait(self.url, self.haproxy, timeout)

    def _wait(self, url: str, proc: subprocess.Popen, timeout: float) -> None:
        wait_serving(url, proc, timeout, self.log_tail)

    # -- readings ------------------------------------------------------------------------------------------------

    def _pg_backends(self) -> dict[int, float]:
        """CPU seconds of each PostgreSQL backend connected to this run's database (the web processes' pools)."""
        import psycopg

        try:
            with psycopg.connect(f"{self.pg}/postgres", autocommit=True) as conn:
                rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.db_name,))
                pids = [r[0] for r in rows]
        except psycopg.Error:
            return {}
        return {pid: _cpu(pid) for pid in pids}

    def stats(self) -> dict:
        webs = []
        for p in self.procs:
            try:
                webs.append(_proc_stat(p.pid))
            except OSError:
                webs.append((0.0, 0, 0))
        fds = 0
        for p in self.procs:
            with contextlib.suppress(OSError):
                fds += len(os.listdir(f"/proc/{p.pid}/fd"))
        out = {
            "cpu": sum(w[0] for w in webs),
            "rss": sum(w[1] for w in webs),
            "threads": sum(w[2] for w in webs),
            "redis_cpu": _cpu(self.redis.pid) if self.redis else 0.0,
            "redis_rss": 0,
            "fds": fds,
        }
        self.samples.append(
            {
                "t": time.monotonic(),
                "web": [w[0] for w in webs],
                "redis": out["redis_cpu"],
                "haproxy": _cpu(self.haproxy.pid) if self.haproxy else 0.0,
                "pg": self._pg_backends(),
            }
        )
        return out

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs) and (self.haproxy is None or self.haproxy.poll() is None)

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for path in sorted(self.tmp.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"== {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    def log_problems(self) -> list[str]:
        keys = ("Traceback", "ERROR", "CRITICAL", "Exception")
        out = []
        for path in sorted(self.tmp.glob("web-*.log")):
            text = path.read_text(errors="replace")
            out += [f"{path.name}: {ln}" for ln in text.splitlines() if any(k in ln for k in keys)]
        return out

    def stop(self) -> None:
        """The proxy, then each web process (SIGINT, SIGTERM, SIGKILL), then the private Redis and the database."""
        for proc in [*([self.haproxy] if self.haproxy else []), *self.procs]:
            for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                if proc.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            try:
                self.redis.wait(10)
            except subprocess.TimeoutExpired:
                self.redis.kill()
        with contextlib.suppress(Exception):
            self._psql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')


def window_costs(samples: list[dict], windows: int) -> list[dict]:
    """CPU in each measured window (pairs of readings: a window's start and its end), in cores: each web
    process, Redis, HAProxy, and the PostgreSQL backends of the run's database (a backend that came or went in
    the window counts from or to zero)."""
    out = []
    for k in range(windows):
        if 2 * k + 1 >= len(samples):
            break
        a, b = samples[2 * k], samples[2 * k + 1]
        dt = max(1e-6, b["t"] - a["t"])
        pg = sum(cpu - a["pg"].get(pid, 0.0) for pid, cpu in b["pg"].items())
        out.append(
            {
                "web": [(y - x) / dt for x, y in zip(a["web"], b["web"], strict=True)],
                "redis": (b["redis"] - a["redis"]) / dt,
                "haproxy": (b["haproxy"] - a["haproxy"]) / dt,
                "postgres": max(0.0, pg) / dt,
            }
        )
    return out
