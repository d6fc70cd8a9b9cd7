"""The lead's floor: their groups only; watching a contact outside them is refused."""

from __future__ import annotations

from accounts.models import User
from contacts.actions import do_create_contact
from extensions import db, socketio
from routing.actions import do_set_agent_state
from tests import factories


def _login(app, username):
    c = app.test_client()
    assert c.post("/login", data={"username": username, "password": "pass1234"}).status_code == 302
    return c


def test_lead_sees_own_group_and_cannot_watch_others(app):
    """A lead sees their trainees on the floor, may watch their contacts, and is refused another group's."""
    with app.app_context():
        lead = factories.user("leadA", role="lead")
        other_lead = factories.user("leadB", role="lead")
        ga = factories.group("A", lead)
        gb = factories.group("B", other_lead)
        mine = factories.user("mine", level="L4", group=ga)
        theirs = factories.user("theirs", level="L4", group=gb)
        do_set_agent_state(db.session.get(User, theirs.id), "available")
        c_theirs = do_create_contact("chat", "chat.general", customer_name="x").id
        do_set_agent_state(db.session.get(User, mine.id), "available")
        c_mine = do_create_contact("chat", "chat.general", customer_name="y").id

    http = _login(app, "leadA")
    snap = http.get("/api/floor").get_json()
    names = {a["name"] for a in snap["agents"]}
    assert "mine" in names and "theirs" not in names
    assert {c["id"] for c in snap["contacts"]} == {c_mine}

    fl = socketio.test_client(app, namespace="/floor", flask_test_client=http)
    assert fl.emit("watch", {"contact_id": c_mine}, namespace="/floor", callback=True)["ok"]
    res = fl.emit("watch", {"contact_id": c_theirs}, namespace="/floor", callback=True)
    assert not res["ok"] and "outside your groups" in res["error"]
    assert http.get(f"/contacts/{c_theirs}").status_code == 403


def test_floor_refuses_trainees(app):
    """Trainees get 403 on the floor page and cannot open the /floor socket."""
    with app.app_context():
        factories.user("tt", level="L5")
    http = _login(app, "tt")
    assert http.get("/floor").status_code == 403
    fl = socketio.test_client(app, namespace="/floor", flask_test_client=http)
    assert not fl.is_connected("/floor")


def test_exercises_page_lists_and_refuses_trainees(app):
    """Leads open the exercises page and see the exercise they created; trainees are refused."""
    from simulator.models import Exercise

    with app.app_context():
        lead = factories.user("leadX", role="lead")
        factories.user("tx", level="L4")
        db.session.add(Exercise(name="早班演练", kind="practice", mix={"zh-x": 1.0}, seed=7, created_by=lead.id))
        db.session.commit()
    http = _login(app, "leadX")
    page = http.get("/floor/exercises").get_data(as_text=True)
    assert "早班演练" in page and 'id="exercise-form"' in page
    assert _login(app, "tx").get("/floor/exercises").status_code == 403
