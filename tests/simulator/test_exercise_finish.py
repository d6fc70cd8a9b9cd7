"""An exercise is finished only when all its customers and arrivals are done, whoever drives them (issue 18): the
process running its arrivals is not always the one driving its customers (a customer handed to a simulator worker,
or taken over by another process after its driver died)."""

from __future__ import annotations

import pytest

from channels.chat.customer_side import customer_leave
from contacts.models import Contact
from extensions import db
from simulator.models import Exercise

from .builders import PARCEL, parcel_engine, running_drill, started_arrival


@pytest.fixture
def engine(app):
    return parcel_engine(app)


def test_an_adopted_exercise_is_not_finished_while_another_process_drives_its_customers(app, engine):
    """The exercise's driver died after its last arrival; this process adopts the exercise (no arrival left) while
    its customer is driven by another live process (a simulator worker took it over). The exercise stays running
    while that customer is in conversation (it was marked finished at once), and finishes once it is over."""
    liveness = engine.liveness
    other, dead = "host-2-simworker", "host-3-deadbeef"
    with app.app_context():
        liveness.client.set(liveness.proc_key(other), 1, ex=60)  # a live simulator worker (its heartbeat)
        ex = running_drill([[10, PARCEL]], 60)  # arrived long ago
        there = started_arrival(ex)  # the exercise's arrival (its only one)
        engine.ownership.claim("contact", there.id, owner=other, seed=5, exercise_id=ex.id)
        engine.ownership.claim("exercise", ex.id, owner=dead)

        done = engine.recover()
        assert ex.id in done["exercises"] and there.id not in done["taken_over"]
        engine.run_for(10, step=1.0)
        db.session.expire_all()
        assert db.session.get(Exercise, ex.id).status == "running"

        customer_leave(db.session.get(Contact, there.id), reason="satisfied")  # the other process's customer is done
        engine.run_for(2, step=1.0)
        db.session.expire_all()
        finished = db.session.get(Exercise, ex.id)
        assert finished.status == "finished" and finished.ended_at is not None
