"""An exercise handed to a simulator worker after the process running its arrivals died (simulator/recovery.py,
simulator/workers.py): the worker starts each arrival the dead driver had not started (late, if it is overdue),
and none it had."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from contacts.models import Contact
from contacts.stream import get_event_log
from extensions import db, redis_store

from .builders import PARCEL, parcel_engine, running_drill, started_arrival


@pytest.fixture
def engine(app):
    return parcel_engine(app)


def test_an_exercise_handed_to_a_worker_after_its_driver_died_starts_each_arrival_once(app, engine):
    """The process running a drill's arrivals died after starting the first (its customer's seed recorded) and
    before the second was due; this process hands the drill to a live simulator worker (and then plays that worker,
    reading the hand-over from its inbox). The worker does not start the first again, starts the second at once
    (late rather than never) and the third when due. (Before, the hand-over queued the schedule from its start, so
    every past arrival was started again at once: seven duplicate email customers in a bench/fault_injection.py
    --short run, four seconds after the simulator worker's kill; and a process adopting the drill itself skipped
    every arrival due by then, the unstarted second one too: two chat customers never came in a run.)"""
    worker, dead = "host-2-simworker", "host-3-deadbeef"
    with app.app_context():
        engine.liveness.client.set(engine.liveness.proc_key(worker), 1, ex=60)  # a live simulator worker
        redis_store.client.sadd(redis_store.key("sim", "workers"), worker)
        redis_store.client.hset(redis_store.key("sim", "load"), worker, 0)
        ex = running_drill([[10, PARCEL], [598, PARCEL], [605, PARCEL]], 660)  # due long ago, 2 s ago, in 5 s
        started_arrival(ex)  # the dead driver's first arrival
        engine.ownership.claim("exercise", ex.id, owner=dead)
        assert ex.id in engine.recover()["exercises"]
        assert engine.ownership.record("exercise", ex.id)["owner"] == worker
        inbox = [
            json.loads(f["x"])
            for _, f in redis_store.client.xrange(get_event_log(app).key("inbox", "simulator", worker))
        ]
        (message,) = [m for m in inbox if m.get("adopt") == "exercise"]  # (the first customer is handed over too)
        engine.ownership.claim("exercise", ex.id, owner=engine.process_id)  # this process plays the worker
        engine._on_control(message)
        engine.run_for(1, step=0.5)
        started = lambda: db.session.scalars(select(Contact).where(Contact.exercise_id == ex.id)).all()  # noqa: E731
        assert len(started()) == 2  # the first not again; the second, missed while nobody ran the drill, now
        engine.run_for(10, step=0.5)
        db.session.expire_all()
        assert len(started()) == 3  # the third when due


def test_a_recovery_pass_over_what_live_processes_drive_leaves_the_workers_load_as_it_was(app, engine):
    """A web process's recovery pass, a simulator worker alive, looks at an exercise and a customer that another live
    process drives: neither is adopted nor handed over, and the worker's load is as it was (before: the worker was
    picked, its load counted up, for each of them, and left counted until its next beat)."""
    worker, other = "host-2-simworker", "host-4-live0000"
    with app.app_context():
        for process in (worker, other):
            engine.liveness.client.set(engine.liveness.proc_key(process), 1, ex=60)  # alive
        redis_store.client.sadd(redis_store.key("sim", "workers"), worker)
        redis_store.client.hset(redis_store.key("sim", "load"), worker, 0)
        ex = running_drill([[10, PARCEL], [598, PARCEL]], 660)
        customer = started_arrival(ex)
        engine.ownership.claim("exercise", ex.id, owner=other)
        engine.ownership.claim("contact", customer.id, owner=other)
        done = engine.recover()
        assert done["exercises"] == [] and done["handed"] == [] and done["taken_over"] == []
        assert redis_store.client.hget(redis_store.key("sim", "load"), worker) == "0"
