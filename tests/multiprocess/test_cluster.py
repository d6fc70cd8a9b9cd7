"""A centre that outgrew one process (issue 18): web processes and a media worker on one PostgreSQL and one
Redis. Presence is counted over every process, a killed web process's agents go away, starting a process ends
nobody else's simulated customers nor doubles an exercise's arrivals, a Redis flush is rebuilt from the database
with the waiting order kept, and a killed media worker's call ends cleanly with the worker out of the set.

The tests run in file order on one cluster (starting processes is the slow part)."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from accounts.roles import SESSION_RECHECK_SECONDS
from contacts.models import Contact, ContactEvent
from extensions import db, redis_store

from .cluster import TTL, Cluster, centre_app, create_database, servers, tear_down, wait_for, with_browsers

PACKS = Path(__file__).resolve().parent.parent.parent / "scenarios" / "packs"
SCENARIO = "en-delivery-status"
# Killed at t; its heartbeat expires at t + TTL; the next beat of a live process (0.5 s) claims it.
AWAY_WITHIN = float(TTL) + 3.0


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    db_url, redis_url = servers()
    url, drop = create_database(db_url)
    tmp = tmp_path_factory.mktemp("cluster")
    prefix = f"kefu-mp-{uuid.uuid4().hex[:8]}:"
    from routing.liveness import get_liveness
    from tests import factories

    # The test's own process is one more web process (it serves the media worker test's sockets); it beats like
    # the others so that its desks count.
    app = centre_app(
        url,
        redis_url,
        prefix,
        GRADING_AUTO=False,  # the web processes grade
        MEDIA_TRANSPORT="redis",
        RECORDINGS_DIR=str(tmp / "recordings"),
    )
    with app.app_context():
        for name in ("ann", "bob", "carl", "eve"):
            factories.user(name, role="trainee", level="L3", password="pass1234")
        factories.user("lena", role="lead", password="pass1234")
        db.session.remove()
    stop = threading.Event()
    liveness = get_liveness(app)

    def beat():
        while not stop.wait(0.5):
            with contextlib.suppress(Exception):  # the Redis flush test: the next beat puts it back
                liveness.beat()

    threading.Thread(target=beat, daemon=True).start()
    cluster = Cluster(tmp, url, redis_url, prefix, secret="mp-" + uuid.uuid4().hex, recordings=tmp / "recordings")
    cluster.app = app
    browsers = with_browsers(cluster)
    try:
        cluster.start_web("a")
        cluster.start_web("b")
        cluster.wait_web("a")
        cluster.wait_web("b")
        yield cluster
    finally:
        for b in browsers:
            b.close()
        stop.set()
        tear_down(app, cluster, drop)


def _snapshot(app, agent_id: int) -> dict:
    from routing.actions import agent_snapshot

    with app.app_context():
        return agent_snapshot(agent_id)


def _uid(app, username: str) -> int:
    from accounts.models import User

    with app.app_context():
        uid = db.session.scalar(select(User.id).where(User.username == username))
        db.session.remove()
        return uid


def _set_state(sock, state: str, reason: str | None = None) -> dict:
    res = sock.call("set_state", {"state": state, "reason": reason}, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res
    return res["agent"]


def _events(app, cid: int, type_: str | None = None) -> list[ContactEvent]:
    with app.app_context():
        q = select(ContactEvent).where(ContactEvent.contact_id == cid).order_by(ContactEvent.seq)
        evs = [e for e in db.session.scalars(q) if type_ is None or e.type == type_]
        db.session.expunge_all()
        db.session.remove()
        return evs


def test_presence_counts_desks_over_every_process(centre):
    """Ann has a desk on process a and one on b: closing a's keeps her available; closing b's (her last
    anywhere) sets her away with reason "desk disconnected"."""
    app = centre.app
    ann = _uid(app, "ann")
    desk_a = centre.browser("a", "ann").socket()
    desk_b = centre.browser("b", "ann").socket()
    assert _set_state(desk_a, "available")["state"] == "available"
    desk_a.disconnect()
    time.sleep(1.0)
    assert _snapshot(app, ann)["state"] == "available"  # the desk on b is still open
    desk_b.disconnect()
    snap = wait_for(lambda: (s := _snapshot(app, ann))["state"] == "away" and s, timeout=10, what="ann away")
    assert snap["reason"] == "desk disconnected"


def test_starting_a_process_ends_nobody_elses_customers_nor_doubles_arrivals(centre):
    """Process a runs an exercise and a simulated customer; process c starts meanwhile. The customer goes on
    (no simulator_restarted), and the exercise starts exactly one customer per planned arrival."""
    app = centre.app
    lena = centre.browser("a", "lena")
    code, single = lena.post_json("/api/sim/customers", {"scenario_id": SCENARIO, "seed": 7})
    assert code == 201, single
    code, ex = lena.post_json(
        "/api/exercises",
        {"name": "drill", "mix": {SCENARIO: 1}, "rate_per_minute": 30, "duration_seconds": 12, "seed": 5, "lang": "en"},
    )
    assert code == 201, ex
    code, started = lena.post_json(f"/api/exercises/{ex['id']}/start", {})
    assert code == 200, started
    centre.start_web("c")
    centre.wait_web("c")
    from simulator.models import Exercise

    with app.app_context():
        exercise = db.session.get(Exercise, ex["id"])
        planned, ends = len(exercise.schedule), exercise.started_at + exercise.duration_seconds
        db.session.remove()
    assert planned > 0
    from clock import clock

    # c's simulator starts on its first tick; give it a few, and the exercise its whole plan, before counting.
    time.sleep(max(0.0, ends - clock.timestamp()) + 4.0)

    def count():
        with app.app_context():
            n = db.session.scalar(select(func.count()).where(Contact.exercise_id == ex["id"]))
            db.session.remove()
            return n

    assert count() == planned, "an arrival was started twice (or missed)"
    assert not _events(app, single["contact_id"], "contact.abandoned"), "process c ended process a's customer"
    with app.app_context():
        ended = db.session.scalars(select(ContactEvent).where(ContactEvent.type == "contact.abandoned")).all()
        assert not [e for e in ended if (e.data or {}).get("reason") == "simulator_restarted"]
        db.session.remove()
    # Out of the way of the next tests' queue: the exercise stops (its customers leave), so does the customer.
    code, stopped = lena.post_json(f"/api/exercises/{ex['id']}/stop", {})
    assert code == 200, stopped
    from channels.chat.customer_side import customer_leave

    with app.app_context():
        customer_leave(db.session.get(Contact, single["contact_id"]), reason="test_done")
        db.session.remove()

    def still_waiting():
        with app.app_context():
            n = db.session.scalar(select(func.count()).where(Contact.status.in_(("queued", "active"))))
            db.session.remove()
            return n

    wait_for(lambda: still_waiting() == 0, timeout=15, what="the exercise's customers gone")


def test_a_killed_process_agents_go_away(centre):
    """Bob's only desk is on process c; c is killed with -9; he is set away within the stated time."""
    app = centre.app
    bob = _uid(app, "bob")
    desk = centre.browser("c", "bob").socket()
    assert _set_state(desk, "available")["state"] == "available"
    centre.kill("c")
    killed = time.monotonic()
    snap = wait_for(lambda: (s := _snapshot(app, bob))["state"] == "away" and s, timeout=20, what="bob away")
    took = time.monotonic() - killed
    assert snap["reason"] == "desk disconnected"
    assert took <= AWAY_WITHIN, f"bob went away {took:.1f} s after the kill (stated: within {AWAY_WITHIN} s)"


def test_redis_flush_rebuilds_queues_and_agent_states_in_order(centre):
    """Three chat customers wait; Redis is flushed; the live state comes back from the database without a
    restart: the queue in the same order, Carl still away for his break, his desk counted again. A customer
    arriving after the flush is served after the three who waited before it."""
    from channels.chat.customer_side import start_chat
    from clock import clock
    from routing.actions import get_acd

    app = centre.app
    carl = _uid(app, "carl")
    desk = centre.browser("b", "carl").socket()
    _set_state(desk, "away", "break")
    waiting = []
    with app.app_context():
        for i in range(3):
            waiting.append(start_chat(lang="en", queue="chat.general", customer_name=f"Waiting {i}").id)
            clock.advance(0.01)
            time.sleep(0.05)
        acd = get_acd()
        before = [c for c in acd.waiting("chat.general") if c in waiting]
        assert before == waiting
        built = redis_store.client.hgetall(redis_store.key("live", "built"))
        assert built, "no process built the live state"
        redis_store.flush_prefix()
        assert acd.waiting("chat.general") == []
        rebuilt = wait_for(
            lambda: redis_store.client.hget(redis_store.key("live", "built"), "at"), timeout=15, what="rebuild"
        )
        assert rebuilt != built["at"]
        assert [c for c in acd.waiting("chat.general") if c in waiting] == waiting
        db.session.remove()
    snap = _snapshot(app, carl)
    assert (snap["state"], snap["reason"]) == ("away", "break")
    from routing.presence import get_presence

    with app.app_context():
        wait_for(lambda: get_presence().desks_open(carl) == 1, timeout=10, what="carl's desk re-announced")
        late = start_chat(lang="en", queue="chat.general", customer_name="After the flush").id
        db.session.remove()
    # Sign-ins outlive the flush (kept in the database, Redis only caches them: accounts/sessions.py): Carl's
    # desk, open since before it, is still signed in past its socket's 2 s re-check.
    time.sleep(SESSION_RECHECK_SECONDS + 0.5)
    assert _set_state(desk, "available")["state"] == "available"

    def holder(cid):
        with app.app_context():
            c = db.session.get(Contact, cid)
            out = (c.status, c.agent_id)
            db.session.remove()
            return out

    wait_for(lambda: all(holder(c) == ("active", carl) for c in waiting), timeout=15, what="the three served")
    assert holder(late)[0] == "queued"  # Carl's three chat seats went to those who waited longer
    _set_state(desk, "away", "done")


def test_a_killed_media_worker_ends_its_call_cleanly(centre):
    """A role-play call runs through media worker m1, which is killed with -9. A request on the call fails at
    once with the worker's own message, the web processes end the call (both sides told, the recording kept
    up to the kill, wrap-up possible), and m1 leaves the worker set."""
    from extensions import socketio
    from media.interface import RedisTransport
    from media.rtc_client import ToneTrack
    from tests.channels.voice.conftest import ClientLoop, connect

    app = centre.app
    transport = RedisTransport(redis_store.client, redis_store.key)
    centre.start_media_worker("m1")
    wait_for(lambda: "m1" in transport.workers(), timeout=90, what="media worker m1 registered")
    browsers = ClientLoop()
    try:
        http = app.test_client()
        assert http.post("/login", data={"username": "eve", "password": "pass1234"}).status_code == 302
        desk = socketio.test_client(app, namespace="/desk", flask_test_client=http)
        res = desk.emit("set_state", {"state": "available"}, namespace="/desk", callback=True)
        assert res["ok"], res
        voice = socketio.test_client(app, namespace="/voice", flask_test_client=http)
        caller = socketio.test_client(app, namespace="/voice", flask_test_client=app.test_client())
        dial = caller.emit("dial", {"name": "Ms Wang", "lang": "en"}, namespace="/voice", callback=True)
        assert dial["ok"], dial
        cid, token = dial["contact_id"], dial["token"]

        def status():
            with app.app_context():
                s = db.session.get(Contact, cid).status
                db.session.remove()
                return s

        wait_for(lambda: status() == "active", timeout=20, what="the call assigned to eve")
        caller_pc = connect(browsers, caller, "caller_offer", {"contact_id": cid, "token": token}, ToneTrack(220))
        agent_pc = connect(browsers, voice, "answer", {"contact_id": cid}, ToneTrack(150, voice=True))
        wait_for(lambda: _events(app, cid, "call.recording"), timeout=20, what="recording started")
        time.sleep(1.5)
        # What the web processes emit to browsers crosses Socket.IO's Redis message queue: listen to it.
        import json

        import redis

        listener = redis.Redis.from_url(centre.redis_url).pubsub()
        from app import socketio_channel

        listener.subscribe(socketio_channel(app.config))
        centre.procs["m1"].send_signal(signal.SIGKILL)
        centre.procs["m1"].wait(10)
        killed = time.monotonic()
        caller.get_received("/voice")
        hold = voice.emit("hold", {"contact_id": cid}, namespace="/voice", callback=True)
        took = time.monotonic() - killed
        # Either the worker is already seen gone (its own message) or the call is already closed by the sweep.
        assert not hold.get("ok"), hold
        assert took < float(TTL) + 5.0 + 2.0, f"hold took {took:.1f} s to fail"
        wait_for(lambda: status() == "wrap_up", timeout=20, what="the call closed")
        ended = _events(app, cid, "call.ended")
        assert [e.data["reason"] for e in ended] == ["media_worker_lost"]
        assert ended[0].data["seconds"] >= 1.0  # what was recorded before the kill is kept
        assert "m1" not in transport.workers()
        assert "m1" not in redis_store.client.smembers(redis_store.key("media", "workers"))
        told = []
        while (msg := listener.get_message(timeout=0.5)) is not None or not told:
            if msg is None:
                break
            if msg["type"] == "message":
                told.append(json.loads(msg["data"]))
        listener.close()
        for t in told:  # the emit's arguments: [payload]
            if isinstance(t.get("data"), list) and t["data"]:
                t["data"] = t["data"][0]
        to_caller = [t["data"] for t in told if t.get("room") == f"voice-customer:{cid}"]
        assert any(d.get("event") == "call.ended" and d["data"].get("reason") == "media_worker_lost" for d in to_caller)
        to_desk = [t["data"] for t in told if t.get("namespace") == "/desk" and isinstance(t.get("data"), dict)]
        assert any((d.get("event") or {}).get("type") == "contact.ended" for d in to_desk), to_desk
        wrap = desk.emit("wrap_up", {"contact_id": cid, "code": "ENQ_ORDER"}, namespace="/desk", callback=True)
        assert wrap["ok"], wrap
        for pc in (caller_pc, agent_pc):
            browsers.run(pc.close())
    finally:
        browsers.stop()


# -- simulated customers across processes (the shared event log, simulator workers) ---------------------------

ORDER_Q = "Could you tell me your order number, please?"
ANSWER = "Your parcel is at the Columbus hub and should arrive on June 1."


def _trainee(app, name: str) -> int:
    from tests import factories

    with app.app_context():
        factories.user(name, role="trainee", level="L3", password="pass1234")
        db.session.remove()
    return _uid(app, name)


def _customer_lines(app, cid: int) -> list[str]:
    return [e.text for e in _events(app, cid, "message") if e.actor == "customer"]


def _owner(cid: int) -> str | None:
    return redis_store.client.hget(redis_store.key("sim", "contact", cid), "owner")


def _practice_customer(centre, desk_proc: str, start_proc: str, user: str) -> tuple[int, object]:
    """``user``'s desk on ``desk_proc``, their practice customer started on ``start_proc``; returns once the
    customer has been assigned and has opened."""
    app = centre.app
    uid = _trainee(app, user)
    desk = centre.browser(desk_proc, user).socket()
    _set_state(desk, "available")
    code, started = centre.browser(start_proc, user).post_json("/api/sim/customers", {"scenario_id": SCENARIO})
    assert code == 201, started
    cid = started["contact_id"]

    def holder():
        with app.app_context():
            c = db.session.get(Contact, cid)
            out = (c.status, c.agent_id)
            db.session.remove()
            return out

    wait_for(lambda: holder() == ("active", uid), timeout=20, what="the practice customer assigned")
    wait_for(lambda: any("smartwatch" in t for t in _customer_lines(app, cid)), timeout=20, what="the opening")
    return cid, desk


def _say(desk, cid: int, text: str) -> None:
    res = desk.call("send", {"contact_id": cid, "text": text}, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res


def _answered(app, cid: int, needle: str, timeout: float = 30) -> list[str]:
    def lines():
        got = _customer_lines(app, cid)
        return got if any(needle in t for t in got) else None

    return wait_for(lines, timeout=timeout, what=f"the customer's answer with {needle!r}")


def _no_line_doubled(lines: list[str]) -> None:
    for needle in ("smartwatch", "US2505280011", "Columbus"):
        assert sum(needle in t for t in lines) <= 1, f"a line with {needle!r} was sent twice: {lines}"
    assert not redis_store.client.get(redis_store.key("events", "duplicates", "simulator"))


def test_an_agent_on_one_process_chats_with_a_customer_driven_by_another(centre):
    """Dan's desk is on process b; his practice customer is started (and driven) on process a. His lines cross
    the shared event log to a, and the customer answers each of them once."""
    app = centre.app
    cid, desk = _practice_customer(centre, "b", "a", "dan")
    owner = _owner(cid)
    assert owner and owner.split("-")[-2] == str(centre.procs["a"].pid), owner  # host-pid-random
    _say(desk, cid, ORDER_Q)
    _answered(app, cid, "US2505280011")
    _say(desk, cid, ANSWER)
    lines = _answered(app, cid, "Columbus")
    _no_line_doubled(lines)
    assert not _events(app, cid, "contact.abandoned")
    _set_state(desk, "away", "done")


def test_simulator_workers_drive_customers_and_take_over_from_a_killed_one(centre):
    """Two simulator workers run: Fay's practice customer, started on process a, is handed to one of them. It
    answers her desk on b; the worker is killed with -9; the other worker takes the customer over from the
    recording and answers her next line, with no customer ended and no line lost or doubled."""
    app = centre.app
    centre.start_sim_worker("s1")
    centre.start_sim_worker("s2")
    pids = {str(centre.procs[n].pid): n for n in ("s1", "s2")}

    def workers():
        names = redis_store.client.smembers(redis_store.key("sim", "workers"))
        return {pids[w.split("-")[-2]]: w for w in names if w.split("-")[-2] in pids}

    names = wait_for(lambda: len(w := workers()) == 2 and w, timeout=90, what="two simulator workers")
    cid, desk = _practice_customer(centre, "b", "a", "fay")
    driver = next(n for n, w in names.items() if w == _owner(cid))  # a worker drives it, not process a
    _say(desk, cid, ORDER_Q)
    _answered(app, cid, "US2505280011")
    reactions = len(_events(app, cid, "customer.state"))
    centre.kill(driver)
    killed = time.monotonic()
    _say(desk, cid, ANSWER)  # said while nobody drives the customer: the adopter finds it in the recording
    # Taken over once the new driver has reacted to the line (its mind is recorded before it starts typing).
    wait_for(lambda: len(_events(app, cid, "customer.state")) > reactions, timeout=30, what="the take-over")
    took = time.monotonic() - killed
    # The other worker, unless a stalled machine made it miss beats: then a web process may drive it instead.
    assert _owner(cid) not in (None, names[driver])
    assert took < float(TTL) + 5.0, f"the customer was taken over {took:.1f} s after its worker was killed"
    lines = _answered(app, cid, "Columbus", timeout=30)
    _no_line_doubled(lines)
    assert not _events(app, cid, "contact.abandoned") and not _events(app, cid, "contact.ended")
    _say(desk, cid, "Is there anything else I can help you with?")
    wait_for(lambda: _events(app, cid, "contact.ended"), timeout=30, what="the customer says goodbye")
    _no_line_doubled(_customer_lines(app, cid))
    _set_state(desk, "away", "done")


def test_a_customer_handed_to_a_worker_comes_when_redis_loses_the_hand_over(centre):
    """Gus's practice customer is handed to the live simulator worker while it is stopped (SIGSTOP, shorter than a
    heartbeat's life), so its ``adopt`` message waits in the worker's inbox; Redis is flushed, taking the message and
    the owner record (the worker's name and the persona's seed) with it, and the worker goes on. Nobody
    re-announces a customer nobody drives yet: before the fix nobody adopted it and it never opened (the contact
    stayed open and silent). Now, once every live process has re-announced its own, what nobody claimed is adopted:
    the customer opens and answers Gus, nothing ended."""
    app = centre.app
    live = [n for n in ("s1", "s2") if n in centre.procs and centre.procs[n].poll() is None]
    assert live, "the simulator worker test left no worker alive"
    worker = centre.procs[live[0]]
    uid = _trainee(app, "gus")
    desk = centre.browser("b", "gus").socket()
    _set_state(desk, "available")
    starter = centre.browser("a", "gus")
    worker.send_signal(signal.SIGSTOP)
    try:
        stopped = time.monotonic()
        code, started = starter.post_json("/api/sim/customers", {"scenario_id": SCENARIO})
        assert code == 201, started
        cid = started["contact_id"]
        owner = _owner(cid)
        assert owner and owner.split("-")[-2] == str(worker.pid), f"not handed to the stopped worker: {owner}"
        with app.app_context():
            redis_store.flush_prefix()  # the adopt message, the owner record and the rest of this centre's keys
        # Stopped for less than a heartbeat's life: nobody took the worker for dead before the flush.
        assert time.monotonic() - stopped < float(TTL), "the machine is too slow for this test's timing"
    finally:
        worker.send_signal(signal.SIGCONT)
    assert _owner(cid) is None

    def holder():
        with app.app_context():
            c = db.session.get(Contact, cid)
            out = (c.status, c.agent_id)
            db.session.remove()
            return out

    desk = centre.browser("b", "gus").socket()
    _set_state(desk, "available")
    wait_for(lambda: holder() == ("active", uid), timeout=30, what="the practice customer assigned")
    wait_for(lambda: any("smartwatch" in t for t in _customer_lines(app, cid)), timeout=30, what="the opening")
    assert _owner(cid), "the adopter put no owner record back"
    _say(desk, cid, ORDER_Q)
    lines = _answered(app, cid, "US2505280011")
    _no_line_doubled(lines)
    assert not _events(app, cid, "contact.abandoned") and not _events(app, cid, "contact.ended")
    _set_state(desk, "away", "done")
