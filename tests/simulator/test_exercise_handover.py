"""An exercise handed to a simulator worker after the process running its arrivals died (simulator/recovery.py,
simulator/workers.py): the worker resumes the arrivals due from the hand-over on; the dead driver's, already
started, are not started again."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from clock import clock
from contacts.models import Contact
from contacts.stream import get_event_log
from extensions import db, redis_store
from simulator.content import StaticContent
from simulator.models import Exercise

from .builders import en_late_parcel, en_pack

PARCEL = "en-test-parcel"


@pytest.fixture
def engine(app):
    eng = app.extensions["kefu_simulator"]
    eng.content = StaticContent([en_pack()], [en_late_parcel(type="rational", patience=90)], lang_of={PARCEL: "en"})
    return eng


def test_an_exercise_handed_to_a_worker_after_its_driver_died_starts_no_arrival_twice(app, engine):
    """The process running a drill's arrivals died after starting the first; this process hands the drill to a
    live simulator worker (and then plays that worker, reading the hand-over from its inbox). The worker starts the
    second arrival when due, not the first again. (Before, the hand-over queued the schedule from its start, so
    every past arrival was started again at once: seven duplicate email customers in a bench/fault_injection.py
    --short run, four seconds after the simulator worker's kill.)"""
    worker, dead = "host-2-simworker", "host-3-deadbeef"
    with app.app_context():
        engine.liveness.client.set(engine.liveness.proc_key(worker), 1, ex=60)  # a live simulator worker
        redis_store.client.sadd(redis_store.key("sim", "workers"), worker)
        redis_store.client.hset(redis_store.key("sim", "load"), worker, 0)
        ex = Exercise(
            name="drill",
            mix={PARCEL: 1},
            rate_per_minute=1,
            duration_seconds=660,
            seed=2,
            status="running",
            started_at=clock.timestamp() - 600,
            schedule=[[10, PARCEL], [605, PARCEL]],  # the first started by the dead driver long ago
        )
        db.session.add(ex)
        db.session.commit()
        engine.ownership.claim("exercise", ex.id, owner=dead)
        assert ex.id in engine.recover()["exercises"]
        assert engine.ownership.record("exercise", ex.id)["owner"] == worker
        ((_, fields),) = redis_store.client.xrange(get_event_log(app).key("inbox", "simulator", worker))
        engine.ownership.claim("exercise", ex.id, owner=engine.process_id)  # this process plays the worker
        engine._on_control(json.loads(fields["x"]))
        engine.run_for(1, step=0.5)
        started = lambda: db.session.scalars(select(Contact).where(Contact.exercise_id == ex.id)).all()  # noqa: E731
        assert started() == []  # the first arrival is not started again
        engine.run_for(10, step=0.5)
        db.session.expire_all()
        assert len(started()) == 1  # the second, when due
