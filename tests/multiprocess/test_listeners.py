"""Listeners that follow contacts across processes through the shared event log (issue 18), on web processes a,
g1 and g2 with a PostgreSQL database of their own and the Redis server (skipped without them).

Auto-grading (grading/auto.py): a chat wrapped up on a desk of process a, which grades nothing itself
(KEFU_GRADING_AUTO=0), is graded by g1 or g2; when the grader that took the wrap-up is killed (-9) in the middle
of grading it, the other one claims it and grades it, once.

Simulated email customers (simulator/email_stream.py): a customer started on g1 (or g2) writes in; the trainee
answers from a desk on process a; the reply reaches the customer's mailbox there, and it answers once.

Group-room audiences (simulator/group_driver.py): a room opened on g1 (or g2) has its simulated audience there;
the room's agent answers from process a; a customer whose question it answers thanks them.

Limits (simulator/views.py): practice customers a trainee started on g1 (or g2) count on process a too.

Then two simulator workers s1, s2 start (``flask simulator worker``): an email customer and a group room's audience
started on a web process are handed to one of them; that worker is killed (-9) while the agent answers; another
process takes them over from the recording, and each answer is answered once (simulator/email_takeover.py,
simulator/group_takeover.py). Last, a livestream published through media worker m1 by a real aiortc publisher:
its audience, on whichever web process took the "publishing" event, thanks the presenter for an answer given from
another process; that process is killed (-9), another goes on with the audience from the recording
(livestream/audience_takeover.py).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import select

from contacts.models import Contact
from extensions import db, redis_store
from grading.actions import LOCK_CLASS
from grading.models import Scorecard

from .cluster import (
    TTL,
    Cluster,
    centre_app,
    create_database,
    email_driver,
    servers,
    tear_down,
    wait_for,
    with_browsers,
)

PACKS = Path(__file__).resolve().parent.parent.parent / "scenarios" / "packs"
GRADERS = ("g1", "g2")
PACE = "0.005"  # simulated email customers' pace (EMAIL_CUSTOMER_PACE) in every process


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    db_url, redis_url = servers()
    url, drop = create_database(db_url, prefix="listen")
    tmp = tmp_path_factory.mktemp("listeners")
    prefix = f"kefu-mp-{uuid.uuid4().hex[:8]}:"
    from tests import factories

    # The test's own app writes the database and reads the results; it grades nothing (no consumer of its own).
    app = centre_app(url, redis_url, prefix, GRADING_AUTO=False)
    with app.app_context():
        for name in ("ann", "bob", "cat", "eve"):
            factories.user(name, role="trainee", level="L3", password="pass1234")
        team = factories.group("team", lead=factories.user("lena", role="lead", password="pass1234"))
        factories.user("dan", role="trainee", level="L3", password="pass1234", group=team)
        db.session.remove()
    cluster = Cluster(tmp, url, redis_url, prefix, secret="mp-" + uuid.uuid4().hex, recordings=tmp / "recordings")
    cluster.app, cluster.db_url = app, url
    browsers = with_browsers(cluster)
    try:
        pace = {
            "KEFU_EMAIL_CUSTOMER_PACE": PACE,  # an email customer answers within seconds
            # A livestream audience's thanks is not lost to a viewer's rate limit (the test waits for it).
            "KEFU_LIVESTREAM_COMMENTS_PER_WINDOW": "30",
        }
        cluster.start_web("a", KEFU_GRADING_AUTO="0", **pace)
        for name in GRADERS:
            cluster.start_web(name, **pace)
        for name in ("a", *GRADERS):
            cluster.wait_web(name)
        yield cluster
    finally:
        for b in browsers:
            b.close()
        tear_down(app, cluster, drop)


def _pid(process_id: str) -> int:
    return int(process_id.split("-")[-2])  # host-pid-random


def _graders(centre) -> dict[str, str]:
    """The processes consuming the grading kind (their inbox is made when their consumer starts; Redis 7.2
    lists a consumer of a group only once it was delivered something), by name (g1, g2)."""
    by_pid = {centre.procs[n].pid: n for n in centre.procs}
    inboxes = redis_store.client.scan_iter(redis_store.key("events", "inbox", "grading", "*"))
    names = [key.rsplit(":", 1)[1] for key in inboxes]
    return {by_pid[_pid(n)]: n for n in names if _pid(n) in by_pid}


def _chat_for(centre, user: str) -> tuple[int, object]:
    """A chat from a customer, assigned to ``user`` whose desk is on process a, with one line each way."""
    from channels.chat.customer_side import start_chat
    from contacts.actions import do_post_message

    app = centre.app
    desk = centre.browser("a", user).socket()
    res = desk.call("set_state", {"state": "available"}, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res
    with app.app_context():
        cid = start_chat(lang="en", queue="chat.general", customer_name=f"Customer of {user}").id
        db.session.remove()

    def assigned():
        from accounts.models import User

        with app.app_context():
            c = db.session.get(Contact, cid)
            out = c.status == "active" and c.agent_id == db.session.scalar(select(User.id).filter_by(username=user))
            db.session.remove()
            return out

    wait_for(assigned, timeout=20, what=f"the chat assigned to {user}")
    with app.app_context():
        do_post_message(db.session.get(Contact, cid), "customer", "Where is my parcel?")
        db.session.remove()
    for event, data in (
        ("send", {"contact_id": cid, "text": "Hello, thank you for contacting us. Let me check that for you."}),
        ("end", {"contact_id": cid}),
    ):
        res = desk.call(event, data, namespace="/desk", timeout=20)
        assert res and res.get("ok"), res
    return cid, desk


def _wrap_up(desk, cid: int) -> None:
    res = desk.call("wrap_up", {"contact_id": cid, "code": "ENQ_ORDER"}, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res


def _scorecards(app, cid: int) -> list[tuple[int, bool]]:
    with app.app_context():
        rows = db.session.execute(
            select(Scorecard.id, Scorecard.current).where(Scorecard.contact_id == cid).order_by(Scorecard.id)
        ).all()
        db.session.remove()
        return [tuple(r) for r in rows]


def _graded_by(cid: int) -> str | None:
    raw = redis_store.client.get(redis_store.key("grading", "graded", cid))
    return raw.partition(" ")[2] if raw else None


def _pending() -> list[dict]:
    return redis_store.client.xpending_range(redis_store.key("events", "log", "wrap_up"), "grading", "-", "+", 100)


def test_a_wrap_up_on_a_process_that_grades_nothing_is_graded_by_another(centre):
    """Ann's desk is on a (KEFU_GRADING_AUTO=0). She wraps her chat up; g1 or g2 grades it: one current
    scorecard, the log entry acknowledged."""
    app = centre.app
    graders = wait_for(lambda: len(g := _graders(centre)) == 2 and g, timeout=60, what="g1 and g2 consuming")
    assert "a" not in graders
    cid, desk = _chat_for(centre, "ann")
    _wrap_up(desk, cid)
    rows = wait_for(lambda: _scorecards(app, cid), timeout=60, what="the scorecard")
    assert rows == [(rows[0][0], True)]
    # the grader marks the wrap-up graded just after the scorecard's commit
    assert wait_for(lambda: _graded_by(cid), timeout=10, what="the grader's mark") in graders.values()
    wait_for(lambda: not _pending(), timeout=10, what="the entry acknowledged")
    time.sleep(1.0)
    assert len(_scorecards(app, cid)) == 1
    res = desk.call("set_state", {"state": "away", "reason": "done"}, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res


def test_a_grader_killed_while_grading_is_replaced_by_the_other(centre):
    """The test holds the contact's grading lock, so the grader that takes Bob's wrap-up waits in the middle of
    grading it (the entry pending on it); that grader is killed with -9. The other grader claims the entry
    after EVENT_LOG_CLAIM_IDLE_SECONDS and, once the lock is free, grades it: one current scorecard, by the
    survivor."""
    import psycopg

    app = centre.app
    graders = wait_for(lambda: len(g := _graders(centre)) == 2 and g, timeout=60, what="g1 and g2 consuming")
    cid, desk = _chat_for(centre, "bob")
    lock = psycopg.connect(centre.db_url, autocommit=True)
    released = threading.Event()
    try:
        lock.execute("SELECT pg_advisory_lock(%s)", ((LOCK_CLASS << 32) | cid,))
        _wrap_up(desk, cid)
        taken = wait_for(lambda: _pending(), timeout=20, what="a grader taking the wrap-up")
        assert len(taken) == 1
        holder = next(n for n, c in graders.items() if c == taken[0]["consumer"])
        centre.kill(holder)
        survivor = next(n for n in GRADERS if n != holder)
        time.sleep(0.5)
        assert _scorecards(app, cid) == []  # nothing graded while the lock is held
        lock.execute("SELECT pg_advisory_unlock(%s)", ((LOCK_CLASS << 32) | cid,))
        released.set()
        rows = wait_for(lambda: _scorecards(app, cid), timeout=60 + float(TTL), what="the scorecard")
        assert rows == [(rows[0][0], True)]
        assert wait_for(lambda: _graded_by(cid), timeout=10, what="the grader's mark") == graders[survivor]
        wait_for(lambda: not _pending(), timeout=10, what="the entry acknowledged")
        time.sleep(1.0)
        assert len(_scorecards(app, cid)) == 1
    finally:
        if not released.is_set():
            with contextlib.suppress(Exception):
                lock.execute("SELECT pg_advisory_unlock_all()")
        lock.close()


# -- simulated email customers ----------------------------------------------------------------------------------

EMAIL_SCENARIO = "en-email-order-status"
EMAIL_REPLY = (
    "Dear Ms Lopez,\n\nThank you for your email. I checked your order US2506270170: the latest scan shows it is on "
    "its way with SwiftPost and it is expected to arrive on Friday.\n\nKind regards,\nKefu Mall Customer Service"
)


def _mails(app, cid: int, type_: str) -> list:
    from contacts.models import ContactEvent

    with app.app_context():
        q = select(ContactEvent).where(ContactEvent.contact_id == cid, ContactEvent.type == type_)
        rows = db.session.scalars(q.order_by(ContactEvent.seq)).all()
        db.session.expunge_all()
        db.session.remove()
        return rows


def _record_deleted(cid: int) -> None:
    """The customer's case is closed and it will write nothing more: its driver deletes its owner record."""
    key = redis_store.key("sim", "contact", cid)
    wait_for(lambda: not redis_store.client.exists(key), timeout=20, what="the owner record deleted")


def test_an_email_customer_on_one_process_reads_a_reply_sent_from_another(centre):
    """Cat starts a practice email customer on g1 or g2 (whichever the kill test left alive; it lives there: its
    mailbox is that process's); her desk is on a. She answers from a; the customer reads the reply and thanks
    her, once; once she wraps it up, its owner record is deleted."""
    app = centre.app
    home = next(n for n in GRADERS if centre.procs[n].poll() is None)
    desk = centre.browser("a", "cat")
    sock = desk.socket()
    res = sock.call("set_state", {"state": "available"}, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res
    code, started = centre.browser(home, "cat").post_json("/api/sim/customers", {"scenario_id": EMAIL_SCENARIO})
    assert code == 201, started
    cid = started["contact_id"]
    owner = redis_store.client.hgetall(redis_store.key("sim", "contact", cid))
    assert owner.get("channel") == "email" and _pid(owner["owner"]) == centre.procs[home].pid, owner

    def held_by_cat():
        from accounts.models import User

        with app.app_context():
            c = db.session.get(Contact, cid)
            out = c.status == "active" and c.agent_id == db.session.scalar(select(User.id).filter_by(username="cat"))
            db.session.remove()
            return out

    wait_for(held_by_cat, timeout=20, what="the email assigned to cat")
    assert len(_mails(app, cid, "email.received")) == 1
    code, sent = desk.post_json(f"/api/email/contacts/{cid}/reply", {"body_text": EMAIL_REPLY})
    assert code == 200, sent
    # reply_delay 600-1800 s at pace 0.005: 3-9 s
    wait_for(lambda: len(_mails(app, cid, "email.received")) >= 2, timeout=45, what="the customer's answer")
    time.sleep(3.0)
    received = _mails(app, cid, "email.received")
    assert len(received) == 2, [m.text for m in received]  # read once, answered once
    assert "Thanks for the quick and clear answer" in received[1].text
    assert received[1].data["threaded_by"] == "in_reply_to"
    states = [e.data for e in _mails(app, cid, "customer.state")]
    assert states and states[-1]["end"] == "satisfied"
    code, wrapped = desk.post_json(f"/api/email/contacts/{cid}/wrap_up", {"code": "ENQ_DELIVERY"})
    assert code == 200, wrapped
    _record_deleted(cid)
    res = sock.call("set_state", {"state": "away", "reason": "done"}, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res


# -- group-room audiences ---------------------------------------------------------------------------------------

GROUP_SCENARIO = "en-group-sale"
GROUP_ANSWER = (
    "Hello everyone! Sale orders ship within 48 hours and delivery takes 3-5 days. Price protection: you can claim "
    "the difference within 7 days (not for flash sales or group deals). Coupons: one store coupon and one site-wide "
    "coupon per order; two of the same kind cannot be combined. Returns: 7 days with no reason needed, and we cover "
    "the return postage. Receipts: an electronic receipt is emailed within 3 working days."
)


def _room_lines(app, room_id: int, kind: str) -> list:
    from contacts.models import ContactEvent

    with app.app_context():
        q = select(ContactEvent).where(
            ContactEvent.contact_id == room_id, ContactEvent.type == "message", ContactEvent.actor == "customer"
        )
        rows = [e for e in db.session.scalars(q.order_by(ContactEvent.seq)) if (e.data or {}).get("kind") == kind]
        db.session.expunge_all()
        db.session.remove()
        return rows


def test_a_group_audience_on_one_process_hears_its_agent_on_another(centre):
    """Lena opens a room for Dan on g1 (or g2): its audience of six askers lives there. Dan serves the room from
    process a; once a customer has asked, his answer to everyone gets a thanks from the room."""
    from accounts.models import User

    app = centre.app
    home = next(n for n in GRADERS if centre.procs[n].poll() is None)
    with app.app_context():
        dan = db.session.scalar(select(User.id).filter_by(username="dan"))
        db.session.remove()
    body = {
        "scenario_id": GROUP_SCENARIO,
        "audience": 6,
        "mix": {"off_topic": 0, "rude": 0, "individual": 0},
        "agent_ids": [dan],
        "seed": 3,
    }
    code, made = centre.browser(home, "lena").post_json("/api/group/rooms", body)
    assert code == 201, made
    room_id = made["rooms"][0]["id"]
    owner = redis_store.client.hget(redis_store.key("sim", "group", room_id), "owner")
    assert owner and _pid(owner) == centre.procs[home].pid, owner
    sock = centre.browser("a", "dan").socket("/group")
    res = sock.call("watch", {"room_id": room_id}, namespace="/group", timeout=20)
    assert res and res.get("ok"), res
    wait_for(lambda: _room_lines(app, room_id, "question"), timeout=90, what="a customer's question")
    res = sock.call("reply", {"room_id": room_id, "text": GROUP_ANSWER}, namespace="/group", timeout=20)
    assert res and res.get("ok"), res
    thanks = wait_for(lambda: _room_lines(app, room_id, "thanks"), timeout=30, what="a customer's thanks")
    assert thanks[0].data.get("need")
    res = sock.call("close", {"room_id": room_id}, namespace="/group", timeout=20)
    assert res and res.get("ok"), res


# -- limits over every process ----------------------------------------------------------------------------------


def test_practice_customers_on_another_process_count_towards_the_limit(centre):
    """Eve starts her limit of practice customers on g1 (or g2); one more, asked of process a, is refused."""
    from simulator.views import TRAINEE_LIVE_LIMIT

    home = next(n for n in GRADERS if centre.procs[n].poll() is None)
    there, here = centre.browser(home, "eve"), centre.browser("a", "eve")
    for _ in range(TRAINEE_LIVE_LIMIT):
        code, started = there.post_json("/api/sim/customers", {"scenario_id": "en-delivery-status"})
        assert code == 201, started
    code, refused = here.post_json("/api/sim/customers", {"scenario_id": "en-delivery-status"})
    assert code == 409, refused


# -- simulator workers: email customers and group audiences handed over, and taken over after kill -9 -----------
# (From here on two simulator workers run: customers started on web processes go to them.)

DISMISSAL = "Dear Ms Lopez,\n\nI don't know where your order is.\n\nKefu Mall Customer Service"
TAKE_OVER_WITHIN = float(TTL) + 8.0  # the heartbeat expires, the next beat of a live process adopts, it acts


def _workers(centre) -> dict[str, str]:
    """The live simulator workers s1, s2 by name -> process id."""
    by_pid = {str(centre.procs[n].pid): n for n in ("s1", "s2") if n in centre.procs and centre.procs[n].poll() is None}
    names = redis_store.client.smembers(redis_store.key("sim", "workers"))
    return {by_pid[w.split("-")[-2]]: w for w in names if w.split("-")[-2] in by_pid}


def _sim_workers(centre) -> dict[str, str]:
    if "s1" not in centre.procs:
        with mock.patch.dict(os.environ, KEFU_EMAIL_CUSTOMER_PACE=PACE):  # as the web processes (the fixture)
            centre.start_sim_worker("s1")
            centre.start_sim_worker("s2")
    return wait_for(lambda: len(w := _workers(centre)) == 2 and w, timeout=120, what="two simulator workers")


def _ended_by_customer(app, cid: int) -> list:
    return [e for e in _mails(app, cid, "contact.abandoned")] + [
        e for e in _mails(app, cid, "contact.ended") if e.actor == "customer"
    ]


def test_an_email_customer_goes_to_a_worker_and_survives_its_kill(centre):
    """With two simulator workers alive, Flo's practice email customer, started on a web process, is handed to one of
    them once its opening is recorded. Flo (desk on a) brushes it off; the customer, on the worker, asks again. The
    worker is killed (-9); Flo answers meanwhile; within seconds another process takes the customer
    over from the recording and thanks her: each reply answered once, nothing sent twice, the contact not ended."""
    from tests import factories

    app = centre.app
    workers = _sim_workers(centre)
    with app.app_context():
        factories.user("flo", role="trainee", level="L3", password="pass1234")
        db.session.remove()
    home = next(n for n in GRADERS if centre.procs[n].poll() is None)
    desk = centre.browser("a", "flo")
    sock = desk.socket()
    res = sock.call("set_state", {"state": "available"}, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res
    code, started = centre.browser(home, "flo").post_json("/api/sim/customers", {"scenario_id": EMAIL_SCENARIO})
    assert code == 201, started
    cid = started["contact_id"]
    driver = email_driver(app, cid, workers)
    code, sent = desk.post_json(f"/api/email/contacts/{cid}/reply", {"body_text": DISMISSAL})
    assert code == 200, sent
    wait_for(lambda: len(_mails(app, cid, "email.received")) >= 2, timeout=45, what="the customer's first answer")
    assert "Thanks" not in _mails(app, cid, "email.received")[1].text  # not answered: asks again
    centre.kill(driver)
    killed = time.monotonic()
    code, sent = desk.post_json(f"/api/email/contacts/{cid}/reply", {"body_text": EMAIL_REPLY})  # nobody drives it
    assert code == 200, sent
    # Taken over once the new owner has read the reply (its mind is recorded when it reads).
    wait_for(lambda: len(_mails(app, cid, "customer.state")) >= 2, timeout=30, what="the take-over")
    took = time.monotonic() - killed
    new_owner = redis_store.client.hget(redis_store.key("sim", "contact", cid), "owner")
    assert new_owner and new_owner != workers[driver]
    assert took < TAKE_OVER_WITHIN, f"taken over {took:.1f} s after the kill"
    wait_for(lambda: len(_mails(app, cid, "email.received")) >= 3, timeout=45, what="the customer's thanks")
    time.sleep(3.0)
    received = _mails(app, cid, "email.received")
    assert len(received) == 3, [m.text for m in received]  # each reply answered once
    assert "Thanks for the quick and clear answer" in received[2].text
    assert received[2].data["threaded_by"] == "in_reply_to"
    states = [e.data for e in _mails(app, cid, "customer.state")]
    assert len(states) == 2 and states[-1]["end"] == "satisfied"
    assert not _ended_by_customer(app, cid)
    code, wrapped = desk.post_json(f"/api/email/contacts/{cid}/wrap_up", {"code": "ENQ_DELIVERY"})
    assert code == 200, wrapped
    _record_deleted(cid)
    res = sock.call("set_state", {"state": "away", "reason": "done"}, namespace="/desk", timeout=20)
    assert res and res.get("ok"), res


def test_a_group_audience_goes_to_a_worker_and_survives_its_kill(centre):
    """Lena opens a room for Gus on a web process: its audience goes to the live simulator worker. Once a customer
    has asked, the worker is killed (-9) and Gus (on process a) answers everyone meanwhile; another process takes
    the audience over from the recording: every customer who had asked thanks once, nobody asks twice, and the rest
    of the audience joins, each once."""
    from collections import Counter

    from accounts.models import Group, User
    from tests import factories

    app = centre.app
    workers = _workers(centre) or _sim_workers(centre)
    home = next(n for n in GRADERS if centre.procs[n].poll() is None)
    with app.app_context():
        team = db.session.scalar(select(Group).filter_by(name="team"))
        gus = factories.user("gus", role="trainee", level="L3", password="pass1234", group=team).id
        db.session.remove()
    body = {
        "scenario_id": GROUP_SCENARIO,
        "audience": 6,
        "mix": {"off_topic": 0, "rude": 0, "individual": 0},
        "agent_ids": [gus],
        "seed": 5,
    }
    code, made = centre.browser(home, "lena").post_json("/api/group/rooms", body)
    assert code == 201, made
    room_id = made["rooms"][0]["id"]
    key = redis_store.key("sim", "group", room_id)
    owner = redis_store.client.hget(key, "owner")
    assert owner in workers.values(), (owner, workers)
    driver = next(n for n, w in workers.items() if w == owner)
    sock = centre.browser("a", "gus").socket("/group")
    res = sock.call("watch", {"room_id": room_id}, namespace="/group", timeout=20)
    assert res and res.get("ok"), res
    wait_for(lambda: _room_lines(app, room_id, "question"), timeout=90, what="a customer's question")
    centre.kill(driver)
    killed = time.monotonic()
    asked = {e.data["member"] for e in _room_lines(app, room_id, "question")}
    res = sock.call("reply", {"room_id": room_id, "text": GROUP_ANSWER}, namespace="/group", timeout=20)
    assert res and res.get("ok"), res
    wait_for(lambda: redis_store.client.hget(key, "owner") not in (None, owner), timeout=30, what="the take-over")
    assert time.monotonic() - killed < TAKE_OVER_WITHIN
    wait_for(
        lambda: {e.data["member"] for e in _room_lines(app, room_id, "thanks")} >= asked,
        timeout=30,
        what="a thanks from each customer who had asked",
    )

    def joined() -> list[str]:
        from contacts.models import ContactEvent

        with app.app_context():
            q = select(ContactEvent).where(
                ContactEvent.contact_id == room_id, ContactEvent.type == "group.member_joined"
            )
            out = [e.data["name"] for e in db.session.scalars(q)]
            db.session.remove()
            return out

    wait_for(lambda: len(joined()) == 6, timeout=60, what="the whole audience in the room")
    time.sleep(3.0)
    names = joined()
    assert len(set(names)) == 6, names
    thanks = Counter(e.data["member"] for e in _room_lines(app, room_id, "thanks"))
    assert max(thanks.values()) == 1, thanks
    questions = Counter(e.data["member"] for e in _room_lines(app, room_id, "question"))
    assert max(questions.values()) == 1, questions
    with app.app_context():
        assert db.session.get(Contact, room_id).status == "active"
        assert db.session.scalar(select(User.id).filter_by(username="gus")) == gus
        db.session.remove()
    res = sock.call("close", {"room_id": room_id}, namespace="/group", timeout=20)
    assert res and res.get("ok"), res


# -- livestream audiences -----------------------------------------------------------------------------------------


def _comments(app, sid: int, kind: str | None = None) -> list:
    """The simulated audience's comments on stream ``sid`` (of one ``kind``), in order."""
    return [
        e
        for e in _mails(app, sid, "livestream.comment")
        if (e.data or {}).get("sim") and (kind is None or e.data["sim"].get("kind") == kind)
    ]


def test_a_livestream_audience_hears_its_presenter_across_processes_and_survives_a_kill(centre):
    """Lia presents a livestream through media worker m1 (a real aiortc publisher in this test). Its simulated
    audience starts in whichever web process takes the worker's "publishing" event; Lia marks a question answered
    from a desk on another process, and the audience thanks her for it. That process is killed (-9): within seconds
    another takes the audience over from the recording - comments go on, the need answered is not thanked again -
    and it thanks her for the next question she answers."""
    from collections import Counter

    from aiortc import RTCPeerConnection, RTCSessionDescription

    from livestream.actions import start_livestream
    from tests import factories
    from tests.livestream.aiortc_peers import MovingPicture, Tone, offer_of
    from tests.livestream.test_livestream_app import PeerLoop

    app = centre.app
    with app.app_context():
        lia = factories.user("lia", role="trainee", level="L3", password="pass1234")
        sid = start_livestream(lia, title="Sale Q&A", lang="en", audience_size=8, comment_rate=150, seed=4).id
        db.session.remove()
    # With a simulator worker alive the audience runs on it (tests/multiprocess/test_sim_workers.py); stopped
    # (SIGTERM: their heartbeats go at once), the audience runs on the web process that takes "publishing".
    for name in ("s1", "s2"):
        if name in centre.procs and centre.procs[name].poll() is None:
            centre.procs[name].terminate()
            centre.procs[name].wait(20)
    webs = [n for n in ("a", *GRADERS) if centre.procs[n].poll() is None]
    sockets: dict[str, object] = {}
    answered: set[str] = set()  # the needs the audience was told answered

    def presenter(name: str):
        if name not in sockets:
            sock = centre.browser(name, "lia").socket("/livestream")
            res = sock.call("join", {"stream_id": sid}, namespace="/livestream", timeout=20)
            assert res and res.get("ok"), res
            sockets[name] = sock
        return sockets[name]

    def asked(viewer: str, before: int) -> set[str]:
        return {
            c.data["sim"]["need"]
            for c in _comments(app, sid)
            if c.data["viewer"] == viewer and c.data["sim"].get("kind") in ("question", "repeat") and c.seq < before
        }

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

    def answer_and_thanks(name: str) -> set[str]:
        """Mark an open question answered from process ``name``; the needs thanked for it. (The audience takes as
        answered what that viewer asked last, livestream/audience.py; a thanks comes only for a need answered, once:
        a need thanked now and not before is this answer's.)"""
        question = wait_for(open_question, timeout=60, what="an open question")
        before = set(thanked())
        res = presenter(name).call(
            "mark_answered", {"stream_id": sid, "comment_seq": question.seq}, namespace="/livestream", timeout=20
        )
        assert res and res.get("ok"), res
        try:
            got = wait_for(lambda: set(thanked()) - before, timeout=60, what="the audience's thanks")
        except AssertionError as e:
            kinds = Counter(c.data["sim"].get("kind") for c in _comments(app, sid))
            owner = redis_store.client.hget(redis_store.key("sim", "livestream", sid), "owner")
            raise AssertionError(f"{e}: comments {dict(kinds)}, answer {res['event']}, audience on {owner}") from None
        answered.update(got | asked(question.data["viewer"], res["event"]["seq"]))
        return got

    centre.start_media_worker("m1")
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
        res = presenter(webs[0]).call(
            "publish", {"stream_id": sid, "offer": offer}, namespace="/livestream", timeout=60
        )
        assert res and res.get("ok"), res
        peers.run(pub.setRemoteDescription(RTCSessionDescription(**res["answer"])))
        key = redis_store.key("sim", "livestream", sid)
        owner = wait_for(lambda: redis_store.client.hget(key, "owner"), timeout=60, what="the audience started")
        home = next(n for n in webs if str(centre.procs[n].pid) == owner.split("-")[-2])
        first = answer_and_thanks(next(n for n in webs if n != home))  # from another process
        centre.kill(home)
        killed, before = time.monotonic(), len(_comments(app, sid))
        new_owner = wait_for(
            lambda: (o := redis_store.client.hget(key, "owner")) != owner and o, timeout=30, what="the take-over"
        )
        took = time.monotonic() - killed
        assert took < TAKE_OVER_WITHIN, f"taken over {took:.1f} s after the kill"
        wait_for(lambda: len(_comments(app, sid)) > before + 5, timeout=30, what="comments after the take-over")
        alive = [n for n in webs if n != home]
        taker = next((n for n in alive if str(centre.procs[n].pid) == new_owner.split("-")[-2]), None)
        answer_and_thanks(next((n for n in alive if n != taker), alive[0]))
        thanks = thanked()
        assert all(thanks.count(need) == 1 for need in first), thanks  # not thanked again after the take-over
        res = presenter(alive[0]).call("stop", {"stream_id": sid}, namespace="/livestream", timeout=20)
        assert res and res.get("ok"), res
    finally:
        if pub is not None:
            peers.run(pub.close())
        peers.stop()


def _media_up() -> bool:
    from media.interface import RedisTransport

    return "m1" in RedisTransport(redis_store.client, redis_store.key).workers()
