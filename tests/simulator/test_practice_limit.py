"""The trainee's limit of practice customers counts those other processes drive (issue 18): open simulated
contacts reserved for the trainee, from the database, not only this process's own customers. An exercise's
``live_customers`` counts its open contacts the same way."""

from __future__ import annotations

import pytest

from channels.chat.customer_side import start_chat
from extensions import db
from simulator.models import Exercise
from simulator.views import TRAINEE_LIVE_LIMIT

from .. import factories
from ..grading.builders import PACKS

pytestmark = pytest.mark.app_config(GRADING_AUTO=False)


@pytest.fixture
def trainee(app):
    from scenarios.loader import load_pack_into_db

    with app.app_context():
        load_pack_into_db(PACKS / "en")
        uid = factories.user("pr1", role="trainee", level="L4").id
        db.session.commit()
        return uid


def _driven_elsewhere(uid: int | None = None, exercise_id: int | None = None) -> int:
    """A simulated chat this process does not drive (another process's customer)."""
    return start_chat(
        lang="en",
        queue="chat.general",
        customer_name="Elsewhere",
        scenario_id="en-delivery-status",
        simulated=True,
        reserved_agent_id=uid,
        exercise_id=exercise_id,
    ).id


def test_practice_customers_of_other_processes_count_towards_the_limit(app, client, auth, trainee):
    """Three open practice chats reserved for the trainee, driven by no customer of this process: a fourth is
    refused here (409); once one of them has ended, a new one may start."""
    from channels.chat.customer_side import customer_leave
    from contacts.models import Contact

    with app.app_context():
        ids = [_driven_elsewhere(trainee) for _ in range(TRAINEE_LIVE_LIMIT)]
        assert app.extensions["kefu_simulator"].live_count(started_by=trainee) == 0
    auth.login("pr1")
    r = client.post("/api/sim/customers", json={"scenario_id": "en-delivery-status", "seed": 1})
    assert r.status_code == 409, r.get_json()
    with app.app_context():
        customer_leave(db.session.get(Contact, ids[0]), reason="test_done")
    r = client.post("/api/sim/customers", json={"scenario_id": "en-delivery-status", "seed": 1})
    assert r.status_code == 201, r.get_json()


def test_an_exercises_live_customers_count_its_open_contacts(app, client, auth, trainee):
    """An exercise's two open contacts are driven by another process: its figure says 2, not 0."""
    with app.app_context():
        lead = factories.user("lead9", role="lead")
        ex = Exercise(name="x", kind="practice", lang="en", created_by=lead.id, seed=1, mix={}, schedule=[])
        db.session.add(ex)
        db.session.commit()
        ex_id = ex.id
        for _ in range(2):
            _driven_elsewhere(exercise_id=ex_id)
    auth.login("lead9")
    r = client.get(f"/api/exercises/{ex_id}")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["live_customers"] == 2
