"""What a served process stops at its exit (app.start_background_services registers it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SERVED = r"""
import atexit, sys, threading, uuid
from app import create_app, start_background_services
from config import TestingConfig
from extensions import db, redis_store

app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite:///" + sys.argv[1], SIMULATOR_ENABLED=False,
                 REDIS_EMBEDDED_PATH="/tmp/kefu-test-redis.db", REDIS_PREFIX=f"kefu-test-{uuid.uuid4().hex[:8]}:",
                 ENABLED_CHANNELS=["chat"])
with app.app_context():
    db.create_all()

def flush():
    with app.app_context():
        redis_store.flush_prefix()

atexit.register(flush)

def left():  # registered before the app's own exit handlers, so it runs after them
    names = ("events-grading", "kefu-grading-sweep")
    print("LEFT", sorted(t.name for t in threading.enumerate() if t.name in names and t.is_alive()), flush=True)

atexit.register(left)
start_background_services(app)
grader = app.extensions["kefu_grading"]
grader.ensure_consumer()  # as on the first beat
assert grader.sweeper.wait(grader.sweeper.when_due(), 20) is not None
print("RUNNING", sorted(t.name for t in threading.enumerate() if "grading" in t.name), flush=True)
sys.exit(0)
"""


def test_a_served_process_stops_auto_grading_at_exit(tmp_path):
    """A served process (start_background_services) that exits stops auto-grading's consumer and sweep threads
    through its exit handlers, so a grading in progress finishes rather than being cut off. (Before: nothing
    stopped them; both were still running when the interpreter went down.)"""
    proc = subprocess.run(
        [sys.executable, "-c", SERVED, str(tmp_path / "served.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RUNNING ['events-grading', 'kefu-grading-sweep']" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert "LEFT []" in proc.stdout, proc.stdout


# Run in the process under test: once the threads named on its command line all run, it prints RUNNING; at its exit,
# after the app's own exit handlers (registered before them, so it runs after them), it prints those still alive.
_WATCH = r"""
NAMES = tuple(sys.argv[1:])  # the threads to see running, then gone after the exit handlers

def alive():
    return sorted(t.name for t in threading.enumerate() if t.name in NAMES and t.is_alive())

def left():  # registered before the app's own exit handlers, so it runs after them
    print("LEFT", alive(), flush=True)

atexit.register(left)

def watch():
    while alive() != sorted(NAMES):
        time.sleep(0.1)
    print("RUNNING", alive(), flush=True)

threading.Thread(target=watch, name="watch", daemon=True).start()
"""

SERVED_MAIN = (
    r"""
import atexit, sys, threading, time
from concurrency import patch_if_requested

patch_if_requested()  # as `python app.py` does first thing (KEFU_ASYNC_MODE=gevent)
"""
    + _WATCH
    + r"""
import app

app.main()
"""
)

# `flask simulator worker`, as a process manager runs it.
WORKER_MAIN = (
    r"""
import atexit, sys, threading, time
"""
    + _WATCH
    + r"""
from flask.cli import main

sys.argv = ["flask", "--app", "app", "simulator", "worker"]
main()
"""
)


GRADING = ("events-grading", "kefu-grading-sweep", "kefu-liveness")
# What runs the simulated customers in a web process that drives them itself (no simulator worker): the engine's
# worker and its consumers of the shared log (its own, its email customers', the group rooms' audience), and the
# ticker that ticks them.
SIMULATOR = (
    "kefu-simulator",
    "events-simulator",
    "events-email_customers",
    "events-group_audience",
    "kefu-ticker",
    "kefu-liveness",
)


def _serve_and_terminate(tmp_path, mode: str, names: tuple[str, ...], *, simulator: bool, script: str = SERVED_MAIN):
    """Run `python app.py`'s main (or ``script``) in a subprocess until the threads ``names`` all run, send it SIGTERM
    and wait for its exit. Returns (exit status, its output, the process's heartbeats left in Redis)."""
    import os
    import signal
    import socket
    import time
    import uuid

    from app import create_app
    from config import TestingConfig
    from embedded_redis import embedded_redis
    from extensions import db

    instance = tmp_path / "instance"
    instance.mkdir()
    prefix = f"kefu-test-term-{uuid.uuid4().hex[:8]}:"
    redis_path = str(instance / "redis.db")
    # The schema, and the embedded Redis server the served process shares: started here, it outlives that process,
    # so what it left in Redis can be read after its exit.
    made = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance / 'kefu.db'}",
        REDIS_EMBEDDED_PATH=redis_path,
        REDIS_PREFIX=prefix,
    )
    with made.app_context():
        db.create_all()
        db.engine.dispose()
    redis = embedded_redis(redis_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    drop = ("DATABASE_URL", "REDIS_URL", "KEFU_CONFIG", "SOCKETIO_MESSAGE_QUEUE", "KEFU_SOCKETIO_CHANNEL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        KEFU_ASYNC_MODE=mode,
        KEFU_INSTANCE=str(instance),
        REDIS_PREFIX=prefix,
        KEFU_PORT=str(port),
        KEFU_SMTP_PORT="0",
        KEFU_SIMULATOR="1" if simulator else "0",
        KEFU_ASR="off",
        KEFU_LOCALE="en",
        KEFU_HEARTBEAT_SECONDS="0.5",
        KEFU_PROCESS_TTL="30",  # a heartbeat gone at once is one deleted, not one expired
        PYTHONUNBUFFERED="1",
    )
    log = open(tmp_path / "served.log", "w+")  # noqa: SIM115  (read after the process ended)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *names],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def output() -> str:
        return (tmp_path / "served.log").read_text()

    try:
        deadline = time.monotonic() + 120
        while "RUNNING" not in output():
            assert proc.poll() is None, output()[-3000:]
            assert time.monotonic() < deadline, output()[-3000:]
            time.sleep(0.2)
        beats = redis.keys(prefix + "proc:*")
        assert len(beats) == 1, beats
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    return code, output(), redis.keys(prefix + "proc:*")


@pytest.mark.parametrize("mode", ["threading", "gevent"])
def test_a_served_process_sent_sigterm_runs_its_exit_handlers_and_says_goodbye(tmp_path, mode):
    """`python app.py` (its main) serving, its liveness beating and auto-grading's threads running, is sent SIGTERM -
    what process managers send to stop a service: it exits with status 0 through its exit handlers, in both async
    modes: auto-grading's consumer and sweep are stopped, the liveness thread too, and its heartbeat is deleted, so
    another process adopts what it held on its next beat rather than once the heartbeat has expired (as a simulator
    worker does). (Before: SIGTERM's default action killed it - status -15, no exit handler run, the heartbeat left
    to expire.)"""
    code, out, beats = _serve_and_terminate(tmp_path, mode, GRADING, simulator=False)
    assert code == 0, out[-3000:]
    assert f"RUNNING {sorted(GRADING)}" in out, out[-3000:]
    assert "LEFT []" in out, out[-3000:]
    assert beats == []


@pytest.mark.parametrize("mode", ["threading", "gevent"])
def test_a_served_process_driving_simulated_customers_stops_its_simulator_at_exit(tmp_path, mode):
    """A web process that drives simulated customers itself (the simulator on, no simulator worker) stops its
    simulator at its exit, before its heartbeat is deleted: the engine's worker, its consumers of the shared log
    and the ticker that ticks it are gone after the exit handlers, in both async modes, so nothing of this process
    drives a customer, or claims a log entry about one, once another process may have adopted it. (Before: all
    five were still running when the heartbeat had gone, until the interpreter went down.)"""
    code, out, beats = _serve_and_terminate(tmp_path, mode, SIMULATOR, simulator=True)
    assert code == 0, out[-3000:]
    assert f"RUNNING {sorted(SIMULATOR)}" in out, out[-3000:]
    assert "LEFT []" in out, out[-3000:]
    assert beats == []


# What a simulator worker runs: the engine's worker and its consumers of the shared log (its own, its email
# customers', the group rooms' audience, started by the first tick of its rooms), and its liveness.
WORKER = ("kefu-simulator", "events-simulator", "events-email_customers", "events-group_audience", "kefu-liveness")


def test_a_simulator_worker_sent_sigterm_stops_its_group_audience_too(tmp_path):
    """`flask simulator worker` sent SIGTERM, once its engine, its consumers of the shared log and its liveness run:
    it exits with status 0 with none of them left - the group rooms' audience's consumer stopped too
    (``simulator.stop``), so it claims no log entry about a room once another process may have adopted its rooms -
    and its heartbeat deleted. (Before: the worker stopped the engine only; LEFT ['events-group_audience'].)"""
    code, out, beats = _serve_and_terminate(tmp_path, "threading", WORKER, simulator=True, script=WORKER_MAIN)
    assert code == 0, out[-3000:]
    assert f"RUNNING {sorted(WORKER)}" in out, out[-3000:]
    assert "LEFT []" in out, out[-3000:]
    assert beats == []
