"""Media out of the web process: `flask media worker` serves calls over Redis; a worker killed mid-call is
restarted and closes the call cleanly, keeping its recording."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from accounts.roles import SESSION_RECHECK_SECONDS
from contacts.models import Contact
from extensions import db, redis_store, socketio
from media.recorder import wav_seconds
from media.rtc_client import ToneTrack
from tests.media_workers import start_media_worker, wait_registered

from .conftest import agent_sockets, connect, contact_status, events_of, wait_for


def start_worker(app, tmp_path, worker_id):
    proc = start_media_worker(app, tmp_path, worker_id)
    wait_registered([proc], tmp_path, [worker_id])
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


@pytest.mark.app_config(MEDIA_TRANSPORT="redis")
def test_a_worker_puts_its_calls_back_after_redis_lost_them(app, tmp_path, make_user, browsers):
    """Redis loses its keys (flushed) during a call served by a worker process: within a beat the worker puts
    back the route to its call and its call list, so the trainee's hang-up reaches it (the recording is closed,
    its seconds and the call metrics recorded) instead of leaving the call running on the worker."""
    app.config["RECORDINGS_DIR"] = str(tmp_path / "recordings")
    worker = start_worker(app, tmp_path, "w-flush")
    try:
        make_user("agent1")
        desk, voice, http = agent_sockets(app, "agent1")
        caller = socketio.test_client(app, namespace="/voice", flask_test_client=app.test_client())
        dial = caller.emit("dial", {"name": "Ms Wang", "lang": "en"}, namespace="/voice", callback=True)
        cid, token = dial["contact_id"], dial["token"]
        wait_for(lambda: contact_status(app, cid) == "active")
        caller_pc = connect(browsers, caller, "caller_offer", {"contact_id": cid, "token": token}, ToneTrack(220))
        agent_pc = connect(browsers, voice, "answer", {"contact_id": cid}, ToneTrack(150, voice=True))
        wait_for(lambda: events_of(app, cid, "call.recording"), timeout=20)
        time.sleep(1.5)
        route = redis_store.key("media", "call", str(cid), "worker")
        assert redis_store.client.get(route) == "w-flush"
        redis_store.flush_prefix()
        wait_for(lambda: redis_store.client.get(route) == "w-flush", timeout=10)
        assert str(cid) in redis_store.client.smembers(redis_store.key("media", "worker", "w-flush", "calls"))
        time.sleep(SESSION_RECHECK_SECONDS + 0.2)  # the agent's socket asks again: still signed in after the flush
        res = voice.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)
        assert res["ok"], res
        ended = events_of(app, cid, "call.ended")[0]["data"]
        assert ended["seconds"] >= 1.5, ended
        assert events_of(app, cid, "call.metrics")
        for pc in (caller_pc, agent_pc):
            browsers.run(pc.close())
    finally:
        worker.terminate()
        worker.wait(10)


@pytest.mark.app_config(MEDIA_TRANSPORT="redis")
def test_a_call_opened_twice_at_once_opens_on_one_worker(app, tmp_path):
    """The caller's offer and the agent's answer open a call at the same moment: with two workers both
    requests reach the same one (the route is claimed before either is asked), never one each, which split
    the call between them and let the hang-up miss it."""
    from concurrent.futures import ThreadPoolExecutor

    from media.interface import MediaClient, RedisTransport

    ids = ["w-a", "w-b"]
    procs = [start_media_worker(app, tmp_path, w) for w in ids]
    try:
        wait_registered(procs, tmp_path, ids)
        media = MediaClient(RedisTransport(redis_store.client, redis_store.key))

        def held() -> int:
            return sum(media.request("stats", _worker=w)["calls"] for w in ids)

        for n in range(6):
            call = f"race-{n}"
            with ThreadPoolExecutor(2) as pool:
                replies = list(pool.map(lambda _: media.request("open_call", call_id=call), range(2)))
            assert all(r["ok"] for r in replies), replies
            assert held() == n + 1, f"call {call} was opened on both workers"
        for n in range(6):
            assert media.request("hangup", call_id=f"race-{n}")["ok"]
        assert held() == 0
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
