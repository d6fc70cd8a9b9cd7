"""Media out of the web process: `flask media worker` serves calls over Redis; a worker killed mid-call is
restarted and closes the call cleanly, keeping its recording."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contacts.models import Contact
from extensions import db, redis_store, socketio
from media.recorder import wav_seconds
from media.rtc_client import ToneTrack

from .conftest import agent_sockets, connect, contact_status, events_of, wait_for

ROOT = Path(__file__).resolve().parents[3]


def start_worker(app, tmp_path, worker_id):
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": redis_store.url,
        "REDIS_PREFIX": app.config["REDIS_PREFIX"],
        "KEFU_INSTANCE": str(tmp_path / "worker-instance"),
        "KEFU_RECORDINGS_DIR": app.config["RECORDINGS_DIR"],
        "KEFU_MEDIA_TRANSPORT": "redis",
        "KEFU_SIMULATOR": "0",
        "KEFU_SMTP_PORT": "0",
        "KEFU_CONFIG": "testing",
        "PYTHONPATH": str(ROOT),
        "PYTHONFAULTHANDLER": "1",
    }
    log = open(tmp_path / f"{worker_id}.log", "a")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "media", "worker", "--id", worker_id],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    workers = redis_store.key("media", "workers")
    wait_for(
        lambda: worker_id in redis_store.client.smembers(workers) or proc.poll() is not None,
        timeout=120,  # an app import takes seconds; on a loaded shared machine, many
    )
    assert proc.poll() is None, (tmp_path / f"{worker_id}.log").read_text()[-3000:]
    return proc


@pytest.mark.app_config(MEDIA_TRANSPORT="redis")
def test_worker_process_serves_a_call_and_recovers_after_being_killed(app, tmp_path, make_user, browsers):
    """A role-play call answered through a separate worker process; the worker is killed (SIGKILL) mid-call;
    started again with the same id it ends the call with reason server_restart and the repaired recording
    holds the seconds recorded before the kill."""
    app.config["RECORDINGS_DIR"] = str(tmp_path / "recordings")
    assert "kefu_media_worker" not in app.extensions  # nothing runs media in this (web) process
    worker = start_worker(app, tmp_path, "w-test")
    try:
        make_user("agent1")
        desk, voice, http = agent_sockets(app, "agent1")
        caller = socketio.test_client(app, namespace="/voice", flask_test_client=app.test_client())
        dial = caller.emit("dial", {"name": "Ms Wang", "lang": "en"}, namespace="/voice", callback=True)
        cid, token = dial["contact_id"], dial["token"]
        wait_for(lambda: contact_status(app, cid) == "active")
        caller_pc = connect(browsers, caller, "caller_offer", {"contact_id": cid, "token": token}, ToneTrack(220))
        agent_pc = connect(browsers, voice, "answer", {"contact_id": cid}, ToneTrack(150, voice=True))
        rec = wait_for(lambda: events_of(app, cid, "call.recording"), timeout=20)[0]["data"]
        wait_for(lambda: len(caller_pc.levels) > 100)  # the caller hears the trainee through the worker
        time.sleep(2.0)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        killed_at = time.time()
        # A killed worker cannot unregister itself; the new one registers once it has recovered its calls.
        redis_store.client.srem(redis_store.key("media", "workers"), "w-test")
        worker = start_worker(app, tmp_path, "w-test")
        try:
            wait_for(lambda: contact_status(app, cid) == "wrap_up", timeout=30)
        except AssertionError:
            worker.send_signal(signal.SIGABRT)
            time.sleep(1)
            raise
        ended = events_of(app, cid, "call.ended")[0]
        assert ended["data"]["reason"] == "server_restart"
        stereo = Path(app.config["RECORDINGS_DIR"]) / rec["files"]["stereo"]
        recorded = wav_seconds(stereo)
        # everything up to the last header rewrite (at most ~1 s before the kill) survives
        assert recorded >= (killed_at - rec["started_at"]) - 1.5
        assert abs(ended["data"]["seconds"] - recorded) < 0.05
        with app.app_context():
            assert db.session.get(Contact, cid).status == "wrap_up"
            db.session.remove()
        for pc in (caller_pc, agent_pc):
            browsers.run(pc.close())
    finally:
        worker.terminate()
        worker.wait(10)
