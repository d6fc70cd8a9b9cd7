"""The console's one-to-many launcher: a lead starts a livestream (and, once group chat is on, group rooms) for
their group with an audience size and mix; other groups, trainees and bad input are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contacts.models import Contact, ContactEvent
from extensions import db
from tests import factories


def _login(app, username):
    c = app.test_client()
    assert c.post("/login", data={"username": username, "password": "pass1234"}).status_code == 302
    return c


@pytest.fixture
def people(app):
    with app.app_context():
        la = factories.user("leadA", role="lead")
        lb = factories.user("leadB", role="lead")
        ga = factories.group("A", la)
        t1 = factories.user("t1", level="L3", group=ga)
        t2 = factories.user("t2", level="L3", group=factories.group("B", lb))
        return {"ga": ga.id, "t1": t1.id, "t2": t2.id}


def test_lead_starts_a_livestream_for_a_trainee_of_their_group(app, people):
    """The launcher starts a livestream presented by the lead's trainee with the chosen audience; the page
    lists it as running with a link to watch it."""
    http = _login(app, "leadA")
    page = http.get("/floor/sessions").get_data(as_text=True)
    assert 'id="live-form"' in page
    res = http.post(
        "/api/floor/sessions/livestream",
        json={"presenter_id": people["t1"], "group_id": people["ga"], "title": "新品答疑", "lang": "zh_CN",
              "audience_size": 35, "comment_rate": 12},
    )  # fmt: skip
    assert res.status_code == 201, res.get_json()
    sid = res.get_json()["id"]
    assert res.get_json()["url"] == f"/livestream/{sid}/watch"
    with app.app_context():
        c = db.session.get(Contact, sid)
        assert c.channel == "livestream" and c.agent_id == people["t1"] and c.subject == "新品答疑"
        started = db.session.scalar(
            select(ContactEvent).where(ContactEvent.contact_id == sid, ContactEvent.type == "livestream.started")
        )
        assert started.data["audience_size"] == 35 and started.data["comment_rate"] == 12
        assert started.data["group_id"] == people["ga"] and started.actor == "lead"
    page = http.get("/floor/sessions").get_data(as_text=True)
    assert f'data-contact-id="{sid}"' in page and f"/livestream/{sid}/watch" in page


def test_livestream_launcher_refusals(app, people):
    """Another group's trainee, bad numbers and a non-JSON body get clear 400s; trainees get 403."""
    http = _login(app, "leadA")
    res = http.post("/api/floor/sessions/livestream", json={"presenter_id": people["t2"], "title": "x"})
    assert res.status_code == 400 and "your group" in res.get_json()["error"]
    res = http.post(
        "/api/floor/sessions/livestream", json={"presenter_id": people["t1"], "title": "x", "audience_size": "many"}
    )
    assert res.status_code == 400 and "numbers" in res.get_json()["error"]
    res = http.post("/api/floor/sessions/livestream", json={"presenter_id": people["t1"], "title": ""})
    assert res.status_code == 400 and "title" in res.get_json()["error"]
    res = http.post("/api/floor/sessions/livestream", data="nonsense", content_type="text/plain")
    assert res.status_code == 400 and "JSON object" in res.get_json()["error"]
    trainee = _login(app, "t1")
    assert trainee.get("/floor/sessions").status_code == 403
    assert trainee.post("/api/floor/sessions/livestream", json={"title": "x"}).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Contact).where(Contact.channel == "livestream")) is None


def test_launcher_needs_csrf_when_it_is_on(app, people):
    """With CSRF checks on, a launcher request without the token is refused and starts nothing."""
    http = _login(app, "leadA")  # logged in with checks off (the login form test lives in accounts)
    app.config["WTF_CSRF_ENABLED"] = True
    res = http.post("/api/floor/sessions/livestream", json={"presenter_id": people["t1"], "title": "x"})
    assert res.status_code == 400 and "CSRF" in res.get_json()["error"]


@pytest.fixture
def packs(app):
    from pathlib import Path

    from scenarios.loader import load_pack_into_db

    with app.app_context():
        for lang in ("zh_CN", "en"):
            load_pack_into_db(Path(app.config["CONTENT_DIR"]) / lang)


def test_lead_starts_group_rooms_for_their_group_with_audience_and_mix(app, people, packs):
    """One room per trainee of the group, each with the chosen audience size and mix (per cent -> shares);
    the launcher page offers the group's scenarios and lists the room as running."""
    http = _login(app, "leadA")
    page = http.get("/floor/sessions?lang=en").get_data(as_text=True)
    assert 'id="group-form"' in page and "en-group-sale" in page
    res = http.post(
        "/api/floor/sessions/group",
        json={"scenario_id": "en-group-sale", "target": f"group:{people['ga']}", "audience": 5,
              "mix": {"off_topic": 20, "rude": 10, "individual": 10}, "seed": 3},
    )  # fmt: skip
    assert res.status_code == 201, res.get_json()
    (room,) = res.get_json()["rooms"]
    assert room["agent_id"] == people["t1"] and room["url"] == f"/group/rooms/{room['id']}"
    with app.app_context():
        opened = db.session.scalar(
            select(ContactEvent).where(ContactEvent.contact_id == room["id"], ContactEvent.type == "group.opened")
        )
        assert opened.data["audience"] == 5 and opened.actor == "lead"
        assert opened.data["mix"]["off_topic"] == pytest.approx(0.2) and opened.data["mix"]["rude"] == pytest.approx(
            0.1
        )
    page = http.get("/floor/sessions").get_data(as_text=True)
    assert f'data-contact-id="{room["id"]}"' in page


def test_group_room_launcher_refusals(app, people, packs):
    """Another lead's group, a bad mix, a bad target and an unknown scenario are refused with a clear error;
    no room is opened."""
    http = _login(app, "leadB")
    res = http.post(
        "/api/floor/sessions/group", json={"scenario_id": "en-group-sale", "target": f"group:{people['ga']}"}
    )
    assert res.status_code == 400 and "do not lead this group" in res.get_json()["error"]
    http = _login(app, "leadA")
    bad = [
        ({"target": f"group:{people['ga']}", "mix": {"rude": 150}}, "0 to 100"),
        ({"target": f"group:{people['ga']}", "mix": {"angry": 10}}, "mix takes percentages"),
        ({"target": f"group:{people['ga']}", "mix": {"rude": "lots"}}, "percentage"),
        ({"target": "everyone"}, "choose a group or a trainee"),
        ({"target": f"user:{people['t2']}"}, "may not start a room"),
        ({"target": f"group:{people['ga']}", "scenario_id": "nope"}, ""),
    ]
    for body, message in bad:
        res = http.post("/api/floor/sessions/group", json={"scenario_id": "en-group-sale", **body})
        assert res.status_code == 400 and message in res.get_json()["error"], (body, res.get_json())
    with app.app_context():
        assert db.session.scalar(select(Contact).where(Contact.channel == "group")) is None
