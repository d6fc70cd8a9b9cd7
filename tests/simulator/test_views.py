"""The simulator JSON API: roles, validation, and exercise start/stop."""

from __future__ import annotations

import pytest

from simulator.content import StaticContent

from .builders import en_late_parcel, en_pack


@pytest.fixture
def content(app):
    app.extensions["kefu_simulator"].content = StaticContent([en_pack()], [en_late_parcel()])


def _exercise(client, **kw):
    body = {
        "name": "Morning drill",
        "kind": "practice",
        "mix": {"en-test-parcel": 1},
        "rate_per_minute": 2,
        "duration_seconds": 120,
        "seed": 3,
        "lang": "en",
    }
    body.update(kw)
    return client.post("/api/exercises", json=body)


def test_trainee_starts_a_practice_customer(client, auth, make_user, content):
    """A trainee may start a simulated customer; the contact id comes back."""
    make_user("tina", role="trainee")
    auth.login("tina")
    r = client.post("/api/sim/customers", json={"scenario_id": "en-test-parcel", "seed": 1})
    assert r.status_code == 201 and isinstance(r.get_json()["contact_id"], int)


def test_start_customer_validates_input(client, auth, make_user, content):
    """Missing or unknown scenario ids get JSON errors; a grader may not start customers; anonymous gets 401."""
    assert client.post("/api/sim/customers", json={"scenario_id": "en-test-parcel"}).status_code == 401
    make_user("lena", role="lead")
    make_user("gary", role="grader")
    auth.login("gary")
    assert client.post("/api/sim/customers", json={"scenario_id": "en-test-parcel"}).status_code == 403
    auth.logout()
    auth.login("lena")
    r = client.post("/api/sim/customers", json={})
    assert r.status_code == 400 and "scenario_id" in r.get_json()["error"]
    assert client.post("/api/sim/customers", json={"scenario_id": "nope"}).status_code == 404
    assert client.post("/api/sim/customers", data="x").status_code == 400


def test_trainee_practice_limit(client, auth, make_user, content):
    """A trainee keeps at most three practice customers in conversation at once."""
    make_user("tina", role="trainee")
    auth.login("tina")
    codes = [client.post("/api/sim/customers", json={"scenario_id": "en-test-parcel"}).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 409]


def test_exercise_create_start_stop(client, auth, make_user, content):
    """A lead creates an exercise, starts it (the plan is stored), reads it, stops it; repeats are refused."""
    make_user("lena", role="lead")
    auth.login("lena")
    r = _exercise(client)
    assert r.status_code == 201
    ex = r.get_json()
    assert ex["status"] == "planned" and ex["schedule"] == []
    r = client.post(f"/api/exercises/{ex['id']}/start")
    assert r.status_code == 200 and r.get_json()["status"] == "running"
    schedule = r.get_json()["schedule"]
    assert schedule and all(sid == "en-test-parcel" for _, sid in schedule)
    assert client.get(f"/api/exercises/{ex['id']}").get_json()["schedule"] == schedule
    assert client.post(f"/api/exercises/{ex['id']}/start").status_code == 409
    r = client.post(f"/api/exercises/{ex['id']}/stop")
    assert r.status_code == 200 and r.get_json()["status"] == "stopped"
    assert client.post(f"/api/exercises/{ex['id']}/stop").status_code == 409
    assert client.get("/api/exercises/999").status_code == 404


@pytest.mark.parametrize(
    "bad",
    [
        {"name": ""},
        {"kind": "party"},
        {"mix": {}},
        {"mix": {"nope": 1}},
        {"mix": {"en-test-parcel": -1}},
        {"rate_per_minute": 0},
        {"rate_per_minute": "fast"},
        {"duration_seconds": 0},
        {"seed": "x"},
        {"lang": "fr"},
        {"group_id": 42},
    ],
)
def test_exercise_bad_input(client, auth, make_user, content, bad):
    """Each bad field gets a 400 with a JSON error."""
    make_user("lena", role="lead")
    auth.login("lena")
    r = _exercise(client, **bad)
    assert r.status_code == 400 and r.get_json()["error"]


def test_trainee_cannot_create_exercises(client, auth, make_user, content):
    """Exercises are for leads and admins."""
    make_user("tina", role="trainee")
    auth.login("tina")
    assert _exercise(client).status_code == 403
