"""Simulator workers (``flask simulator worker``) drive what web processes hand them, and a worker killed (-9) has
its work taken over by the other without starting it over (issue 18), on real processes: web process w1, media
worker m1, simulator workers s1 and s2, a PostgreSQL database of their own and the Redis server (skipped without
them).

An exercise started on w1 while no worker was alive has its arrivals on w1 and its customers handed to the workers
started since (simulator/exercises.py): it is finished only once those customers are done.

A livestream's simulated audience (livestream/audience_stream.py) runs on a simulator worker, not on the web process
that took the media worker's "publishing" event; a web process started meanwhile leaves it there; its worker is
killed and the other worker goes on with it from the recording (its comments go on, not from the start; a need
thanked is not thanked again; the next answer is thanked).

An email customer handed to a worker reads a reply sent from the desk on its starting process and thanks once (the
reply reached the worker while it was taking the customer over, and was dropped), and its owner record is deleted
after the wrap-up. An email customer whose contact is wrapped up and who waits to write its scenario's follow-up
(simulator/email_takeover.py): its worker is killed while it waits; the other worker takes it over, and the follow-up
goes out when it was due, once.

A worker stopped (SIGSTOP) past its heartbeat's TTL in the middle of a chat customer's write, taken over and resumed,
records nothing twice (the customer's lease, simulator/ownership.py).
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from unittest import mock

import pytest
from sqlalchemy import select

from contacts.models import Contact, ContactEvent
from extensions import db, redis_store

from .cluster import (
    TTL,
    Cluster,
    assigned,
    centre_app,
    create_database,
    email_driver,
    servers,
    tear_down,
    wait_for,
    with_browsers,
)

# Simulated email customers' pace (EMAIL_CUSTOMER_PACE) in every process: the follow-up two days after the wrap-up
# comes 35 s after it, a reply within half a second.
PACE = "0.0002"
TAKE_OVER_WITHIN = float(TTL) + 8.0  # the heartbeat expires, the next beat of a live process adopts, it acts


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    db_url, redis_url = servers()
    url, drop = create_database(db_url, prefix="sim")
    tmp = tmp_path_factory.mktemp("simworkers")
    prefix = f"kefu-sw-{uuid.uuid4().hex[:8]}:"
    from tests import factories

    app = centre_app(url, redis_url, prefix, GRADING_AUTO=False)
    with app.app_context():
        for name in ("flo", "lia", "gil", "ivy"):
            factories.user(name, role="trainee", level="L4", password="pass1234")
        factories.user("lena", role="lead", password="pass1234")
        db.session.remove()
    cluster = Cluster(tmp, url, redis_url, prefix, secret="sw-" + uuid.uuid4().hex, recordings=tmp / "recordings")
    cluster.app = app
    browsers = with_browsers(cluster)
    env = {
        "KEFU_EMAIL_CUSTOMER_PACE": PACE,
        # A livestream audience's thanks is not lost to a viewer's rate limit (the test waits for it).
        "KEFU_LIVESTREAM_COMMENTS_PER_WINDOW": "30",
        "KEFU_GRADING_AUTO": "0",
    }
    cluster.extra_env = env
    try:
        with mock.patch.dict(os.environ, env):  # every process of the centre (Cluster.env copies os.environ)
            cluster.start_web("w1")
            cluster.start_media_worker("m1")
            cluster.wait_web("w1")  # the simulator workers start in the first test (_both_workers)
        yield cluster
    finally:
        for b in browsers:
            b.close()
        tear_down(app, cluster, drop)


def _sim_names(centre) -> list[str]:
    return [n for n in centre.procs if n.startswith("s")]


def _workers(centre) -> dict[str, str]:
    """The live simulator workers (s1, s2, ...) by name -> process id."""
    by_pid = {str(centre.procs[n].pid): n for n in _sim_names(centre) if centre.procs[n].poll() is None}
    names = redis_store.client.smembers(redis_store.key("sim", "workers"))
    return {by_pid[w.split("-")[-2]]: w for w in names if w.split("-")[-2] in by_pid}


def _both_workers(centre) -> dict[str, str]:
    """Two live simulator workers, started when fewer are alive (a test before killed one)."""
    live = [n for n in _sim_names(centre) if centre.procs[n].poll() is None]
    with mock.patch.dict(os.environ, centre.extra_env):
        for _ in range(2 - len(live)):
            centre.start_sim_worker(f"s{len(_sim_names(centre)) + 1}")
    return wait_for(lambda: len(w := _workers(centre)) == 2 and w, timeout=120, what="two simulator workers")


def _practice_customer(centre, trainee: str, scenario_id: str):
    """``trainee`` (a user of the centre fixture), available at a desk on w1, starts a practice customer of
    ``scenario_id``: the desk (a browser), its socket and the customer's contact id."""
    desk = centre.browser("w1", trainee)
    sock = desk.socket()
    res = sock.call("set_state", {"state": "available"}, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res
    code, started = desk.post_json("/api/sim/customers", {"scenario_id": scenario_id})
    assert code == 201, started
    return desk, sock, started["contact_id"]


def _events(app, type_: str, cid: int | None = None) -> list:
    with app.app_context():
        q = select(ContactEvent).where(ContactEvent.type == type_)
        if cid is not None:
            q = q.where(ContactEvent.contact_id == cid)
        rows = db.session.scalars(q.order_by(ContactEvent.id)).all()
        db.session.expunge_all()
        db.session.remove()
        return rows


def _comments(app, sid: int, kind: str | None = None) -> list:
    """The simulated audience's comments on stream ``sid`` (of one ``kind``), in order."""
    return [
        e
        for e in _events(app, "livestream.comment", sid)
        if (e.data or {}).get("sim") and (kind is None or e.data["sim"].get("kind") == kind)
    ]


def _media_up() -> bool:
    from media.interface import RedisTransport

    return "m1" in RedisTransport(redis_store.client, redis_store.key).workers()


CHAT_SCENARIO = "en-delivery-status"


def test_an_exercise_is_finished_only_when_its_customers_on_workers_are_done(centre):
    """Lena's exercise starts on w1 while no simulator worker is alive, so w1 runs its arrivals; the workers start
    before its first arrival, so w1 hands each customer to one. After the last arrival w1 has nothing of the
    exercise left itself, but the exercise stays running while the workers' customers are in conversation (it was
    marked finished at once), and finishes once they are over."""
    from channels.chat.customer_side import customer_leave
    from simulator.arrivals import plan_arrivals
    from simulator.models import Exercise

    app = centre.app
    seed = next(
        s
        for s in range(1, 1000)
        if 1 <= len(p := plan_arrivals({CHAT_SCENARIO: 1}, 2.0, 100, s)) <= 2 and p[0][0] >= 60
    )
    plan = plan_arrivals({CHAT_SCENARIO: 1}, 2.0, 100, seed)
    with app.app_context():
        from accounts.models import User

        lena = db.session.scalar(select(User).filter_by(username="lena"))
        ex = Exercise(
            name="drill",
            lang="en",
            created_by=lena.id,
            seed=seed,
            rate_per_minute=2.0,
            duration_seconds=100,
            mix={CHAT_SCENARIO: 1.0},
            schedule=[],
            status="planned",
        )
        db.session.add(ex)
        db.session.commit()
        ex_id = ex.id
        db.session.remove()
    code, started = centre.browser("w1", "lena").post_json(f"/api/exercises/{ex_id}/start", {})
    assert code == 200 and started["status"] == "running", started
    began = time.monotonic()
    owner = redis_store.client.hget(redis_store.key("sim", "exercise", ex_id), "owner")
    assert _pid(owner) == centre.procs["w1"].pid  # no worker was alive: w1 runs the arrivals
    workers = _both_workers(centre)
    if time.monotonic() - began > plan[0][0] - 5:
        pytest.skip("the simulator workers came up after the first arrival (a loaded machine)")

    def contacts() -> list[Contact]:
        with app.app_context():
            rows = db.session.scalars(select(Contact).where(Contact.exercise_id == ex_id)).all()
            db.session.expunge_all()
            db.session.remove()
            return rows

    def status() -> str:
        with app.app_context():
            out = db.session.get(Exercise, ex_id).status
            db.session.remove()
            return out

    arrived = wait_for(lambda: len(c := contacts()) == len(plan) and c, timeout=plan[-1][0] + 30, what="every arrival")
    for c in arrived:
        assert redis_store.client.hget(redis_store.key("sim", "contact", c.id), "owner") in workers.values()
    time.sleep(3.0)  # w1 ticks every 0.25 s: it has looked at the exercise many times since its last arrival
    open_now = [c for c in contacts() if c.status in ("queued", "active")]
    assert open_now and status() == "running", (status(), [c.status for c in contacts()])
    with app.app_context():
        for c in open_now:
            customer_leave(db.session.get(Contact, c.id), reason="test_over")
        db.session.remove()
    wait_for(lambda: status() == "finished", timeout=20, what="the exercise finished")


def _pid(process_id: str) -> int:
    return int(process_id.split("-")[-2])  # host-pid-random


def test_a_livestream_audience_runs_on_a_worker_and_survives_its_kill(centre):
    """Lia publishes through m1 from w1 (a real aiortc publisher). The audience runs on a simulator worker, not on
    w1; she marks a question answered and the audience thanks her. A web process w2 starting meanwhile leaves the
    audience where it is. The worker is killed (-9): within seconds the other worker goes on with the audience from
    the recording - its comments go on (not its first comments again), the need thanked is not thanked again - and
    it thanks her for the next answer."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from livestream.actions import start_livestream
    from tests.livestream.aiortc_peers import MovingPicture, Tone, offer_of
    from tests.livestream.test_livestream_app import PeerLoop

    app = centre.app
    workers = _both_workers(centre)
    with app.app_context():
        from accounts.models import User

        lia = db.session.scalar(select(User).filter_by(username="lia"))
        sid = start_livestream(lia, title="Sale Q&A", lang="en", audience_size=8, comment_rate=150, seed=4).id
        db.session.remove()
    sock = centre.browser("w1", "lia").socket("/livestream")
    res = sock.call("join", {"stream_id": sid}, namespace="/livestream", timeout=20)
    assert res and res.get("ok"), res
    answered: set[str] = set()

    def open_question():
        """The latest question whose viewer has asked nothing since, on a need not answered yet."""
        comments = _comments(app, sid)
        for c in reversed(comments):
            if c.data["sim"].get("kind") in ("question", "repeat") and c.data["sim"].get("need") not in answered:
                later = [d for d in comments if d.seq > c.seq and d.data["viewer"] == c.data["viewer"]]
                if not [d for d in later if d.data["sim"].get("kind") in ("question", "repeat")]:
                    return c
        return None

    def thanked() -> list[str]:
        return [c.data["sim"].get("need") for c in _comments(app, sid, "thanks")]

    def answer_and_thanks() -> set[str]:
        question = wait_for(open_question, timeout=60, what="an open question")
        before = set(thanked())
        res = sock.call(
            "mark_answered", {"stream_id": sid, "comment_seq": question.seq}, namespace="/livestream", timeout=20
        )
        assert res and res.get("ok"), res
        got = wait_for(lambda: set(thanked()) - before, timeout=60, what="the audience's thanks")
        answered.update(got | {question.data["sim"]["need"]})
        return got

    peers = PeerLoop()
    pub = None
    try:
        wait_for(_media_up, timeout=90, what="media worker m1 registered")

        async def publisher():
            pc = RTCPeerConnection()
            pc.addTrack(MovingPicture(160, 120))
            pc.addTrack(Tone())
            return pc, await offer_of(pc)

        pub, offer = peers.run(publisher())
        res = sock.call("publish", {"stream_id": sid, "offer": offer}, namespace="/livestream", timeout=60)
        assert res and res.get("ok"), res
        peers.run(pub.setRemoteDescription(RTCSessionDescription(**res["answer"])))
        key = redis_store.key("sim", "livestream", sid)
        owner = wait_for(lambda: redis_store.client.hget(key, "owner"), timeout=60, what="the audience started")
        assert owner in workers.values(), f"the audience runs on {owner}, not on a simulator worker {workers}"
        driver = next(n for n, w in workers.items() if w == owner)
        first = answer_and_thanks()
        res = sock.call("stats", {"stream_id": sid}, namespace="/livestream", timeout=20)
        assert res and res.get("audience") == 8, res

        with mock.patch.dict(os.environ, centre.extra_env):
            centre.start_web("w2")
        centre.wait_web("w2")
        before = len(_comments(app, sid))
        time.sleep(3 * float(TTL))
        assert redis_store.client.hget(key, "owner") == owner  # a web process's start touched nothing
        assert len(_comments(app, sid)) > before

        centre.kill(driver)
        killed, before = time.monotonic(), len(_comments(app, sid))
        survivor = next(w for n, w in workers.items() if n != driver)
        wait_for(lambda: redis_store.client.hget(key, "owner") == survivor, timeout=30, what="the take-over")
        took = time.monotonic() - killed
        assert took < TAKE_OVER_WITHIN, f"taken over {took:.1f} s after the kill"
        wait_for(lambda: len(_comments(app, sid)) > before + 8, timeout=30, what="comments after the take-over")
        comments = [c.text for c in _comments(app, sid)]
        assert comments[before : before + 8] != comments[:8]  # went on, not started over
        answer_and_thanks()
        thanks = thanked()
        assert all(thanks.count(need) == 1 for need in first), Counter(thanks)  # not thanked again
        res = sock.call("stop", {"stream_id": sid}, namespace="/livestream", timeout=20)
        assert res and res.get("ok"), res
        wait_for(lambda: not redis_store.client.exists(key), timeout=20, what="the audience stopped")
    finally:
        if pub is not None:
            peers.run(pub.close())
        peers.stop()


ORDER_STATUS = "en-email-order-status"  # thanks when answered
ORDER_ANSWER = (
    "Dear Ms Lopez,\n\nThank you for your email. I checked your order US2506270170: the latest scan shows it is on "
    "its way with SwiftPost and it is expected to arrive on Friday.\n\nKind regards,\nKefu Mall Customer Service"
)


def test_an_email_customer_on_a_worker_reads_a_reply_from_the_desk_on_its_starting_process(centre):
    """Gil's practice email customer is started on w1, where his desk is, and handed to a simulator worker. At this
    pace (an answer within half a second, a chaser after 1.4 s) he answers it from w1: the customer, on the worker,
    reads the reply and thanks him, once; once he wraps it up, its owner record is deleted."""
    app = centre.app
    workers = _both_workers(centre)
    desk, sock, cid = _practice_customer(centre, "gil", ORDER_STATUS)
    email_driver(app, cid, workers)
    code, sent = desk.post_json(f"/api/email/contacts/{cid}/reply", {"body_text": ORDER_ANSWER})
    assert code == 200, sent
    wait_for(lambda: _events(app, "customer.state", cid), timeout=30, what="the customer reading the reply")

    def thanks() -> list:
        return [e for e in _events(app, "email.received", cid) if "Thanks for the quick and clear answer" in e.text]

    wait_for(thanks, timeout=20, what="the customer's thanks")
    time.sleep(2.0)
    assert len(thanks()) == 1
    states = [e.data for e in _events(app, "customer.state", cid)]
    assert len(states) == 1 and states[0]["end"] == "satisfied", states
    code, wrapped = desk.post_json(f"/api/email/contacts/{cid}/wrap_up", {"code": "ENQ_DELIVERY"})
    assert code == 200, wrapped
    key = redis_store.key("sim", "contact", cid)
    wait_for(lambda: not redis_store.client.exists(key), timeout=20, what="the owner record deleted")
    res = sock.call("set_state", {"state": "away", "reason": "done"}, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res


FOLLOW_UP = "en-email-refund-follow-up"  # silent when satisfied; writes again two days after the wrap-up


def test_an_email_customer_waiting_to_follow_up_survives_its_workers_kill(centre):
    """Flo's practice email customer (a follow-up scenario) goes to a simulator worker. She wraps the contact up: the
    customer waits two days (35 s at this pace) to write again. Its worker is killed (-9) while it
    waits; the other worker takes it over although its contact is closed, and the follow-up arrives when it was
    due, once."""
    app = centre.app
    workers = _both_workers(centre)
    desk, _, cid = _practice_customer(centre, "flo", FOLLOW_UP)
    key = redis_store.key("sim", "contact", cid)
    driver = email_driver(app, cid, workers)
    time.sleep(3.0)  # the customer's chaser (chase_after 2 h: 1.4 s at this pace) is out
    code, wrapped = desk.post_json(f"/api/email/contacts/{cid}/wrap_up", {"code": "REFUND"})
    assert code == 200, wrapped
    wrapped_at = wait_for(lambda: _events(app, "wrap_up", cid), timeout=20, what="the wrap-up")[0].ts
    due = wrapped_at + 172800 * float(PACE)  # the scenario's follow_up.after_seconds
    time.sleep(2.0)  # the worker hears of the wrap-up
    assert due - time.time() > 20, "the follow-up would be due before the take-over"
    mails_before = [e.contact_id for e in _events(app, "email.received")].count(cid)
    centre.kill(driver)
    survivor = next(w for n, w in workers.items() if n != driver)
    wait_for(lambda: redis_store.client.hget(key, "owner") == survivor, timeout=TAKE_OVER_WITHIN, what="the take-over")

    def follow_ups() -> list:
        return [
            e for e in _events(app, "email.received") if e.contact_id != cid and "Two days ago you told me" in e.text
        ]

    assert not follow_ups()
    got = wait_for(follow_ups, timeout=due - time.time() + 30, what="the follow-up")
    assert got[0].ts >= due - 0.5, f"sent {due - got[0].ts:.1f} s before it was due"
    time.sleep(3.0)
    assert len(follow_ups()) == 1  # once
    assert not redis_store.client.zscore(redis_store.key("sim", "email", "later"), str(cid))  # no longer waiting
    assert [e.contact_id for e in _events(app, "email.received")].count(cid) == mails_before  # nothing sent twice


def _waiting_on_a_lock(url: str) -> int:
    """How many sessions of the centre's database wait for a row another transaction holds."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()[0]


def test_a_worker_stopped_past_its_ttl_records_nothing_twice_once_resumed(centre):
    """A starved process is not a dead one. Ivy's practice chat customer goes to a simulator worker; she asks for the
    order number and the customer, on the worker, makes up its mind (recorded) and starts answering - its write held
    up by a row this test keeps locked, as a stall would hold it after every check. The worker is then stopped
    (SIGSTOP) past its heartbeat's TTL, so another process takes the customer over, and resumed (SIGCONT) once the
    take-over waits for the row too. The customer's mind is recorded once for the line and none of its answer is
    said twice: the stale worker's write either lands before the take-over reads the recording or is refused
    (simulator/ownership.py), and it lets the customer go."""
    import signal

    import psycopg

    app = centre.app
    workers = _both_workers(centre)
    _, sock, cid = _practice_customer(centre, "ivy", CHAT_SCENARIO)
    key = redis_store.key("sim", "contact", cid)
    stale = wait_for(
        lambda: (o := redis_store.client.hget(key, "owner")) in workers.values() and o, timeout=20, what="a driver"
    )
    name = next(n for n, w in workers.items() if w == stale)

    def said() -> list:
        return [e for e in _events(app, "message", cid) if e.actor == "customer"]

    wait_for(lambda: assigned(app, cid), timeout=30, what="the chat assigned to ivy")
    wait_for(said, timeout=30, what="the customer's opening")
    line = {"contact_id": cid, "text": "Could you give me your order number, please?"}
    res = sock.call("send", line, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res
    asked = max(e.seq for e in _events(app, "message", cid) if e.actor == "agent")

    def states() -> list:
        return [e for e in _events(app, "customer.state", cid) if e.seq > asked]

    wait_for(states, timeout=20, what="the customer making up its mind")
    lock = psycopg.connect(centre.db_url)
    proc = centre.procs[name]
    try:
        lock.execute("SELECT id FROM contacts WHERE id = %s FOR UPDATE", (cid,))  # the next write of cid waits
        assert not [e for e in said() if e.seq > asked], "answered before the row was locked"
        wait_for(lambda: _waiting_on_a_lock(centre.db_url), timeout=30, what="the worker's write held up")
        proc.send_signal(signal.SIGSTOP)
        wait_for(lambda: redis_store.client.hget(key, "owner") != stale, timeout=TAKE_OVER_WITHIN, what="the take-over")
        wait_for(lambda: _waiting_on_a_lock(centre.db_url) >= 2, timeout=20, what="the take-over's write held up")
        lock.rollback()  # the stale worker's write goes first (it asked first), and waits for the worker
        time.sleep(1.0)
    finally:
        lock.close()
        proc.send_signal(signal.SIGCONT)
    wait_for(lambda: [e for e in said() if e.seq > asked], timeout=30, what="the customer's answer")
    time.sleep(8.0)  # every line of the answer said (1.5 s apart), and the stale worker awake for seconds
    answer = [e.text for e in said() if e.seq > asked]
    assert len(answer) == len(set(answer)), answer  # no line said twice
    assert len(states()) == 1, [e.data for e in states()]  # one mind for one line
    assert redis_store.client.hget(key, "owner") != stale
    res = sock.call("end", {"contact_id": cid}, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res
