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
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from contacts.models import Contact
from extensions import db, redis_store
from grading.auto import LOCK_CLASS
from grading.models import Scorecard

from .cluster import TTL, Cluster, centre_app, create_database, servers, wait_for, with_browsers

PACKS = Path(__file__).resolve().parent.parent.parent / "scenarios" / "packs"
GRADERS = ("g1", "g2")


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    db_url, redis_url = servers()
    url, drop = create_database(db_url)
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
        pace = {"KEFU_EMAIL_CUSTOMER_PACE": "0.005"}  # an email customer answers within seconds
        cluster.start_web("a", KEFU_GRADING_AUTO="0", **pace)
        for name in GRADERS:
            cluster.start_web(name, **pace)
        for name in ("a", *GRADERS):
            cluster.wait_web(name)
        yield cluster
    finally:
        for b in browsers:
            b.close()
        cluster.stop()
        with app.app_context():
            redis_store.flush_prefix()
            db.session.remove()
            db.engine.dispose()
        drop()


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
    return redis_store.client.xpending_range(redis_store.key("events", "log"), "grading", "-", "+", 100)


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


def test_an_email_customer_on_one_process_reads_a_reply_sent_from_another(centre):
    """Cat starts a practice email customer on g1 or g2 (whichever the kill test left alive; it lives there: its
    mailbox is that process's); her desk is on a. She answers from a; the customer reads the reply and thanks
    her, once."""
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
