"""A livestream's simulated audience on the shared event log (livestream/audience_stream.py): the process running
it holds the stream's owner record; the presenter's actions recorded by another process reach it from the log,
each applied once; a stopped audience drops its record. The audience of a process that died is taken over from the
recording (livestream/audience_takeover.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contacts.models import ContactEvent, event_dict
from extensions import db, redis_store
from livestream.audience import AudienceScript, audiences
from tests import factories


def _payload(seq: int, stream_id: int) -> dict:
    ev = db.session.scalar(db.select(ContactEvent).where(ContactEvent.contact_id == stream_id, ContactEvent.seq == seq))
    return {"type": "contact_event", "event": event_dict(ev)}


def _comments(sid: int) -> int:
    """How many comments the stream's audience has recorded (read afresh from the database)."""
    db.session.expire_all()
    q = db.select(ContactEvent).where(ContactEvent.contact_id == sid, ContactEvent.type == "livestream.comment")
    return len(db.session.scalars(q).all())


def _stream_owned_by(owner: str):
    """A live sale (5 viewers, seed 2) whose owner record names ``owner``: (contact, the record's key)."""
    from livestream.actions import start_livestream

    contact = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2)
    key = redis_store.key("sim", "livestream", contact.id)
    redis_store.client.hset(key, "owner", owner)
    return contact, key


def _chatty_sale() -> int:
    """A live sale (5 viewers) whose audience comments 600 times a minute: its contact id."""
    from livestream.actions import start_livestream

    return start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, comment_rate=600).id


def _lease_busy_once(monkeypatch, threads: list[str] | None = None) -> list[int]:
    """The audiences' lease busy the first time it is taken (LeaseBusy: as when a stalled process holds it), taken
    for real after that: the list of streams it was busy for. ``threads``, if given, gets the name of the thread of
    each try."""
    import threading

    from simulator.ownership import LeaseBusy

    real, busy = audiences._take_lease, []

    def take_lease(stream_id, seed):
        if threads is not None:
            threads.append(threading.current_thread().name)
        if not busy:
            busy.append(stream_id)
            raise LeaseBusy("held")
        return real(stream_id, seed)

    monkeypatch.setattr(audiences, "_take_lease", take_lease)
    return busy


def _audience_runs(sid: int, seconds: float) -> bool:
    """Whether the stream's audience runs in this process within ``seconds``."""
    import time

    deadline = time.monotonic() + seconds
    while audiences.script(sid) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return audiences.script(sid) is not None


def _en_sale(app):
    """The English pack loaded and a presenter's live sale started (5 viewers, seed 2): (presenter, contact)."""
    from livestream.actions import start_livestream
    from scenarios.loader import load_pack_into_db

    load_pack_into_db(Path(app.config["CONTENT_DIR"]) / "en")
    ann = factories.user("ann")
    return ann, start_livestream(ann, title="Sale", lang="en", audience_size=5, seed=2)


def _en_sale_asked(app):
    """The English live sale (_en_sale) with the first question its audience's script says posted as a viewer's
    comment (with its need), the audience started and stopped again: (presenter, contact, the question, the
    comment posted)."""
    from livestream.actions import do_post_comment

    ann, contact = _en_sale(app)
    script = audiences.start(contact.id)
    audiences.stop(contact.id)
    question = next(c for c in (script.next_comment(t) for t in range(0, 400, 5)) if c.kind == "question")
    asked = do_post_comment(
        contact, question.viewer, question.name, question.text, sim={"kind": "question", "need": question.need}
    )
    return ann, contact, question, asked


def test_the_presenters_answer_from_the_log_reaches_the_audience_once(app):
    """A viewer's question is marked answered while this process's audience is not listening (as when the
    presenter is on another process): from the log, delivered twice, the audience takes the need as answered,
    applied once."""
    from livestream.actions import do_mark_answered, do_post_comment

    with app.app_context():
        ann, contact = _en_sale(app)
        sid = contact.id
        script = audiences.start(sid)
        key = redis_store.key("sim", "livestream", sid)
        assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
        assert audiences._owner_of({"event": {"contact_id": sid}}) == app.extensions["kefu_liveness"].process_id
        audiences.stop(sid)  # drive it by hand below, not on the thread
        assert not redis_store.client.exists(key)
        question = next(c for c in (script.next_comment(t) for t in range(0, 400, 5)) if c.kind == "question")
        posted = do_post_comment(contact, question.viewer, question.name, question.text, sim={"kind": "question"})
        answered = do_mark_answered(contact, ann.id, posted["seq"])  # nobody here listens: recorded elsewhere
        assert question.need not in script.answered
        audiences._scripts[sid] = script
        try:
            payload = _payload(answered["seq"], sid)
            audiences.on_stream(payload)
            audiences.on_stream(payload)  # at least once: delivered again
            assert question.need in script.answered
            assert audiences._applied[sid] == {answered["seq"]}
            assert audiences._on_event({"type": "contact_event", "event": {"contact_id": sid + 1000}}) is False
        finally:
            audiences.stop(sid)


def test_an_audience_whose_process_died_is_taken_over_from_the_recording(app):
    """The stream's audience was run by a process that stopped beating (its owner record names it). The dead-process
    hook takes the record over, once, and goes on with the audience from the recording: the question answered
    stays answered, the complainer moved to a chat stays quiet, every recorded event counts as applied, and the
    comments go on from a random state of their own (not the first comments again)."""
    from livestream.actions import do_mark_answered, do_post_comment
    from livestream.handoff import do_move_viewer_to_chat

    with app.app_context():
        ann, contact = _en_sale(app)
        sid = contact.id
        script = audiences.start(sid)
        audiences.stop(sid)  # drive it by hand below, not on the thread
        said = [script.next_comment(t) for t in range(0, 400, 5)]
        question = next(c for c in said if c.kind == "question")
        complaint = next(c for c in said if c.kind == "complaint")
        asked = do_post_comment(
            contact, question.viewer, question.name, question.text, sim={"kind": "question", "need": question.need}
        )
        do_mark_answered(contact, ann.id, asked["seq"])
        moaned = do_post_comment(contact, complaint.viewer, complaint.name, complaint.text, sim={"kind": "complaint"})
        do_move_viewer_to_chat(contact, ann.id, moaned["seq"])
        key = redis_store.key("sim", "livestream", sid)
        redis_store.client.hset(key, "owner", "elsewhere-1-dead00")
        try:
            assert audiences.adopt_orphans("elsewhere-1-dead00") == [sid]
            assert audiences.adopt_orphans("elsewhere-1-dead00") == []  # once
            assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
            resumed = audiences.script(sid)
            seqs = {e.seq for e in db.session.scalars(db.select(ContactEvent).where(ContactEvent.contact_id == sid))}
            applied = set(audiences._applied[sid])
            audiences.stop(sid)  # its thread must not draw from the script while it is read below
            assert seqs <= applied
            assert question.need in resumed.answered and complaint.viewer in resumed.moved
            assert resumed.asked[question.need] == question.viewer
            fresh = AudienceScript(resumed.lang, resumed.size, resumed.rate_per_minute, resumed.articles, seed=2)
            again = [resumed.next_comment(t).text for t in range(0, 100, 5)]
            assert again != [fresh.next_comment(t).text for t in range(0, 100, 5)]
        finally:
            audiences.stop(sid)


def test_the_simulators_recovery_leaves_a_livestream_alone(app):
    """A livestream with a simulated audience is a simulated contact, but not a simulated customer: a process that
    adopts what nobody drives (at its start, when another died) does not end it (it did, as simulator_restarted)."""
    from contacts.models import Contact
    from livestream.actions import start_livestream

    with app.app_context():
        contact = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2)
        assert contact.simulated
        done = app.extensions["kefu_simulator"].recover()
        assert contact.id not in done["ended"]
        db.session.expire_all()
        assert db.session.get(Contact, contact.id).status == "active"


def test_an_audience_goes_to_a_live_simulator_worker_and_runs_there(app):
    """While a simulator worker is alive, the process that takes the "publishing" event runs no audience: it names
    the worker the stream's owner and tells it to adopt the stream; a second "publishing" (the presenter
    reconnected) leaves it there. The worker told to adopt it runs it from the recording."""
    import json

    from contacts.stream import get_event_log
    from livestream.actions import start_livestream
    from simulator.ownership import Ownership

    engine = app.extensions["kefu_simulator"]
    liveness = app.extensions["kefu_liveness"]
    worker = "host-7-simworker"
    with app.app_context():
        contact = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2)
        sid = contact.id
        liveness.client.set(liveness.proc_key(worker), 1, ex=60)  # a live simulator worker (its heartbeat)
        Ownership(worker).register_worker(0)
        key = redis_store.key("sim", "livestream", sid)
        try:
            assert audiences.start(sid) is None
            assert audiences.script(sid) is None  # nothing runs here
            assert redis_store.client.hget(key, "owner") == worker
            log_ = get_event_log(app)
            inbox = log_.client.xrange(log_.key("inbox", "simulator", worker))
            assert [json.loads(fields["x"]) for _, fields in inbox] == [{"adopt": "livestream", "id": sid}]
            assert audiences.start(sid) is None  # publishing again: it stays the worker's, told once
            assert redis_store.client.hget(key, "owner") == worker
            assert len(log_.client.xrange(log_.key("inbox", "simulator", worker))) == 1
            assert audiences.size(contact) == 5  # counted where it is not run

            assert not engine.adopt_livestream(sid)  # not ours: the worker's
            redis_store.client.hset(key, "owner", liveness.process_id)  # this process is the worker told to adopt
            engine._on_control({"adopt": "livestream", "id": sid})
            script = audiences.script(sid)
            assert script is not None and script.size == 5 and audiences.live_count() == 1
            seqs = {e.seq for e in db.session.scalars(db.select(ContactEvent).where(ContactEvent.contact_id == sid))}
            assert seqs <= audiences._applied[sid]  # from the recording
            assert redis_store.client.hget(key, "owner") == liveness.process_id
        finally:
            audiences.stop(sid)


def test_an_audience_whose_lease_another_process_took_posts_nothing_more_here(app):
    """This process runs a stream's audience, stalls, and another process takes the audience over (it holds the
    lease) while this one's owner record in Redis still names it: no comment is posted from here any more, the
    audience is let go here, and the owner record is pointed at the lease's holder."""
    import time

    from simulator.ownership import Ownership

    adopter = "host-9-adopter"
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        sid = _chatty_sale()
        liveness.client.set(liveness.proc_key(adopter), 1, ex=60)  # alive (a dead holder is taken over from)

        try:
            assert audiences.start(sid) is not None
            deadline = time.monotonic() + 20
            while _comments(sid) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _comments(sid) >= 2, "the audience said nothing while this process held its lease"
            Ownership(adopter).take_lease("contact", sid, seed=1)
            time.sleep(0.5)  # a comment already inside its transaction may still land
            before = _comments(sid)
            time.sleep(3)  # 600 a minute: ~30 more would be due
            assert _comments(sid) == before
            assert audiences.script(sid) is None
            assert redis_store.client.hget(redis_store.key("sim", "livestream", sid), "owner") == adopter
        finally:
            audiences.stop(sid)


def test_two_overlapping_starts_of_one_audience_keep_the_lease_that_is_current(app, monkeypatch):
    """Two starts of one stream's audience overlap in this process (a reconnecting presenter's two "publishing"
    events): each takes the lease, and the one that took the older generation registers first. The audience is
    fenced by the newer one, both being this process's: it goes on posting instead of being fenced out by its own
    second start and going silent (before, it kept the older and every comment raised LeaseLost)."""
    import time

    from simulator.models import SimulatedCustomer

    with app.app_context():
        sid = _chatty_sale()
        real, overlapped = audiences._take_lease, []

        def take_lease(stream_id, seed):
            if not overlapped:  # the second start: the first takes the lease and registers meanwhile
                overlapped.append(None)
                overlapped[0] = audiences.start(stream_id)
            return real(stream_id, seed)

        monkeypatch.setattr(audiences, "_take_lease", take_lease)

        try:
            assert audiences.start(sid) is overlapped[0] is not None
            db.session.expire_all()
            assert audiences._leases[sid] == db.session.get(SimulatedCustomer, sid).lease
            before = _comments(sid)
            deadline = time.monotonic() + 20
            while _comments(sid) < before + 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _comments(sid) >= before + 2, "the audience went silent"
            assert audiences.script(sid) is not None
        finally:
            audiences.stop(sid)


def test_an_audience_whose_lease_is_busy_is_taken_over_soon_off_the_liveness_thread(app, monkeypatch):
    """The stream's audience ran in a process that stopped beating, in the middle of a comment's write: taking its
    lease gives up (LeaseBusy) rather than wait for that process to resume. The owner record names this process
    now, so nobody else would adopt it: this process takes it over again a moment later, on the audiences' own
    thread (the liveness ``dead`` hook only wakes it), once the lease is free."""
    dead = "elsewhere-1-dead00"
    with app.app_context():
        contact, key = _stream_owned_by(dead)
        sid = contact.id
        threads = []
        busy = _lease_busy_once(monkeypatch, threads)
        try:
            assert audiences.adopt_orphans(dead) == [] and busy == [sid]
            assert audiences.script(sid) is None
            assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
            audiences.adopt_soon(dead)  # the liveness hook: returns at once
            assert _audience_runs(sid, 10)
            assert threads[-1] == "livestream-adopt"
        finally:
            audiences.stop(sid)


def _hold_lease_row(stream_id: int):
    """Another process's open write on the stream's lease row (a comment's fenced write by a process stopped in the
    middle of it, SIGSTOP): the row stays locked until ``rollback`` (bounded: released after 15 s whatever happens).
    Returns (connection, transaction, timer)."""
    import threading

    from sqlalchemy import text

    stalled = db.engine.connect()
    held = stalled.begin()
    stalled.execute(text("UPDATE simulated_customers SET lease = lease WHERE contact_id = :id"), {"id": stream_id})
    release = threading.Timer(15, held.rollback)
    release.start()
    return stalled, held, release


def _let_go_of_row(stalled, held, release) -> None:
    release.cancel()
    if held.is_active:
        held.rollback()
    stalled.close()


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgresql"), reason="needs DATABASE_URL on PostgreSQL"
)
def test_a_publishing_start_whose_lease_is_busy_starts_the_audience_once_the_lease_is_free(app):
    """The stream's audience ran in a process that stopped beating in the middle of a comment's write (its owner
    record names it; its transaction holds the lease row), and the presenter's "publishing" reaches this process.
    Taking the lease gives up within its lock wait (LeaseBusy) and the start returns; the owner record now names
    this process and the audience is started here on the adopting thread once the row is free, under a lease of
    this process's (before: LeaseBusy escaped the start, nothing retried it, and the stream had no audience)."""
    import time

    from simulator.models import SimulatedCustomer
    from simulator.ownership import Ownership

    dead = "elsewhere-1-dead00"
    pid = app.extensions["kefu_liveness"].process_id
    with app.app_context():
        contact, key = _stream_owned_by(dead)
        sid = contact.id
        Ownership(dead).take_lease("contact", sid, seed=2)
        row = _hold_lease_row(sid)
        try:
            began = time.monotonic()
            assert audiences.start(sid) is None  # the presenter's "publishing"
            assert time.monotonic() - began < 5
            assert audiences.script(sid) is None
            assert redis_store.client.hget(key, "owner") == pid
            time.sleep(1.5)  # retried while the row is still held: still busy, still not started
            assert audiences.script(sid) is None
            _let_go_of_row(*row)  # the stalled process is killed at last
            assert _audience_runs(sid, 15)
            db.session.expire_all()
            held = db.session.get(SimulatedCustomer, sid)
            assert held.driver == pid and audiences._leases[sid] == held.lease
        finally:
            _let_go_of_row(*row)
            audiences.stop(sid)


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgresql"), reason="needs DATABASE_URL on PostgreSQL"
)
def test_a_busy_audience_that_another_process_took_over_meanwhile_is_not_retried_here(app):
    """A take-over here found the stream's lease busy and is retried every second; meanwhile another live process
    took the audience over (its owner record names it). This process stops retrying: it starts nothing and its
    adopting thread goes idle (before: the stream stayed in the busy set for as long as it was live, and the thread
    woke every second to look at it)."""
    import time

    dead, other = "elsewhere-1-dead00", "elsewhere-2-live00"
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        contact, key = _stream_owned_by(dead)
        sid = contact.id
        audiences.start(sid)  # creates the lease row; let go at once, as the dead process's audience
        audiences.stop(sid)
        redis_store.client.hset(key, "owner", dead)
        row = _hold_lease_row(sid)
        try:
            assert audiences.adopt_orphans(dead) == [] and sid in audiences._busy  # LeaseBusy: retried soon
            liveness.client.set(liveness.proc_key(other), 1, ex=60)  # another live process ...
            redis_store.client.hset(key, "owner", other)  # ... took the audience over meanwhile
            _let_go_of_row(*row)
            audiences.adopt_soon()
            deadline = time.monotonic() + 10
            while sid in audiences._busy and time.monotonic() < deadline:
                time.sleep(0.1)
            assert sid not in audiences._busy
            assert audiences.script(sid) is None and redis_store.client.hget(key, "owner") == other
        finally:
            _let_go_of_row(*row)
            audiences.stop(sid)


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgresql"), reason="needs DATABASE_URL on PostgreSQL"
)
def test_a_comment_refused_under_an_older_lease_does_not_drop_the_audience_registered_under_a_newer_one(
    app, monkeypatch
):
    """Two starts of one stream's audience overlap in this process: the first registers under its lease and the
    audience's thread sends a comment under it; the second takes a newer lease (its transaction holds the row, so
    the comment waits) and registers it. The comment is then refused (its lease is no longer current) - but the
    audience registered under the newer lease is this process's current one: it goes on posting (before: the
    refusal let the audience go, and the stream was silent until a later start)."""
    import time

    from sqlalchemy import text

    pid = app.extensions["kefu_liveness"].process_id
    with app.app_context():
        sid = _chatty_sale()
        real, first, second = audiences._take_lease, [], []

        def waiting_comment() -> bool:  # the audience's thread, blocked on the lease row
            q = text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE simulated_customers%'"
            )
            with db.engine.connect() as conn:
                return bool(conn.execute(q).scalar())

        def take_lease(stream_id, seed):
            if first:
                return real(stream_id, seed)
            first.append(None)
            first[0] = audiences.start(stream_id)  # the first start: registered, its thread posting
            deadline = time.monotonic() + 20
            while _comments(sid) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            # The second start's lease: taken in a transaction still open while it registers (a comment of the
            # first's, on its way meanwhile, waits for the row and is refused once it is committed).
            conn = db.engine.connect()
            second.extend([conn, conn.begin()])
            lease = conn.execute(
                text(
                    "UPDATE simulated_customers SET lease = lease + 1, driver = :pid"
                    " WHERE contact_id = :id RETURNING lease"
                ),
                {"pid": pid, "id": stream_id},
            ).scalar_one()
            deadline = time.monotonic() + 10
            while not waiting_comment() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert waiting_comment(), "no comment on its way under the first start's lease"
            return lease

        monkeypatch.setattr(audiences, "_take_lease", take_lease)
        try:
            assert audiences.start(sid) is first[0] is not None
            newer = audiences._leases[sid]
            second[1].commit()  # the second start's lease is committed: the waiting comment is refused
            time.sleep(1.0)
            assert audiences.script(sid) is not None, "the audience was let go"
            assert audiences._leases[sid] == newer
            before = _comments(sid)
            deadline = time.monotonic() + 20
            while _comments(sid) < before + 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _comments(sid) >= before + 2, "the audience went silent"
        finally:
            if second:
                if second[1].is_active:
                    second[1].rollback()
                second[0].close()
            audiences.stop(sid)


def test_a_publishing_start_after_the_audiences_process_died_is_not_let_go_by_the_owner_check(app, monkeypatch):
    """The stream's audience ran in a process that died (its owner record still names it) and the presenter's
    "publishing" reaches this process, which goes on with the audience. The audience thread's once-a-second owner
    check, run while the start is under way, does not let the new audience go: the record names this process
    before the audience is registered (before: registered first, it was let go by a check run before the record
    was claimed, and the stream was silent with its record naming this process)."""

    dead = "elsewhere-1-dead00"
    with app.app_context():
        contact, key = _stream_owned_by(dead)
        sid = contact.id
        real, checked = audiences._claim, []

        def claim(stream_id):  # the thread's owner check comes due just as the start claims the record
            audiences._lease_check_at = 0.0
            checked.extend(audiences.check_leases())
            real(stream_id)

        monkeypatch.setattr(audiences, "_claim", claim)
        try:
            assert audiences.start(sid) is not None
            assert checked == [] and audiences.script(sid) is not None
            assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
        finally:
            audiences.stop(sid)


def test_an_answer_recorded_while_an_audience_is_taken_over_reaches_it(app, monkeypatch):
    """The presenter answers a viewer's question while this process takes the audience of a dead process over:
    after the take-over read the stream's recording and before the audience was registered here. The log hands
    the answer to no running audience; the taken-over audience still counts the question as answered (before: it
    was missed, and the audience kept asking an answered question)."""
    from livestream.actions import do_mark_answered

    dead = "elsewhere-1-dead00"
    with app.app_context():
        ann, contact, question, asked = _en_sale_asked(app)  # its audience stopped: the dead process's
        sid = contact.id
        redis_store.client.hset(redis_store.key("sim", "livestream", sid), "owner", dead)
        real = audiences._replay

        def replay(stream_id, resumed):
            applied = real(stream_id, resumed)
            answered = do_mark_answered(contact, ann.id, asked["seq"])  # the presenter, just then
            audiences.on_stream(_payload(answered["seq"], sid))  # the log's copy: no audience here yet
            return applied

        monkeypatch.setattr(audiences, "_replay", replay)
        try:
            assert audiences.adopt_orphans(dead) == [sid]
            assert question.need in audiences.script(sid).answered
        finally:
            audiences.stop(sid)


def test_a_worker_adopting_an_audience_does_not_hold_its_simulated_customers_meanwhile(app, monkeypatch):
    """A simulator worker told to adopt a stream's audience replays the stream's recording (and may wait for its
    lease): meanwhile the worker's engine goes on with its customers - its lock is free for the engine's tick
    (before: the adoption ran under the engine's lock, and every customer of the worker waited for it)."""
    from livestream.actions import start_livestream
    from tests.lock_probe import probing_lock

    engine = app.extensions["kefu_simulator"]
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        contact = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2)
        sid = contact.id
        redis_store.client.hset(redis_store.key("sim", "livestream", sid), "owner", liveness.process_id)
        replay, free = probing_lock(engine._lock, audiences._replay)
        monkeypatch.setattr(audiences, "_replay", replay)
        try:
            engine._on_control({"adopt": "livestream", "id": sid})
            assert audiences.script(sid) is not None
            assert free == [True]
        finally:
            audiences.stop(sid)


def test_an_audience_whose_lease_is_still_ours_is_not_let_go_for_a_record_naming_another(app):
    """This process runs the stream's audience under the current lease, but the owner record names another live
    process (that process's start of the same audience, overlapping this one's take-over, claimed the record after
    this one did; its own lease is older, so its comments are refused and it lets the audience go). This process
    goes on with the audience and claims the record back (before: it let the audience go on the record's word, and
    the stream had no audience at all)."""
    import time

    other = "elsewhere-2-live00"
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        sid = _chatty_sale()
        key = redis_store.key("sim", "livestream", sid)

        try:
            assert audiences.start(sid) is not None
            liveness.client.set(liveness.proc_key(other), 1, ex=60)
            redis_store.client.hset(key, "owner", other)
            time.sleep(2.5)  # the audience thread's owner check runs (once a second)
            assert audiences.script(sid) is not None, "the audience was let go"
            assert redis_store.client.hget(key, "owner") == liveness.process_id
            before = _comments(sid)
            deadline = time.monotonic() + 20
            while _comments(sid) < before + 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _comments(sid) >= before + 2
        finally:
            audiences.stop(sid)


def test_a_stream_whose_record_cannot_be_read_does_not_stop_the_take_over_of_the_others(app):
    """Two live streams' audiences ran in a process that died; one's owner record cannot be read (a key of the
    wrong type: Redis answers WRONGTYPE). The other's audience is taken over all the same (before: the error
    escaped ``adopt_orphans`` and no audience after it in the pass was taken over)."""
    from livestream.actions import start_livestream

    dead = "elsewhere-1-dead00"
    with app.app_context():
        ann = factories.user("ann")
        broken = start_livestream(ann, title="Sale", lang="en", audience_size=5, seed=2).id
        sid = start_livestream(ann, title="Sale 2", lang="en", audience_size=5, seed=3).id
        redis_store.client.set(redis_store.key("sim", "livestream", broken), "not a hash")
        redis_store.client.hset(redis_store.key("sim", "livestream", sid), "owner", dead)
        try:
            assert audiences.adopt_orphans(dead) == [sid]
            assert audiences.script(sid) is not None
        finally:
            audiences.stop(sid)
            audiences.stop(broken)


def _stream_with_unreadable_settings(owner: str):
    """A live stream whose owner record names ``owner`` and whose recorded settings cannot be read (its audience
    cannot start): (its id, a function that puts the settings right)."""

    sid = _stream_owned_by(owner)[0].id
    started = db.session.scalar(
        db.select(ContactEvent).where(ContactEvent.contact_id == sid, ContactEvent.type == "livestream.started")
    )
    good = dict(started.data)

    def settings(data: dict) -> None:
        db.session.execute(db.update(ContactEvent).where(ContactEvent.id == started.id).values(data=data))
        db.session.commit()

    settings({**good, "audience_size": "many"})
    return sid, lambda: settings(good)


def test_a_take_over_that_fails_is_tried_again(app):
    """Taking a dead process's audience over fails after its owner record was taken (here: the stream's settings
    cannot be read, until they are put right). The record names this process, so nobody else would try again: this
    process does, on its adopting thread, and the audience runs once the start succeeds (before: it was logged and
    the stream had no audience for good)."""

    dead = "elsewhere-1-dead00"
    with app.app_context():
        sid, mend = _stream_with_unreadable_settings(owner=dead)
        key = redis_store.key("sim", "livestream", sid)
        try:
            assert audiences.adopt_orphans(dead) == []
            assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
            mend()
            audiences.adopt_soon()
            assert _audience_runs(sid, 10)
        finally:
            audiences.stop(sid)


def test_a_worker_adoption_that_fails_is_tried_again(app):
    """A simulator worker is told to adopt a stream's audience (its owner record names the worker), but the start
    fails (the stream's settings cannot be read, until they are put right). The worker tries again on its adopting
    thread, and the audience runs once the start succeeds (before: the adopt message was logged as failed, and as
    the record named a live worker nobody adopted the audience again)."""

    engine = app.extensions["kefu_simulator"]
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        sid, mend = _stream_with_unreadable_settings(owner=liveness.process_id)
        try:
            engine._on_control({"adopt": "livestream", "id": sid})
            assert audiences.script(sid) is None
            mend()
            assert _audience_runs(sid, 10)
        finally:
            audiences.stop(sid)


def _rename_table(old: str, new: str) -> None:
    """Rename a table from another connection (the live-streams query of a pass fails while it is away)."""
    from sqlalchemy import text

    db.session.remove()
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL lock_timeout = '5s'"))
        conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_a_take_over_pass_that_fails_as_a_whole_is_tried_again(app):
    """A process died while running a stream's audience, and the pass that goes on with its audiences fails as a
    whole (the live streams cannot be read: here their table is away, until it is back). Nothing is in the retry
    set, and no other process will run the dead hook again: the pass is tried again a few seconds later, and the
    audience runs here (before: the failure was logged and the audience never taken over)."""
    import time

    dead = "elsewhere-1-dead00"
    with app.app_context():
        from livestream.actions import start_livestream

        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        key = redis_store.key("sim", "livestream", sid)
        redis_store.client.hset(key, "owner", dead)
        _rename_table("contacts", "contacts_away")
        try:
            audiences.adopt_soon(dead)  # the liveness dead hook: the pass fails
            deadline = time.monotonic() + 5
            while audiences._adopt_due.is_set() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # the pass has run (and failed)
            assert audiences.script(sid) is None
        finally:
            _rename_table("contacts_away", "contacts")
        try:
            deadline = time.monotonic() + 15
            while audiences.script(sid) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert audiences.script(sid) is not None, "the failed pass was not tried again"
            assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
        finally:
            audiences.stop(sid)


def test_a_take_over_pass_in_which_redis_failed_is_tried_again(app):
    """A process died while running a stream's audience, and Redis fails the pass that goes on with its audiences
    (here the stream's owner record cannot be read - WRONGTYPE - until it is put right). The stream was not taken
    over, so nothing is in the retry set: the pass is tried again a few seconds later and the audience runs here
    (before: each stream's failure was logged and the pass ended as if there was nothing to take over)."""
    import time

    from livestream.actions import start_livestream

    dead = "elsewhere-1-dead00"
    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        key = redis_store.key("sim", "livestream", sid)
        redis_store.client.set(key, "not a hash")
        try:
            audiences.adopt_soon(dead)  # the liveness dead hook: reading the record fails
            time.sleep(1.0)
            assert audiences.script(sid) is None
            redis_store.client.delete(key)
            redis_store.client.hset(key, "owner", dead)  # Redis answers again
            deadline = time.monotonic() + 15
            while audiences.script(sid) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert audiences.script(sid) is not None, "the failed pass was not tried again"
        finally:
            audiences.stop(sid)


@pytest.mark.app_config(PROCESS_TTL_SECONDS=1.0, PROCESS_HEARTBEAT_SECONDS=0.25)
def test_an_audience_whose_process_died_while_redis_was_lost_is_taken_over_once_settled(app):
    """Redis lost its keys (a flush) and the process running a stream's audience died meanwhile: the stream has no
    owner record, and no dead hook runs for that process (the loss took its heartbeat and the process list). Once
    every live process has had time to put its own records back (``Liveness.settled``), this process takes the
    audience over from the recording; a live stream not published yet (no audience started) is left alone (before:
    the published stream had no audience for good)."""
    import time

    from livestream.actions import do_record_media_event, start_livestream

    dead = "elsewhere-1-dead00"
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        ann = factories.user("ann")
        sid = start_livestream(ann, title="Sale", lang="en", audience_size=5, seed=2).id
        waiting = start_livestream(ann, title="Later", lang="en", audience_size=5, seed=3).id
        do_record_media_event(sid, "publishing", {"kind": "video"})  # its audience started in the dead process
        key = redis_store.key("sim", "livestream", sid)
        redis_store.client.hset(key, "owner", dead)
        liveness.ensure_live_state()
        try:
            redis_store.flush_prefix()  # Redis lost its keys; the dead process never puts its record back
            assert liveness.ensure_live_state()  # rebuilt; this process re-announces its own (none)
            assert not liveness.settled()  # a missing record is not trusted yet: nothing taken over at once
            assert audiences.script(sid) is None and not redis_store.client.exists(key)
            deadline = time.monotonic() + 15
            while audiences.script(sid) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert audiences.script(sid) is not None, "the orphaned audience was not taken over"
            assert redis_store.client.hget(key, "owner") == liveness.process_id
            assert audiences.script(waiting) is None
            assert not redis_store.client.exists(redis_store.key("sim", "livestream", waiting))
        finally:
            audiences.stop(sid)
            audiences.stop(waiting)


def test_a_publishing_start_after_a_redis_flush_does_not_say_the_first_comments_again(app):
    """A stream's audience had posted its first comments when its process went and Redis lost its keys (the owner
    record with them); the presenter's "publishing" starts the audience again here. It goes on from the stream's
    recording: its comments are not its first ones over again (before: with no record to say it had run, it started
    afresh from its seed and repeated them, the complaint first)."""
    import time

    from livestream.actions import start_livestream

    def said() -> list[tuple]:
        db.session.expire_all()
        q = (
            db.select(ContactEvent)
            .where(ContactEvent.contact_id == sid, ContactEvent.type == "livestream.comment")
            .order_by(ContactEvent.seq)
        )
        return [(e.data.get("viewer"), e.text, (e.data.get("sim") or {}).get("kind")) for e in db.session.scalars(q)]

    def wait_for(count: int) -> list[tuple]:
        deadline = time.monotonic() + 20
        while len(said()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return said()

    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=20, comment_rate=120).id
        try:
            assert audiences.start(sid) is not None  # the presenter's "publishing"
            first = wait_for(4)[:4]
            assert len(first) == 4
            audiences.stop(sid)  # its process goes ...
            time.sleep(0.3)  # (a comment already on its way lands)
            before = said()
            redis_store.flush_prefix()  # ... and Redis loses its keys
            assert audiences.start(sid) is not None  # the presenter publishes again
            again = wait_for(len(before) + 4)[len(before) :][:4]
            assert len(again) == 4
            assert again != first, "the audience said its first comments again"
            assert again[0] != first[0]
        finally:
            audiences.stop(sid)


def _errors(caplog, stream_id: int) -> list[str]:
    """The errors logged about taking the stream's audience over."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelname == "ERROR" and r.name == "livestream.audience_takeover" and str(stream_id) in r.getMessage()
    ]


@pytest.fixture
def quiet_takeover():
    """Leave the audiences' take-over state as found: no pass to come, no failure counted (a test's failures would
    delay the next test's passes)."""
    yield
    timer = audiences._adopt_timer
    if timer is not None:
        timer[0].cancel()
    audiences._adopt_failures = 0
    audiences._failing.clear()
    audiences._busy.clear()


def test_an_owner_record_unreadable_for_good_is_logged_once_and_backed_off(app, monkeypatch, caplog, quiet_takeover):
    """A dead process's stream has an owner record Redis cannot read (WRONGTYPE) for good. Each failed pass is tried
    again, but the error is logged once, not on every pass (before: a traceback on every retry, for as long as the
    stream was live), and the passes back off past 30 s (before: every 30 s for good)."""
    import logging
    import time

    from livestream import audience_takeover
    from livestream.actions import start_livestream

    monkeypatch.setattr(audience_takeover, "ADOPT_RETRY_SECONDS", 0.1)
    real_later, delays = audiences._adopt_later, []

    def adopt_later(delay):
        delays.append(delay)
        real_later(delay)

    monkeypatch.setattr(audiences, "_adopt_later", adopt_later)
    caplog.set_level(logging.DEBUG, logger="livestream.audience_takeover")
    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        redis_store.client.set(redis_store.key("sim", "livestream", sid), "not a hash")
        audiences.adopt_soon("elsewhere-1-dead00")  # the liveness dead hook
        deadline = time.monotonic() + 10
        while len(delays) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(delays) >= 4, "the failed pass was not tried again"
        assert len(_errors(caplog, sid)) == 1
        assert sum(r.levelname == "WARNING" and "pass failed" in r.getMessage() for r in caplog.records) == 1
        monkeypatch.setattr(audience_takeover, "ADOPT_RETRY_SECONDS", 2.0)
        audiences._adopt_failures = 9  # failing for a while now
        tried = len(delays)
        audiences.adopt_soon()
        deadline = time.monotonic() + 10
        while len(delays) == tried and time.monotonic() < deadline:
            time.sleep(0.05)
        assert delays[tried] > 60, "the passes did not back off past 30 s"
        assert len(_errors(caplog, sid)) == 1


def test_a_take_over_that_fails_for_good_is_logged_once(app, caplog, quiet_takeover):
    """Taking a dead process's audience over fails after its owner record was taken, for good (the stream's settings
    cannot be read). It is tried again, after a growing back-off, and the error is logged once (before: tried every
    second with a traceback each time, for as long as the stream was live)."""
    import logging
    import time

    caplog.set_level(logging.DEBUG, logger="livestream.audience_takeover")
    tries = []
    with app.app_context():
        sid, _mend = _stream_with_unreadable_settings(owner="elsewhere-1-dead00")
        real = audiences.start

        def start(stream_id, **kw):
            tries.append(time.monotonic())
            return real(stream_id, **kw)

        audiences.start = start  # an instance attribute: the class's start is untouched
        try:
            assert audiences.adopt_orphans("elsewhere-1-dead00") == []
            audiences.adopt_soon()
            time.sleep(4.5)
            assert len(tries) >= 3, "the failed start was not tried again"
            assert len(_errors(caplog, sid)) == 1
            gaps = [b - a for a, b in zip(tries[1:], tries[2:], strict=False)]
            assert gaps == sorted(gaps), "the retries did not back off"
        finally:
            del audiences.start
            audiences.stop(sid)


def test_a_publishing_start_names_its_process_the_owner_before_it_reads_the_recording(app, monkeypatch):
    """The presenter's "publishing" starts the audience here, and while the start reads the stream's recording (a
    long one, after a reconnect) a take-over pass in another process looks at the published stream. Its owner record
    names this process already, so the other process's compare-and-set on a missing record fails (before: there was
    no record until the replay was over; the other process took the stream and started a second audience)."""
    from livestream.actions import do_record_media_event, start_livestream
    from livestream.audience_stream import TAKE

    pid = app.extensions["kefu_liveness"].process_id
    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        do_record_media_event(sid, "publishing", {"kind": "video"})
        key = redis_store.key("sim", "livestream", sid)
        real, during = audiences._replay, []

        def replay(stream_id, script):
            during.append(redis_store.client.hget(key, "owner"))
            # what another process's pass does with a published stream that has no record (audience_takeover.py)
            during.append(redis_store.client.eval(TAKE, 0, key, "", "elsewhere-2-live00"))
            return real(stream_id, script)

        monkeypatch.setattr(audiences, "_replay", replay)
        try:
            assert audiences.start(sid) is not None
            assert during == [pid, 0]
            assert redis_store.client.hget(key, "owner") == pid
        finally:
            audiences.stop(sid)


@pytest.mark.app_config(PROCESS_TTL_SECONDS=1.0, PROCESS_HEARTBEAT_SECONDS=0.25)
def test_a_take_over_pass_leaves_a_stream_just_published_to_its_publishing_start(app, quiet_takeover):
    """A stream's presenter published a moment ago, and the "publishing" start (in another process) has not claimed
    the owner record yet. A take-over pass here leaves the stream to that start (before: it took the stream over -
    with the start going on elsewhere, a second audience); once a TTL has passed with still no record (that process
    died before claiming it), a pass takes it over."""
    import time

    from livestream.actions import do_record_media_event, start_livestream

    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        liveness.ensure_live_state()
        deadline = time.monotonic() + 10
        while not liveness.settled() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert liveness.settled()  # a missing record is trusted
        do_record_media_event(sid, "publishing", {"kind": "video"})
        key = redis_store.key("sim", "livestream", sid)
        try:
            assert audiences.adopt_orphans() == []
            assert audiences.script(sid) is None and not redis_store.client.exists(key)
            assert _audience_runs(sid, 10), "not looked at again once the TTL was over"
            assert redis_store.client.hget(key, "owner") == liveness.process_id
        finally:
            audiences.stop(sid)


def test_a_publishing_start_that_fails_is_tried_again(app, quiet_takeover):
    """The presenter's "publishing" start fails after it claimed the stream's owner record (the stream's settings
    cannot be read, until they are put right). The record names this live process, so nobody else would start the
    audience: this process starts it on its adopting thread once the start succeeds (before: the failure went up to
    the media event's listener, and the stream had no audience)."""
    pid = app.extensions["kefu_liveness"].process_id
    with app.app_context():
        sid, mend = _stream_with_unreadable_settings(owner=pid)
        key = redis_store.key("sim", "livestream", sid)
        redis_store.client.delete(key)  # a new stream: no record yet
        try:
            assert audiences.start(sid) is None
            assert redis_store.client.hget(key, "owner") == pid
            mend()
            assert _audience_runs(sid, 10)
        finally:
            audiences.stop(sid)


def test_an_answer_the_log_passed_over_while_redis_was_lost_reaches_the_running_audience(app):
    """This process runs a stream's audience when Redis loses its keys (the owner record, the log), and before the
    process puts its record back the presenter answers a viewer's question from another process: the log passes the
    entry over (no record names an owner; here, this process's listener does not see it). Once the record is back
    the audience catches up from the recording and takes the question as answered (before: it never learned of the
    answer and went on asking)."""
    import time

    from livestream.actions import do_mark_answered

    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        ann, contact, question, asked = _en_sale_asked(app)
        sid = contact.id
        try:
            running = audiences.start(sid)  # the audience runs here, the question in its recording
            assert question.need not in running.answered
            liveness.ensure_live_state()
            redis_store.flush_prefix()  # Redis loses its keys
            with audiences._lock:
                audiences._scripts.pop(sid)  # the presenter is on another process: not seen in-process
            do_mark_answered(contact, ann.id, asked["seq"])
            with audiences._lock:
                audiences._scripts[sid] = running
            assert liveness.ensure_live_state()  # rebuilt: this process puts its record back
            key = redis_store.key("sim", "livestream", sid)
            assert redis_store.client.hget(key, "owner") == liveness.process_id
            deadline = time.monotonic() + 5
            while question.need not in running.answered and time.monotonic() < deadline:
                time.sleep(0.05)
            assert question.need in running.answered, "the answer the log passed over never reached the audience"
        finally:
            audiences.stop(sid)


def test_an_answer_handed_to_the_process_a_record_named_reaches_the_audience_once_it_is_claimed_back(app):
    """This process runs a stream's audience under the current lease, but its owner record names another live process
    (an overlapping start there claimed it last), and the presenter answers a question meanwhile: the log hands the
    entry to that process, which runs no audience and drops it. Once the owner check claims the record back (the
    lease is ours), the audience catches up from the recording and takes the question as answered (before: never)."""
    import time

    from livestream.actions import do_mark_answered

    other = "elsewhere-2-live00"
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        ann, contact, question, asked = _en_sale_asked(app)
        sid = contact.id
        key = redis_store.key("sim", "livestream", sid)
        try:
            running = audiences.start(sid)
            liveness.client.set(liveness.proc_key(other), 1, ex=60)
            with audiences._lock:
                audiences._scripts.pop(sid)  # the presenter is on another process: not seen in-process
            redis_store.client.hset(key, "owner", other)  # the log hands the answer to it
            do_mark_answered(contact, ann.id, asked["seq"])
            with audiences._lock:
                audiences._scripts[sid] = running
            deadline = time.monotonic() + 5
            while question.need not in running.answered and time.monotonic() < deadline:
                time.sleep(0.05)
            assert redis_store.client.hget(key, "owner") == liveness.process_id  # claimed back
            assert question.need in running.answered, "the answer handed to the other process never reached it"
        finally:
            audiences.stop(sid)


def test_a_publishing_start_whose_lease_is_busy_while_redis_fails_is_tried_again(app, monkeypatch, quiet_takeover):
    """The presenter's "publishing" start finds the stream's lease busy (a stalled write of the audience's previous
    process, taken for dead) while Redis fails on the stream's owner record (WRONGTYPE here). The start is tried
    again on the adopting thread all the same, and the audience runs here once Redis answers and the lease is free
    (before: "not retried" - no dead hook comes again, and the stream had no audience)."""
    dead = "elsewhere-1-dead00"
    with app.app_context():
        contact, key = _stream_owned_by(dead)
        sid = contact.id
        redis_store.client.delete(key)
        redis_store.client.set(key, "not a hash")
        busy = _lease_busy_once(monkeypatch)
        try:
            assert audiences.start(sid) is None and busy == [sid]
            redis_store.client.delete(key)
            redis_store.client.hset(key, "owner", dead)  # Redis answers again: the record names the dead process
            assert _audience_runs(sid, 10), "the busy start was not tried again"
            assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
        finally:
            audiences.stop(sid)


def test_stopping_an_audience_leaves_a_record_another_process_took_meanwhile(app, monkeypatch):
    """This process stops a stream's audience (its end, say) just as another process takes the audience over (this
    one was taken for dead): the other's owner record, written between this process's check that the record is its
    own and its delete, stays (before: deleted - the stream's audience ran with no record, its presenter's events
    passed over by the log and a take-over pass free to start a second one)."""
    from livestream.actions import start_livestream

    other = "elsewhere-2-live00"
    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        key = redis_store.key("sim", "livestream", sid)
        client = redis_store.client
        real_hget, real_eval = client.hget, client.eval

        def hget(name, field):  # the check, then the other process's take-over just after it
            value = real_hget(name, field)
            if name == key:
                client.hset(key, "owner", other)
            return value

        def eval_(script, numkeys, *args):  # a check-and-delete in one step: the take-over can only come after it
            value = real_eval(script, numkeys, *args)
            if key in args:
                client.hset(key, "owner", other)
            return value

        try:
            assert audiences.start(sid) is not None
            monkeypatch.setattr(client, "hget", hget)
            monkeypatch.setattr(client, "eval", eval_)
            audiences.stop(sid)
            monkeypatch.undo()
            assert client.hget(key, "owner") == other
        finally:
            audiences.stop(sid)


@pytest.mark.app_config(PROCESS_TTL_SECONDS=1.0, PROCESS_HEARTBEAT_SECONDS=0.25)
def test_the_grace_after_publishing_is_wall_time_whatever_the_sandbox_clock(app, quiet_takeover):
    """The grace a take-over pass leaves a just-published stream is a TTL of wall time. On a sandbox clock running
    20 times fast, a stream published 0.2 s ago is still left to its start (before: 4 sandbox seconds, the grace was
    over); a stream whose "publishing" the clock puts an hour ahead (recorded by a run whose clock was advanced, the
    clock restarted since) is taken over at once (before: put off for an hour)."""
    import time

    from clock import clock
    from livestream.actions import do_record_media_event, start_livestream

    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        ann = factories.user("ann")
        fast = start_livestream(ann, title="Sale", lang="en", audience_size=5, seed=2).id
        ahead = start_livestream(ann, title="Later", lang="en", audience_size=5, seed=3).id
        liveness.ensure_live_state()
        deadline = time.monotonic() + 10
        while not liveness.settled() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert liveness.settled()
        try:
            clock.advance(3600)
            do_record_media_event(ahead, "publishing", {"kind": "video"})
            clock.configure(20.0)  # restarted, 20 times fast
            do_record_media_event(fast, "publishing", {"kind": "video"})
            time.sleep(0.2)
            assert audiences.adopt_orphans() == [ahead]
            assert audiences.script(fast) is None
        finally:
            clock.configure(1.0)
            audiences.stop(fast)
            audiences.stop(ahead)


def test_an_audience_whose_lease_a_process_that_died_took_is_taken_over_from_it(app, quiet_takeover):
    """This process runs a stream's audience and its owner record names it (put back after a Redis loss), but the
    lease was taken meanwhile by a process that then died - its dead hook ran while the record named this process,
    and no hook comes for it again. The refused comment lets the audience go here and points the record at the dead
    holder; a take-over pass then goes on with the audience (before: the record named the dead process and the
    stream had no audience)."""
    import time

    from simulator.ownership import Ownership

    dead = "elsewhere-1-dead00"
    pid = app.extensions["kefu_liveness"].process_id
    with app.app_context():
        sid = _chatty_sale()
        key = redis_store.key("sim", "livestream", sid)
        try:
            assert audiences.start(sid) is not None
            first = audiences._leases[sid]
            Ownership(dead).take_lease("contact", sid, seed=1)  # the holder, dead since (no heartbeat)
            deadline = time.monotonic() + 10
            while audiences._leases.get(sid) == first and time.monotonic() < deadline:
                time.sleep(0.05)  # refused, let go, taken over under a new lease
            assert _audience_runs(sid, 10), "nobody went on with the audience"
            assert audiences._leases[sid] != first
            assert redis_store.client.hget(key, "owner") == pid
        finally:
            audiences.stop(sid)
