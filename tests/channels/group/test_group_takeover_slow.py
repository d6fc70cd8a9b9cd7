"""A slow take-over of one group room's audience (its lease held by a stalled driver's open write, a long recording to
replay) does not stop the other rooms of the process: their members go on joining and speaking meanwhile, and the
room taken over is driven once it is rebuilt (simulator/group_takeover.py ``take_over``)."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select, text

from channels.group.sessions import start_group_room
from contacts.models import Contact, ContactEvent
from extensions import db
from tests import factories
from tests.markers import needs_postgresql

from .conftest import user
from .rooms import MIX
from .test_group_takeover import _die


def _events(room_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).where(ContactEvent.contact_id == room_id))


def _lease(room_id: int) -> int:
    """The generation of the lease of the room's audience (simulator/ownership.py), read afresh."""
    from simulator.models import SimulatedCustomer

    lease = db.session.scalar(select(SimulatedCustomer.lease).where(SimulatedCustomer.contact_id == room_id))
    db.session.commit()
    return lease


def _long_recording(room, lines: int = 3000) -> None:
    """The agent's "one moment" said ``lines`` times more in the room (seconds of replay for a take-over): recorded
    in one go, the contact's event count (its next sequence number) kept right."""
    from sqlalchemy import insert, update

    from channels.group.actions import do_reply_in_group

    line, _ = do_reply_in_group(room, db.session.get(Contact, room.id).agent, "One moment please, I am checking that.")
    row = {k: line[k] for k in ("contact_id", "type", "actor", "actor_id", "ts", "text", "data")}
    db.session.execute(insert(ContactEvent), [{**row, "seq": line["seq"] + i} for i in range(1, lines + 1)])
    db.session.execute(update(Contact).where(Contact.id == room.id).values(event_count=Contact.event_count + lines))
    db.session.commit()


def _two_rooms(app, trainee, driver):
    """Two trainees' English sale rooms, each with its audience driven here a second: (room A, room B)."""
    other = factories.user("grp2", role="trainee", level="L3").id
    (a,) = start_group_room(user(trainee), "en-group-sale", audience=6, mix=MIX, seed=3)
    (b,) = start_group_room(user(other), "en-group-sale", audience=6, mix=MIX, seed=4)
    driver.run_for(1)
    return a, b


def _take_over_in_thread(app, driver, room_id: int):
    """``driver.take_over`` of the room on a thread of its own (as the worker's control thread does): (the thread, the
    list its result or exception goes to the moment it is over)."""
    result = []

    def run() -> None:
        with app.app_context():
            try:
                result.append(driver.take_over(db.session.get(Contact, room_id)))
            except BaseException as e:  # reported by the test's assertions
                result.append(e)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run, name="take-over")
    thread.start()
    return thread, result


def _wait_for_the_lease(room_id: int, lease: int) -> None:
    """Until the take-over in its thread has taken the room's lease (its version moved on from ``lease``)."""
    deadline = time.monotonic() + 10
    while _lease(room_id) == lease and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _lease(room_id) > lease, "the take-over never took the lease"


def _tick_until_spoken(driver, room_id: int, steps: int = 90) -> bool:
    """Tick the process's rooms, the sandbox clock moved on to what is due next each time, until room ``room_id``
    records something new."""
    from clock import clock

    before = _events(room_id)
    for _ in range(steps):
        due = driver.next_due()
        clock.advance(1.0 if due is None else max(due - clock.timestamp(), 0.0) + 0.01)
        driver.tick()
        if _events(room_id) > before:
            return True
    return False


@needs_postgresql  # a row held by another connection; SQLite's one writer at a time would hold room A's writes too
def test_a_take_over_waiting_for_the_lease_does_not_stop_the_other_rooms(app, packs, trainee, driver):
    """Room B's audience is taken over while another connection holds B's lease row (a stalled driver's fenced write,
    open): the take-over waits for it. Meanwhile the process ticks on, and room A's members join and speak; once the
    row is let go, B is driven here (before: the take-over held the driver's lock through its lease wait, and room A
    was silent until it gave up)."""
    with app.app_context():
        a, b = _two_rooms(app, trainee, driver)
        _die(driver, b.id)
        stalled = db.engine.connect()
        held = stalled.begin()
        stalled.execute(text("UPDATE simulated_customers SET lease = lease WHERE contact_id = :id"), {"id": b.id})
        thread = None
        try:
            thread, result = _take_over_in_thread(app, driver, b.id)
            deadline = time.monotonic() + 5
            waiting = 0
            while not waiting and time.monotonic() < deadline:
                waiting = db.session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'"
                    )
                )
                db.session.commit()
            assert waiting, "the take-over never waited for the lease row"
            assert _tick_until_spoken(driver, a.id), "room A said nothing"
            assert not result, f"room A spoke only once the take-over was over ({result})"
            assert b.id not in driver.rooms  # not registered half-built (the lease cannot be taken yet)
        finally:
            held.rollback()
            stalled.close()
            if thread is not None:
                thread.join(10)
        assert result == [True], result
        assert b.id in driver.rooms


def test_a_take_over_replaying_a_long_recording_does_not_stop_the_other_rooms(app, packs, trainee, driver):
    """Room B's audience is taken over from a long recording (thousands of the agent's lines: seconds of replay).
    Meanwhile the process ticks on, and room A's members join and speak; B is driven here once replayed (before: the
    replay ran under the driver's lock, and room A was silent until it was over)."""
    with app.app_context():
        a, b = _two_rooms(app, trainee, driver)
        # Long enough that the replay outlasts room A's next line on a quiet machine too (3,000 lines did only on a
        # loaded one: the replay was over before A spoke).
        _long_recording(b, 20000)
        _die(driver, b.id)
        lease = _lease(b.id)
        thread, result = _take_over_in_thread(app, driver, b.id)
        try:
            _wait_for_the_lease(b.id, lease)  # it reads and replays the recording now
            assert _tick_until_spoken(driver, a.id), "room A said nothing"
            assert not result, f"room A spoke only once the take-over was over ({result})"
        finally:
            thread.join(30)
        assert result == [True], result
        assert b.id in driver.rooms


def test_an_answer_recorded_while_the_room_is_replayed_is_heard_once(app, packs, trainee, driver):
    """The agent answers everyone while room B's audience is taken over from a long recording, after the take-over
    read it: once B is driven here, every asker thanks once (the answer is queued when the room is registered; the
    log passed it over, the room being nobody's here yet)."""
    from channels.group.actions import do_reply_in_group

    from .rooms import ANSWER, room_with_askers, said

    with app.app_context():
        agent, b, asked = room_with_askers(trainee, driver)
        assert asked
        _long_recording(b)
        _die(driver, b.id)
        lease = _lease(b.id)
        thread, result = _take_over_in_thread(app, driver, b.id)
        try:
            _wait_for_the_lease(b.id, lease)
            time.sleep(0.2)  # the recording read: it is being replayed now
            _, answered = do_reply_in_group(db.session.get(Contact, b.id), agent, ANSWER)
            assert set(answered) >= asked
        finally:
            thread.join(30)
        assert result == [True], result
        driver.run_for(30)
        thanks = said(b.id, "thanks")
        assert set(thanks) >= asked and max(thanks.values()) == 1
