"""A group room's simulated audience taken over from the room's recording (simulator/group_takeover.py), as when the
process driving it dies: the same customers go on - those who asked are thanked once for an answer given while
nobody drove them or whose thanks was cut off, nobody asks twice, those not yet in join - and each event is applied
once. tests/multiprocess/test_listeners.py does it with real processes and kill -9."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from channels.group.actions import do_reply_in_group
from channels.group.sessions import start_group_room
from contacts.models import Contact, ContactEvent
from extensions import db

from .conftest import user
from .rooms import ANSWER, MIX, lines, room_with_askers, said


def _die(driver, room_id: int) -> None:
    """The driving process is gone: nothing of the room's audience is left in this driver."""
    driver.rooms.pop(room_id, None)
    driver._ids.discard(room_id)
    driver._due = [d for d in driver._due if d.room_id != room_id]
    driver._inbox.clear()


def _joined(room_id: int) -> list[str]:
    db.session.expire_all()
    q = select(ContactEvent).where(ContactEvent.contact_id == room_id, ContactEvent.type == "group.member_joined")
    return [e.data["name"] for e in db.session.scalars(q)]


def test_an_answer_given_while_nobody_drove_the_audience_is_thanked_once(app, packs, trainee, driver):
    """Six askers, some in and asking; the driver dies; the agent answers everyone meanwhile. Taken over, every
    asker thanks once, nobody asks again, and the rest join (each once)."""
    with app.app_context():
        agent = user(trainee)
        (room,) = start_group_room(agent, "en-group-sale", audience=6, mix=MIX, seed=3)
        for _ in range(18):  # until someone asks
            driver.run_for(5)
            if asked := {e.data["member"] for e in lines(room.id, "question")}:
                break
        assert asked
        _die(driver, room.id)
        _, answered = do_reply_in_group(room, agent, ANSWER)
        assert set(answered) >= asked
        assert driver.take_over(db.session.get(Contact, room.id))
        driver.run_for(120)
        thanks = said(room.id, "thanks")
        assert set(thanks) >= asked and max(thanks.values()) == 1
        questions = said(room.id, "question")
        assert max(questions.values()) == 1
        names = _joined(room.id)
        assert len(names) == 6 and len(set(names)) == 6


def test_a_thanks_cut_off_by_the_drivers_death_is_posted_once(app, packs, trainee, driver):
    """The driver applied the answer (each asker's reaction recorded) and died before the thanks went out: taken
    over, each of them thanks once, and no reaction is recorded twice."""
    with app.app_context():
        agent, room, asked = room_with_askers(trainee, driver)
        assert asked
        do_reply_in_group(room, agent, ANSWER)
        driver.tick()  # applied now: the reactions recorded, the thanks due 2-8 s later
        states = [e for e in _states(room.id) if e.data.get("reaction") == "answered"]
        assert {e.data["member"] for e in states} >= asked
        assert lines(room.id, "thanks") == []
        _die(driver, room.id)
        assert driver.take_over(db.session.get(Contact, room.id))
        driver.run_for(30)
        thanks = said(room.id, "thanks")
        assert set(thanks) == {e.data["member"] for e in states} and max(thanks.values()) == 1
        again = Counter(e.data["member"] for e in _states(room.id) if e.data.get("reaction") == "answered")
        assert max(again.values()) == 1


def _states(room_id: int) -> list[ContactEvent]:
    db.session.expire_all()
    q = select(ContactEvent).where(ContactEvent.contact_id == room_id, ContactEvent.type == "customer.state")
    return list(db.session.scalars(q.order_by(ContactEvent.seq)))


def test_an_audience_whose_lease_another_process_took_records_nothing_here(app, packs, trainee, driver):
    """This process drives a room's audience, stalls, and another process takes the audience over (it holds the
    lease) while this one's owner record in Redis still names it: nobody joins, posts or leaves for the room from
    here any more, the room is let go here, and its owner record is pointed at the lease's holder."""
    from simulator.ownership import Ownership

    adopter = "host-9-adopter"
    with app.app_context():
        agent = user(trainee)
        (room,) = start_group_room(agent, "en-group-sale", audience=6, mix=MIX, seed=3)
        driver.run_for(20)
        before = db.session.scalar(select(func.count()).where(ContactEvent.contact_id == room.id))
        assert _joined(room.id), "nobody joined while this process held the lease"
        Ownership(adopter).take_lease("contact", room.id, seed=3)
        driver.run_for(120)
        after = db.session.scalar(select(func.count()).where(ContactEvent.contact_id == room.id))
        assert after == before
        assert room.id not in driver.rooms
        sim = app.extensions["kefu_simulator"]
        assert sim.ownership.record("group", room.id).get("owner") == adopter


def test_a_worker_adopting_a_rooms_audience_does_not_hold_its_simulated_customers_meanwhile(
    app, packs, trainee, driver, monkeypatch
):
    """A simulator worker told to adopt a group room's audience waits for the room's lease and replays the room's
    recording: meanwhile the worker's engine goes on with its customers - its lock is free for the engine's tick
    (before: the adoption ran under the engine's lock, and every customer of the worker waited for it)."""
    from tests.lock_probe import probing_lock

    engine = app.extensions["kefu_simulator"]
    with app.app_context():
        agent = user(trainee)
        (room,) = start_group_room(agent, "en-group-sale", audience=6, mix=MIX, seed=3)
        _die(driver, room.id)
        assert engine.ownership.record("group", room.id).get("owner") == engine.process_id  # handed to us
        replay, free = probing_lock(engine._lock, driver._replay)
        monkeypatch.setattr(driver, "_replay", replay)
        engine._on_control({"adopt": "group", "id": room.id})
        assert room.id in driver.rooms
        assert free == [True]


def test_an_audience_whose_lease_is_ours_is_driven_on_when_a_stale_record_names_another(app, packs, trainee, driver):
    """After a Redis loss a stalled process re-announced a room it still had in memory: the room's owner record names
    it, but the audience's lease is this process's. The agent answers meanwhile, and the log hands the answer to the
    process the record names (never heard here). This process keeps driving the audience, claims the record back and
    catches up on the recording: every asker thanks once (before: the room was let go on the record's word - nobody
    drove its audience)."""
    stalled = "host-9-stalled"
    engine = app.extensions["kefu_simulator"]
    with app.app_context():
        agent, room, asked = room_with_askers(trainee, driver)
        assert asked
        engine.ownership.client.hset(engine.ownership.key("group", room.id), "owner", stalled)  # its re-announce
        do_reply_in_group(room, agent, ANSWER)
        driver._inbox.clear()  # the log handed it to the stalled process, which dropped it
        driver._lease_check_at = 0.0  # the once-a-second check is due
        assert driver.check_leases() == []
        assert room.id in driver.rooms
        assert engine.ownership.record("group", room.id).get("owner") == engine.process_id
        driver.run_for(30)
        thanks = said(room.id, "thanks")
        assert set(thanks) >= asked and max(thanks.values()) == 1
        assert room.id in driver.rooms


def test_an_audience_adopted_elsewhere_is_let_go_within_a_second(app, packs, trainee, driver):
    """Another process took the room's audience over (it took the lease, then named itself in the owner record):
    within a second this process lets the room go, recording nothing more for it, and leaves the record alone."""
    from simulator.ownership import Ownership

    adopter = "host-9-adopter"
    engine = app.extensions["kefu_simulator"]
    with app.app_context():
        agent = user(trainee)
        (room,) = start_group_room(agent, "en-group-sale", audience=6, mix=MIX, seed=3)
        driver.run_for(20)
        Ownership(adopter).take_lease("contact", room.id, seed=3)
        assert engine.ownership.take("group", room.id, engine.process_id, to=adopter)
        driver._lease_check_at = 0.0  # the once-a-second check is due
        assert driver.check_leases() == [room.id]
        assert room.id not in driver.rooms
        assert engine.ownership.record("group", room.id).get("owner") == adopter
