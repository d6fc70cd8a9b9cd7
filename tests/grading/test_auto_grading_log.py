"""Auto-grading from the shared event log (grading/auto.py on contacts/stream.py): a wrap-up is graded by one
consumer of the ``grading`` kind and acknowledged; a second delivery, or two graders at once, make no second
current scorecard; a wrap-up left pending by a grader that died is claimed and graded by another. On the test
Redis (embedded by default); tests/multiprocess/test_listeners.py does it with real processes."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from sqlalchemy import select

from contacts.actions import do_post_message, do_wrap_up_contact
from contacts.events import subscribe, unsubscribe
from contacts.models import Contact, ContactEvent, event_dict
from contacts.redis_writer import redis_writer
from contacts.stream import StreamConsumer, StreamKind, get_event_log
from extensions import db, redis_store
from grading.models import Scorecard
from routing.actions import do_set_agent_state
from scenarios.loader import load_pack_into_db

from .. import factories
from .builders import PACKS


def _stuck_grading(grader, monkeypatch, seconds: float) -> tuple[threading.Event, threading.Event]:
    """Make the grader's gradings wait (up to ``seconds``) once they have begun: (entered, release)."""
    entered, release = threading.Event(), threading.Event()
    real_grade = grader._grade

    def stuck(contact_id, wrapped_up_at):
        entered.set()
        release.wait(seconds)
        real_grade(contact_id, wrapped_up_at)

    monkeypatch.setattr(grader, "_grade", stuck)
    return entered, release


def _wrapped_up(app) -> int:
    """A simulated delivery enquiry answered by trainee t1 and wrapped up; returns its contact id."""
    engine = app.extensions["kefu_simulator"]
    load_pack_into_db(PACKS / "en")
    agent = factories.user("t1", role="trainee", level="L5")
    do_set_agent_state(agent, "available")
    cid = engine.start_customer("en-delivery-status", seed=1)
    engine.run_until_idle(60)
    contact = db.session.get(Contact, cid)
    do_post_message(contact, "agent", "Hello! Could you give me your order number?", actor_id=agent.id)
    engine.run_until_idle(60)
    do_post_message(contact, "agent", "It is at the Columbus hub, expected June 1.", actor_id=agent.id)
    engine.run_until_idle(60)
    db.session.refresh(contact)
    do_wrap_up_contact(contact, agent, "ENQ_DELIVERY")
    return cid


def _until(pred, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)


def _scorecards(cid: int) -> list[Scorecard]:
    db.session.expire_all()
    return db.session.scalars(select(Scorecard).where(Scorecard.contact_id == cid)).all()


def _wrap_up_payload(cid: int) -> dict:
    ev = db.session.scalars(select(ContactEvent).where(ContactEvent.contact_id == cid, ContactEvent.type == "wrap_up"))
    return {"type": "contact_event", "event": event_dict(ev.one())}


@pytest.fixture
def announced():
    """The ``scorecard.graded`` events published meanwhile."""
    got: list[dict] = []

    def listener(payload):
        if payload.get("type") == "scorecard.graded":
            got.append(payload)

    subscribe(listener)
    yield got
    unsubscribe(listener)


def test_a_wrap_up_is_graded_once_from_the_log_and_a_second_delivery_changes_nothing(app, announced):
    """The wrap-up reaches this process's consumer of ``grading`` through the log: one current scorecard, the
    entry acknowledged, the grader named. The same entry appended again (a redelivery) is handled and makes no
    second scorecard and no second announcement."""
    grader = app.extensions["kefu_grading"]
    with app.app_context():
        cid = _wrapped_up(app)
        assert grader.wait_idle(30)
        rows = _scorecards(cid)
        assert len(rows) == 1 and rows[0].current
        assert len([a for a in announced if a["contact_id"] == cid]) == 1
        seq = db.session.scalar(
            select(ContactEvent.seq).where(ContactEvent.contact_id == cid, ContactEvent.type == "wrap_up")
        )
        process_id = app.extensions["kefu_liveness"].process_id
        assert grader.graded_by(cid) == (seq, process_id)
        event_log = get_event_log(app)
        consumer = event_log.consumers["grading"]
        _until(lambda: consumer.stats.outcomes["handled"] == 1)  # counted just after the handler returned
        assert redis_store.client.xpending(event_log.log_key("wrap_up"), "grading")["pending"] == 0
        # A redelivery: the same wrap-up on the log again (a new entry id, so no done marker stops it).
        entry = next(
            f
            for _, f in redis_store.client.xrange(event_log.log_key("wrap_up"))
            if f.get("t") == "wrap_up" and f.get("c") == str(cid)
        )
        redis_store.client.xadd(event_log.log_key("wrap_up"), entry)
        _until(lambda: consumer.stats.outcomes["handled"] == 2)
        assert [r.id for r in _scorecards(cid)] == [rows[0].id]
        assert len([a for a in announced if a["contact_id"] == cid]) == 1


@pytest.mark.app_config(GRADING_AUTO=False)
def test_two_graders_at_once_make_one_current_scorecard(app, monkeypatch):
    """Two deliveries of one wrap-up handled at the same time (a claim while the first grader is still at it):
    the contact is graded once; the other finds the scorecard and stops. Each grading waits (up to 2 s) at the
    scoring step for the other to get there too: two graders that both read "no scorecard yet" would both
    store one."""
    import grading.actions

    grader = app.extensions["kefu_grading"]
    meet, scored = threading.Barrier(2), []
    real_grade = grading.actions.grade

    def grade(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):  # the other delivery never got this far
            meet.wait(2)
        scored.append(1)
        return real_grade(*args, **kwargs)

    monkeypatch.setattr(grading.actions, "grade", grade)
    with app.app_context():
        cid = _wrapped_up(app)
        payload = _wrap_up_payload(cid)
        db.session.remove()
    assert _scorecards_in(app, cid) == 0
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def deliver():
        try:
            with app.app_context():
                start.wait(10)
                grader.handle(payload)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert _scorecards_in(app, cid) == 1
    assert len(scored) == 1  # the second delivery found the scorecard and did not grade again


def _scorecards_in(app, cid: int) -> int:
    with app.app_context():
        n = len(_scorecards(cid))
        db.session.remove()
        return n


def test_a_wrap_up_left_pending_by_a_dead_grader_is_claimed_and_graded(app):
    """Grader 'gone' read the wrap-up and died before grading it (never acknowledged): after the claim time the
    live consumer takes it over and grades it, once."""
    grader = app.extensions["kefu_grading"]
    grader.stop()  # this process's consumer is started by hand below, after 'gone' took the entry
    with app.app_context():
        event_log = get_event_log(app)
        event_log.claim_idle_ms = 200
        kind = StreamKind("grading", handle=lambda p: None, types=frozenset({"wrap_up"}), log="wrap_up")
        dead = StreamConsumer(event_log, kind)
        dead.name = "gone"
        dead.ensure_groups()
        cid = _wrapped_up(app)
        assert redis_writer.flush()
        got = redis_store.client.xreadgroup("grading", "gone", {event_log.log_key("wrap_up"): ">"}, count=1000)
        mine = [i for i, f in got[0][1] if f.get("t") == "wrap_up" and f.get("c") == str(cid)]
        assert len(mine) == 1  # pending on 'gone', whose process never beats
        assert _scorecards(cid) == []
        grader._stopped = False
        grader.ensure_consumer()
        consumer = event_log.consumers["grading"]
        _until(lambda: _scorecards(cid), timeout=30)
        _until(lambda: consumer.stats.outcomes["handled"] == 1)
        rows = _scorecards(cid)
        assert len(rows) == 1 and rows[0].current
        assert consumer.stats.claimed >= 1
        assert grader.graded_by(cid)[1] == app.extensions["kefu_liveness"].process_id
        assert redis_store.client.xpending(event_log.log_key("wrap_up"), "grading")["pending"] == 0


def test_a_wrap_up_left_on_the_old_main_log_group_at_an_upgrade_is_graded_by_the_sweep(app):
    """A rolling upgrade: the old version's grader ('old-1') read wrap-ups off the main log and died with one pending
    (the old version wrote no side log). The new grader's side-log group, made now, never sees it - only the sweep
    grades it, once its grace has passed: one current scorecard, and a second sweep (or the next period's lock)
    grades nothing again. (Before the sweep, such a wrap-up was graded only by a regrade.)"""
    from clock import clock

    grader = app.extensions["kefu_grading"]
    grader.stop()
    with app.app_context():
        event_log = get_event_log(app)
        old_kind = StreamKind("grading", handle=lambda p: None, types=frozenset({"wrap_up"}))  # the main log
        old = StreamConsumer(event_log, old_kind)
        old.name = "old-1"
        old.ensure_groups()
        cid = _wrapped_up(app)
        assert redis_writer.flush()
        redis_store.client.delete(event_log.log_key("wrap_up"))  # written by the new version only
        got = redis_store.client.xreadgroup("grading", "old-1", {event_log.log_key(): ">"}, count=1000)
        assert [i for i, f in got[0][1] if f.get("t") == "wrap_up" and f.get("c") == str(cid)]  # pending on old-1
        grader._stopped = False
        grader.ensure_consumer()
        consumer = event_log.consumers["grading"]
        time.sleep(1.5)  # the new consumer reads and claims on its side log: nothing there for it
        assert consumer.stats.outcomes["handled"] == 0 and _scorecards(cid) == []
        sweeper = grader.sweeper
        assert sweeper.sweep() == []  # within the grace: still the log's to deliver
        clock.advance(app.config.get("GRADING_SWEEP_GRACE_SECONDS", 120.0) + 1)
        assert sweeper.wait(sweeper.when_due()) == [cid]
        rows = _scorecards(cid)
        assert len(rows) == 1 and rows[0].current
        assert grader.graded_by(cid)[1] == app.extensions["kefu_liveness"].process_id
        sweeper._next = 0.0
        assert sweeper.wait(sweeper.when_due()) == []  # this period is swept (the centre's lock)
        assert sweeper.sweep() == []  # graded: nothing left
        assert [r.id for r in _scorecards(cid)] == [rows[0].id]


def _sweep_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "kefu-grading-sweep" and t.is_alive()]


def test_the_sweep_grades_off_the_heartbeat_thread_and_stops_with_the_grader(app, monkeypatch):
    """A sweep stuck in a grading (the log's grading in progress, the advisory lock, the model loading) does not
    hold up the liveness beat that found it due: ``Liveness.step()`` returns at once, again at the next beat, so
    the process is not taken for dead; the sweep thread grades the contact once the grading can go on, and ends
    with the grader. (Before: the hook graded on the heartbeat thread, and the beat waited for the sweep.)"""
    from clock import clock

    grader, liveness = app.extensions["kefu_grading"], app.extensions["kefu_liveness"]
    grader.stop()  # the wrap-up below reaches no consumer: only the sweep grades it
    with app.app_context():
        cid = _wrapped_up(app)
        assert redis_writer.flush()
        redis_store.client.delete(get_event_log(app).log_key("wrap_up"))
    clock.advance(app.config.get("GRADING_SWEEP_GRACE_SECONDS", 120.0) + 1)
    entered, release = _stuck_grading(grader, monkeypatch, 30)
    grader.start()
    try:
        for _ in range(2):  # the beat that starts the sweep, and the next one while it is stuck
            beat = threading.Thread(target=liveness.step)
            beat.start()
            beat.join(3)
            assert not beat.is_alive(), "the liveness beat waited for the sweep's grading"
            assert entered.wait(10)
        assert liveness.client.exists(liveness.proc_key(liveness.process_id))
        assert _scorecards_in(app, cid) == 0
    finally:
        release.set()
    _until(lambda: _scorecards_in(app, cid) == 1, timeout=30)
    assert _sweep_threads()
    grader.stop()
    assert not _sweep_threads()


def _closed(app, closed_at: list[float]) -> list[int]:
    """Contacts trainee t1 wrapped up at these times (no recording: the tests replace the grading)."""
    with app.app_context():
        agent = factories.user("t1", role="trainee", level="L5")
        contacts = [
            Contact(channel="chat", queue="q", status="closed", wrap_up_code="ENQ", agent_id=agent.id, closed_at=t)
            for t in closed_at
        ]
        db.session.add_all(contacts)
        db.session.commit()
        ids = [c.id for c in contacts]
        db.session.remove()
    return ids


@pytest.mark.app_config(GRADING_AUTO=False)
def test_a_contact_whose_grading_raises_does_not_stop_the_sweep(app, monkeypatch, caplog):
    """The oldest contact breaks its grading with something other than a GradingError (an evaluator's bug, a
    malformed recording): the sweep logs it with the contact's id, marks it and grades the later ones; the next
    sweep does not try it again. (Before: the error ended the sweep, the contact stayed unmarked and ended every
    later sweep too.)"""
    import grading.actions
    from clock import clock

    now = clock.timestamp()
    ids = _closed(app, [now - 400, now - 300, now - 200])
    tried: list[int] = []

    def grade(contact_id):
        tried.append(contact_id)
        if contact_id == ids[0]:
            raise ValueError("a malformed recording")

    monkeypatch.setattr(grading.actions, "do_grade_contact", grade)
    grader = app.extensions["kefu_grading"]
    assert grader.sweeper.sweep() == ids
    assert tried == ids
    assert all(grader.graded_by(cid) for cid in ids)
    assert f"contact {ids[0]} could not be graded" in caplog.text
    tried.clear()
    assert grader.sweeper.sweep() == [] and tried == []


@pytest.mark.app_config(GRADING_AUTO=False)
def test_passed_over_contacts_do_not_hold_back_the_ones_wrapped_up_after_them(app, monkeypatch):
    """A batch's worth of passed-over contacts (no rubric: marked, no scorecard) at the start of the window: the
    sweep pages past them, keyset on (closed_at, id) so a contact closed at the same time as the last one of a page
    is not skipped, grades a batch of the later ones and the rest next time. (Before: LIMIT took the same
    passed-over contacts every sweep and nothing later was graded.)"""
    import grading.actions
    import grading.sweep
    from clock import clock

    monkeypatch.setattr(grading.sweep, "SWEEP_BATCH", 2)
    now = clock.timestamp()
    ids = _closed(app, [now - 500, now - 400, now - 400, now - 300, now - 200])
    grader = app.extensions["kefu_grading"]
    for cid in ids[:2]:
        grader._graded(cid, 0)  # passed over by an earlier sweep
    tried: list[int] = []
    monkeypatch.setattr(grading.actions, "do_grade_contact", tried.append)  # stores no scorecard either
    assert grader.sweeper.sweep() == ids[2:4]
    assert grader.sweeper.sweep() == [ids[4]]
    assert grader.sweeper.sweep() == []
    assert tried == ids[2:]


@contextlib.contextmanager
def _scorecards_table_away(app):
    """The scorecards table renamed for a while (a migration holding it, say): every grading fails with a database
    error, not a GradingError."""
    from sqlalchemy import text

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE scorecards RENAME TO scorecards_away"))
        try:
            yield
        finally:
            db.session.remove()
            with db.engine.begin() as conn:
                conn.execute(text("ALTER TABLE scorecards_away RENAME TO scorecards"))


@pytest.mark.app_config(GRADING_AUTO=False, GRADING_RETRY_SECONDS=1)
def test_a_grading_the_database_refuses_is_logged_with_its_contact_and_retried_by_the_sweep(app, caplog):
    """The log's handler meets an error other than a GradingError (here the database's): it returns (the stream
    consumer goes on and acknowledges the entry), logs the contact's id, and marks the contact only until its retry
    is due, so the sweep grades it then, once. (Before: the error escaped the handler - the consumer logged the
    entry's id only - and the contact was marked like a graded one for an hour, so no sweep retried it.)"""
    from clock import clock

    grader = app.extensions["kefu_grading"]
    with app.app_context():
        cid = _wrapped_up(app)
        payload = _wrap_up_payload(cid)
        db.session.remove()
    with _scorecards_table_away(app), app.app_context():
        grader.handle(payload)
    assert f"contact {cid} could not be graded" in caplog.text
    assert _scorecards_in(app, cid) == 0
    assert 0 < redis_store.client.ttl(grader._done_key(cid)) <= 1  # passed over until the retry is due
    with app.app_context():
        assert grader.sweeper.sweep() == []  # within the grace, and marked
    clock.advance(app.config.get("GRADING_SWEEP_GRACE_SECONDS", 120.0) + 1)
    _until(lambda: not redis_store.client.exists(grader._done_key(cid)), timeout=5)
    with app.app_context():
        assert grader.sweeper.sweep() == [cid]
    assert _scorecards_in(app, cid) == 1
    with app.app_context():
        assert grader.sweeper.sweep() == []


@pytest.mark.app_config(GRADING_AUTO=False)
def test_an_ungradeable_contact_is_recorded_once_and_never_swept_again(app, caplog):
    """Two wrapped-up contacts with no rubric to grade them by (no pack loaded: a GradingError, which does not pass
    with time), one met by the log's handler, one only by the sweep: each is recorded once as ungradeable (grading's
    own table), and once their marks are gone (the hour passed, Redis flushed) the sweep neither grades nor warns
    about them again. (Before: each was passed over for an hour only, then tried again - with a warning - every
    hour for a day.)"""
    from clock import clock
    from grading.models import UngradeableContact

    now = clock.timestamp()
    by_log, by_sweep = _closed(app, [now - 300, now - 200])
    grader = app.extensions["kefu_grading"]
    with app.app_context():
        grader.handle({"type": "contact_event", "event": {"type": "wrap_up", "contact_id": by_log, "seq": 1}})
        assert grader.sweeper.sweep() == [by_sweep]
        recorded = {r.contact_id: r.reason for r in db.session.scalars(select(UngradeableContact))}
        db.session.remove()
    assert set(recorded) == {by_log, by_sweep}
    assert all("rubric" in reason or "contact" in reason for reason in recorded.values()), recorded
    redis_store.client.delete(grader._done_key(by_log), grader._done_key(by_sweep))
    caplog.clear()
    with app.app_context():
        assert grader.sweeper.sweep() == []
    assert "has no scorecard" not in caplog.text


@pytest.mark.app_config(GRADING_AUTO=False)
def test_a_sweep_thread_a_stop_gave_up_on_still_stops_after_its_contact(app, monkeypatch):
    """A stop gives up waiting for a sweep stuck in a grading, and a new sweep thread is started (the grader started
    again): once its grading goes on, the old thread grades no further contact. (Before: it read the new thread's
    stop event, unset, and swept the rest of its page beside the new thread.)"""
    import grading.sweep
    from clock import clock

    now = clock.timestamp()
    ids = _closed(app, [now - 400, now - 300, now - 200])
    grader = app.extensions["kefu_grading"]
    sweeper = grader.sweeper
    entered, release, tried = threading.Event(), threading.Event(), []

    def stuck(contact_id, wrapped_up_at):
        tried.append(contact_id)
        if contact_id == ids[0]:
            entered.set()
            release.wait(30)

    monkeypatch.setattr(grader, "_grade", stuck)
    monkeypatch.setattr(grading.sweep, "STOP_WAIT_SECONDS", 0.2)
    assert sweeper.when_due()
    assert entered.wait(10)
    stuck_thread = _sweep_threads()[0]
    sweeper.stop()  # gives up after 0.2 s: the thread is still in its grading
    assert stuck_thread.is_alive()
    sweeper._next = 0.0
    assert sweeper.when_due()  # a new thread; this period's lock is the old sweep's, so it sweeps nothing
    release.set()
    stuck_thread.join(10)
    assert not stuck_thread.is_alive()
    assert tried == [ids[0]]
    sweeper.stop()


def _consumer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "events-grading" and t.is_alive()]


@pytest.mark.app_config(GRADING_AUTO=False)
def test_wrap_ups_starting_the_consumer_at_once_start_one_and_a_stop_ends_it(app):
    """Eight threads start the grading consumer at the same moment (the first wrap-ups of a process, recorded at
    once on several desks' threads, and its first beat), ten times over: one consumer thread each time, and the
    grader's stop ends it. (Before: two threads could both find no consumer and each make and start one, or both
    start the same one; stop ended only the one the grader kept, and the other went on reading and grading.)"""
    import sys

    grader = app.extensions["kefu_grading"]
    event_log = get_event_log(app)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often: the race shows in a few rounds
    try:
        for _ in range(10):
            go = threading.Barrier(8)

            def start():
                go.wait()
                with app.app_context():
                    grader.ensure_consumer()

            starters = [threading.Thread(target=start) for _ in range(8)]
            for t in starters:
                t.start()
            for t in starters:
                t.join()
            running = len(_consumer_threads())
            grader.stop()
            _until(lambda: not _consumer_threads(), timeout=5)
            assert running == 1
            grader._stopped, grader._consumer = False, None  # a fresh start, with a new consumer object too
            event_log.consumers.pop("grading", None)
    finally:
        sys.setswitchinterval(interval)


def test_a_transcript_regrade_waits_for_its_own_contact_only(app, monkeypatch):
    """A call's transcript lands while another contact wrapped up here is still being graded: the regrade after the
    transcript waits for a grading of its own contact only, not for the process's other wrap-ups. (Before: it waited
    until nothing at all was pending, up to 30 s on the transcripts' single thread for each call, however busy the
    centre kept the pending set.)"""
    from grading.actions import regrade_after_transcript

    grader = app.extensions["kefu_grading"]
    entered, release = _stuck_grading(grader, monkeypatch, 60)
    try:
        with app.app_context():
            busy = _wrapped_up(app)
            call = Contact(channel="voice", queue="q", status="closed", wrap_up_code="ENQ", agent_id=1)
            db.session.add(call)
            db.session.commit()
            call_id = call.id
            db.session.remove()
        assert entered.wait(10)
        started = time.monotonic()
        with app.app_context():
            regrade_after_transcript(call_id)
        assert time.monotonic() - started < 5
        assert _scorecards_in(app, busy) == 0
    finally:
        release.set()
    assert grader.wait_idle(30)
    assert _scorecards_in(app, busy) == 1


@pytest.mark.app_config(GRADING_AUTO=False)
def test_the_sweep_takes_practice_contacts_in_its_window_only(app, monkeypatch):
    """What the sweep grades: a contact of no exercise and one of a practice exercise, wrapped up between the window
    and the grace ago; not an exam's (it waits for the panel), not one inside the grace (the log's to deliver), not
    one older than the window (the regrade command's), not one with a current scorecard."""
    import grading.actions
    from clock import clock
    from simulator.models import Exercise

    now = clock.timestamp()
    plain, practice, exam, young, old, scored = _closed(
        app, [now - 300, now - 300, now - 300, now - 60, now - 90000, now - 300]
    )
    with app.app_context():
        for cid, kind in ((practice, "practice"), (exam, "exam")):
            ex = Exercise(name=kind, kind=kind)
            db.session.add(ex)
            db.session.flush()
            db.session.get(Contact, cid).exercise_id = ex.id
        db.session.add(
            Scorecard(contact_id=scored, rubric_id="r", level="L5", total=1.0, data={}, content_hash="h", current=True)
        )
        db.session.commit()
        db.session.remove()
    tried: list[int] = []
    monkeypatch.setattr(grading.actions, "do_grade_contact", tried.append)
    assert app.extensions["kefu_grading"].sweeper.sweep() == [plain, practice]
    assert tried == [plain, practice]


@pytest.mark.app_config(GRADING_AUTO=False)
def test_a_recording_that_fails_to_load_is_recorded_ungradeable_with_its_error(app):
    """The wrapped-up contact's scenario, as stored, fails its schema (content loaded by an older version, a record
    edited by hand): loading the recording raises a ValueError (pydantic's), and the contact is recorded ungradeable
    with that error as its reason - the scenario and the field named - not as a contact that does not exist.
    (Before: the reason was "no contact N", which sent whoever read it looking for a missing row.)"""
    from clock import clock
    from grading.models import UngradeableContact
    from scenarios.models import ScenarioRecord
    from scenarios.registry import invalidate

    (cid,) = _closed(app, [clock.timestamp() - 300])
    grader = app.extensions["kefu_grading"]
    with app.app_context():
        db.session.add(
            ScenarioRecord(
                id="en-broken", lang="en", channel="chat", level="L5", queue="q", title="t", data={"id": "en-broken"}
            )
        )
        db.session.get(Contact, cid).scenario_id = "en-broken"
        db.session.commit()
        invalidate()
        grader.handle({"type": "contact_event", "event": {"type": "wrap_up", "contact_id": cid, "seq": 1}})
        reason = db.session.get(UngradeableContact, cid).reason
        db.session.remove()
    assert not reason.startswith(f"no contact {cid}"), reason
    assert str(cid) in reason and "validation error" in reason and "Scenario" in reason, reason
