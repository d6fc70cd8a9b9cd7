"""The lease fence (simulator/ownership.py, issue 18): a process whose customer or exercise another process took
over while it was taken for dead records nothing more for it, whatever its owner record in Redis says; a process
taking a customer over goes on from what the stale one recorded before the take-over."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from clock import clock
from contacts.actions import do_post_message
from contacts.models import Contact, ContactEvent
from extensions import db
from routing.actions import do_set_agent_state
from simulator.models import Exercise
from simulator.ownership import LeaseLost, Ownership

from .. import factories
from ..markers import needs_postgresql
from .builders import PARCEL, lease_fails_once, parcel_engine

ADOPTER = "host-9-adopter"


@pytest.fixture
def engine(app):
    return parcel_engine(app)


def _events(cid: int, type_: str, actor: str | None = None) -> list[ContactEvent]:
    db.session.expire_all()
    q = select(ContactEvent).where(ContactEvent.contact_id == cid, ContactEvent.type == type_)
    if actor is not None:
        q = q.where(ContactEvent.actor == actor)
    return list(db.session.scalars(q.order_by(ContactEvent.seq)))


def _started(app, engine) -> tuple[int, int]:
    """A customer driven here that has said its opening, and the agent it is assigned to."""
    agent = factories.user("agent1", role="trainee", level="L4")
    do_set_agent_state(agent, "available")
    cid = engine.start_customer(PARCEL, seed=4)
    engine.run_until_idle(60)
    assert len(_events(cid, "message", "customer")) == 1
    return cid, agent.id


def test_a_customer_whose_lease_another_process_took_records_nothing_here(app, engine):
    """Another process took the customer's lease while its owner record in Redis still names this one (as after a
    Redis loss this process re-announced it): the agent's next line is read here, but neither the customer's mind
    nor a line of its answer is recorded; the customer is let go and its owner record names the lease's holder."""
    with app.app_context():
        cid, agent_id = _started(app, engine)
        Ownership(ADOPTER).take_lease("contact", cid)
        assert engine.ownership.record("contact", cid)["owner"] == engine.process_id
        do_post_message(db.session.get(Contact, cid), "agent", "Your order number, please?", actor_id=agent_id)
        engine.run_until_idle(60)
        asked = _events(cid, "message", "agent")[-1].seq
        assert len(_events(cid, "message", "customer")) == 1
        assert not [e for e in _events(cid, "customer.state") if e.seq > asked]
        assert cid not in engine.live and not engine._actions
        assert engine.ownership.record("contact", cid)["owner"] == ADOPTER


def test_a_fenced_write_is_all_or_nothing(app, engine):
    """Under a lease that is no longer this process's, nothing of the block is written; under its own, all of it."""
    from contacts.events import append_event

    with app.app_context():
        cid, _ = _started(app, engine)
        lease = engine.live[cid].lease
        before = len(_events(cid, "note"))
        with engine.ownership.fenced("contact", cid, lease):
            append_event(cid, "note", "system", text="ours")
        Ownership(ADOPTER).take_lease("contact", cid)
        with pytest.raises(LeaseLost), engine.ownership.fenced("contact", cid, lease):
            append_event(cid, "note", "system", text="stale")
        assert [e.text for e in _events(cid, "note")][before:] == ["ours"]
        assert not engine.ownership.holds("contact", cid, lease)


def test_a_take_over_says_an_answer_whose_mind_was_recorded_without_recording_it_again(app, engine):
    """The driver recorded the customer's mind about the agent's line, then stalled before saying its answer, and
    another process took the customer over: the answer is said once, and the mind is not recorded a second time."""
    with app.app_context():
        cid, agent_id = _started(app, engine)
        do_post_message(db.session.get(Contact, cid), "agent", "Your order number, please?", actor_id=agent_id)
        engine.tick()  # the mind is recorded, the answer scheduled
        asked = _events(cid, "message", "agent")[-1].seq
        assert [e.data.get("answered_seq") for e in _events(cid, "customer.state")][-1] == asked
        engine._let_go(cid)  # the stalled driver; this engine plays the one that takes the customer over
        assert engine.ownership.take("contact", cid, engine.process_id, to=engine.process_id)
        assert engine._take_over_chat(db.session.get(Contact, cid), engine.ownership.record("contact", cid))
        engine.run_until_idle(60)
        answer = [e.text for e in _events(cid, "message", "customer") if e.seq > asked]
        assert answer and len(answer) == len(set(answer))
        assert len([e for e in _events(cid, "customer.state") if e.seq > asked]) == 1


def test_an_exercise_adopted_elsewhere_opens_no_arrival_here(app, engine):
    """Another process took the lease of the exercise whose arrivals this one runs (it adopted them while this one
    was taken for dead): the next arrival is not opened here, nor is the exercise finished here."""
    with app.app_context():
        ex = Exercise(name="drill", mix={PARCEL: 1}, rate_per_minute=6, duration_seconds=60, seed=2)
        db.session.add(ex)
        db.session.commit()
        engine.start_exercise(ex)
        assert ex.schedule, "no arrival planned"
        Ownership(ADOPTER).take_lease("exercise", ex.id)
        engine.run_for(float(ex.schedule[-1][0]) + 5, step=1.0)
        assert not db.session.scalars(select(Contact).where(Contact.exercise_id == ex.id)).all()
        assert ex.id not in engine._running_exercises
        db.session.expire_all()
        assert db.session.get(Exercise, ex.id).status == "running"
        assert clock.timestamp() > ex.started_at


def test_an_exercise_handed_over_late_does_not_start_again_an_arrival_its_stalled_driver_started(app, engine):
    """Recovery hands a drill to a worker at ``after``; the worker takes the lease only when the message arrives. An
    arrival that came due in between was started by the old driver, which was only stalled and still held the lease:
    the worker does not start it a second time (before, only the arrivals due by ``after`` were skipped)."""
    from channels.chat.customer_side import start_chat
    from simulator.seeds import do_record_seed

    with app.app_context():
        now = clock.timestamp()
        ex = Exercise(
            name="drill",
            mix={PARCEL: 1},
            rate_per_minute=1,
            duration_seconds=660,
            seed=2,
            status="running",
            started_at=now - 600,
            schedule=[[10, PARCEL], [598, PARCEL]],  # due long ago, and 2 s ago: after the hand-over below
        )
        db.session.add(ex)
        db.session.commit()
        for i in (0, 1):  # the old driver started both, the second after recovery handed the drill over
            contact = start_chat(
                lang="en",
                queue="chat.general",
                customer_name="A",
                simulated=True,
                exercise_id=ex.id,
                scenario_id=PARCEL,
            )
            do_record_seed(contact.id, ex.seed * 100_003 + i, exercise_id=ex.id)
        db.session.commit()
        engine._queue_arrivals(ex, after=now - 5)  # the hand-over's recovery time, before the second was due
        engine.run_for(2, step=0.5)
        db.session.expire_all()
        assert len(db.session.scalars(select(Contact).where(Contact.exercise_id == ex.id)).all()) == 2


@needs_postgresql
def test_taking_a_lease_held_by_a_stalled_write_gives_up_within_its_lock_wait(app):
    """The old driver stopped (SIGSTOP) in the middle of a fenced write: its transaction holds the exercise's row.
    Taking the lease gives up within about LOCK_WAIT (LeaseBusy, nothing changed) instead of waiting until the old
    driver resumes (before: blocked for as long as the row was held), and is taken once the row is free."""
    import threading
    import time

    from sqlalchemy import text

    from simulator.ownership import LeaseBusy

    with app.app_context():
        ex = Exercise(name="drill", mix={PARCEL: 1}, rate_per_minute=1, duration_seconds=60, seed=2)
        db.session.add(ex)
        db.session.commit()
        first = Ownership("host-1-stalled").take_lease("exercise", ex.id)
        stalled = db.engine.connect()
        held = stalled.begin()
        stalled.execute(text("UPDATE exercises SET lease = lease WHERE id = :id"), {"id": ex.id})  # mid write
        release = threading.Timer(10, held.rollback)  # the old driver resumes at last (bounds the test on failure)
        release.start()
        try:
            began = time.monotonic()
            with pytest.raises(LeaseBusy):
                Ownership(ADOPTER).take_lease("exercise", ex.id)
            assert time.monotonic() - began < 3
            assert db.session.get(Exercise, ex.id).lease == first
        finally:
            release.cancel()
            if held.is_active:
                held.rollback()
            stalled.close()
        assert Ownership(ADOPTER).take_lease("exercise", ex.id) == first + 1


def test_a_take_over_whose_lease_is_busy_is_retried_on_a_later_tick(app, engine, monkeypatch):
    """Recovery adopts a dead process's customer, but its lease is held by a stalled driver's open write
    (LeaseBusy): the customer is neither ended nor lost - its owner record names this process, so recovery runs
    again on a later tick and takes it over then."""
    from simulator.ownership import LeaseBusy

    dead = "host-3-deadbeef"
    with app.app_context():
        cid, _ = _started(app, engine)
        engine._let_go(cid)  # driven by the dead process, not this one
        engine.ownership.claim("contact", cid, owner=dead, seed=4)
        busy = lease_fails_once(monkeypatch, engine.ownership, LeaseBusy("held"))
        assert cid not in engine.recover()["taken_over"] and busy == [cid]
        db.session.expire_all()
        assert db.session.get(Contact, cid).status in ("queued", "active") and cid not in engine.live
        assert engine.ownership.record("contact", cid)["owner"] == engine.process_id
        assert engine._recover_at is not None  # recovery again on a later tick
        assert cid in engine.recover()["taken_over"] and cid in engine.live


def test_a_customer_that_cannot_be_rebuilt_does_not_stop_the_recovery_of_the_others(app, engine):
    """Two customers of a dead process are adopted; one's owner record carries a seed the database cannot hold (a
    corrupted record), so taking it over raises. The other is taken over all the same; the failed one is tried
    again on later ticks and, failing each time, ended as a customer that cannot be taken over (before: the error
    escaped ``recover``, whatever came after it was not adopted, and each later recovery stopped at it again)."""
    from channels.chat.customer_side import start_chat

    dead = "host-3-deadbeef"
    with app.app_context():
        cid, _ = _started(app, engine)
        engine._let_go(cid)  # driven by the dead process, not this one
        engine.ownership.claim("contact", cid, owner=dead, seed=4)
        broken = start_chat(lang="en", queue="chat.general", customer_name="B", simulated=True, scenario_id=PARCEL)
        engine.ownership.claim("contact", broken.id, owner=dead, seed=10**30)
        done = engine.recover()
        assert cid in done["taken_over"] and cid in engine.live and broken.id not in done["ended"]
        assert engine._recover_at is not None  # the failed one: again on a later tick
        assert broken.id not in engine.recover()["ended"]
        assert broken.id in engine.recover()["ended"]  # its third failure: it cannot be rebuilt
        db.session.expire_all()
        assert db.session.get(Contact, cid).status in ("queued", "active")


def test_an_adoption_that_fails_is_tried_again_by_recovery(app, engine):
    """A worker is told to adopt a customer (its owner record names this process) whose take-over fails - its
    record's seed cannot be stored. The failure does not lose the customer: recovery runs again on a later tick,
    and there the customer, which cannot be rebuilt, is in the end ended as recovery ends such a one (before: the
    error went up to the event log's consumer, the adopt message was logged as failed, and the customer was left to
    nobody, its record naming a live process)."""
    from channels.chat.customer_side import start_chat

    with app.app_context():
        contact = start_chat(lang="en", queue="chat.general", customer_name="B", simulated=True, scenario_id=PARCEL)
        engine.ownership.claim("contact", contact.id, seed=10**30)  # handed to this process
        engine._on_control({"adopt": "contact", "id": contact.id})
        assert contact.id not in engine.live
        assert engine._recover_at is not None  # recovery again on a later tick
        ended = [contact.id in engine.recover()["ended"] for _ in range(3)]
        assert ended == [False, False, True]


@needs_postgresql
def test_an_exercise_handed_over_while_its_lease_is_busy_is_adopted_on_a_later_tick(app, engine):
    """A worker is told to adopt a running drill (its owner record names this process) while the drill's row is
    held by its old driver's open write (stopped in the middle of it): the adopt message gives up within the lock
    wait instead of holding the engine's lock, and recovery runs again on a later tick, which adopts the drill once
    the row is free (its arrivals queued here, under a lease of this process's)."""
    import threading

    from sqlalchemy import text

    from .builders import running_drill

    with app.app_context():
        ex = running_drill([[900, PARCEL]], 1200)
        Ownership("host-1-stalled").take_lease("exercise", ex.id)
        engine.ownership.claim("exercise", ex.id)  # handed to this process
        stalled = db.engine.connect()
        held = stalled.begin()
        stalled.execute(text("UPDATE exercises SET lease = lease WHERE id = :id"), {"id": ex.id})
        release = threading.Timer(10, held.rollback)
        release.start()
        try:
            engine._on_control({"adopt": "exercise", "id": ex.id})
            assert ex.id not in engine._running_exercises
            assert engine._recover_at is not None  # recovery again on a later tick
        finally:
            release.cancel()
            if held.is_active:
                held.rollback()
            stalled.close()
        assert ex.id in engine.recover()["exercises"] and ex.id in engine._running_exercises
        db.session.expire_all()
        assert db.session.get(Exercise, ex.id).driver == engine.process_id


def test_letting_a_customer_go_leaves_a_record_another_process_took_meanwhile(app, engine, monkeypatch):
    """This process lets a customer go (done, say) just as another process takes it over (this one was taken for
    dead): the other's owner record, written between this process's check that the record is its own and its delete,
    stays (before: deleted - the customer ran with no record, its events passed over by the log and a take-over pass
    free to start a second driver)."""
    from extensions import redis_store

    with app.app_context():
        cid, _ = _started(app, engine)
        key = engine.ownership.key("contact", cid)
        client = redis_store.client
        real_hget, real_eval, real_evalsha = client.hget, client.eval, client.evalsha

        def hget(name, field):  # the check, then the other process's take-over just after it
            value = real_hget(name, field)
            if name == key:
                client.hset(key, "owner", ADOPTER)
            return value

        def after(real):  # a check-and-delete in one step: the take-over can only come after it
            def run(script, numkeys, *args):
                value = real(script, numkeys, *args)
                if key in args:
                    client.hset(key, "owner", ADOPTER)
                return value

            return run

        monkeypatch.setattr(client, "hget", hget)
        monkeypatch.setattr(client, "eval", after(real_eval))
        monkeypatch.setattr(client, "evalsha", after(real_evalsha))
        engine._forget(engine.live[cid])
        monkeypatch.undo()
        assert client.hget(key, "owner") == ADOPTER
        assert cid not in engine.live
