"""Floor alerts: top anger, crisis, SLA breaches; pushed live to the right leads only; acknowledged and cleared."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from accounts.models import User
from clock import clock
from console.alerts import list_alerts, scan
from contacts.actions import do_create_contact, do_post_message
from contacts.events import append_event, publish_contact_event
from contacts.models import Contact, ContactEvent
from extensions import db, socketio
from routing.actions import do_set_agent_state
from tests import factories


def _login(app, username):
    c = app.test_client()
    assert c.post("/login", data={"username": username, "password": "pass1234"}).status_code == 302
    return c


def _floor(app, username):
    sc = socketio.test_client(app, namespace="/floor", flask_test_client=_login(app, username))
    assert sc.is_connected("/floor")
    sc.get_received("/floor")
    return sc


def _pushed(sc, kind="alert"):
    return [m["args"][0] for m in sc.get_received("/floor") if m["name"] == "event" and m["args"][0]["type"] == kind]


def _mood(cid, emotion):
    """What the simulator records after each reaction (simulator/engine.py _record_state)."""
    names = ("calm", "annoyed", "angry", "furious")
    ev, _ = append_event(
        cid,
        "customer.state",
        "simulator",
        data={"emotion": emotion, "emotion_name": names[emotion], "emotion_delta": 1, "patience_left": 40.0},
    )
    publish_contact_event(ev)


@pytest.fixture
def groups(app):
    """Lead A with trainee t1 holding chat contact ``cid``; lead B with trainee t2."""
    with app.app_context():
        la = factories.user("leadA", role="lead")
        lb = factories.user("leadB", role="lead")
        factories.user("admin1", role="admin")
        t1 = factories.user("t1", level="L4", group=factories.group("A", la))
        factories.user("t2", level="L4", group=factories.group("B", lb))
        do_set_agent_state(db.session.get(User, t1.id), "available")
        cid = do_create_contact("chat", "chat.general", customer_name="李先生").id
        assert db.session.get(Contact, cid).agent_id == t1.id
        return {"cid": cid, "t1": t1.id}


def test_top_anger_alerts_own_lead_only_and_clears_when_calmer(app, groups):
    """A furious customer raises an alert pushed to the trainee's lead and admins, not to another group's lead;
    it is in the lead's snapshot, and a calmer state clears it."""
    cid = groups["cid"]
    a, b, adm = _floor(app, "leadA"), _floor(app, "leadB"), _floor(app, "admin1")
    with app.app_context():
        _mood(cid, 2)
        assert list_alerts() == []
        _mood(cid, 3)
    got = _pushed(a)
    assert len(got) == 1 and got[0]["alert"]["kind"] == "anger" and got[0]["alert"]["contact_id"] == cid
    assert got[0]["alert"]["agent_name"] == "t1" and got[0]["alert"]["detail"]["emotion"] == "furious"
    assert _pushed(b) == [] and len(_pushed(adm)) == 1
    assert [x["id"] for x in _login(app, "leadA").get("/api/floor").get_json()["alerts"]] == [f"anger:{cid}"]
    assert _login(app, "leadB").get("/api/floor").get_json()["alerts"] == []
    with app.app_context():
        _mood(cid, 3)  # still furious: no second alert
        assert len(list_alerts()) == 1
        _mood(cid, 1)
        assert list_alerts() == []
    cleared = _pushed(a, "alert_cleared")
    assert cleared and cleared[0]["id"] == f"anger:{cid}"


def test_acknowledged_alert_is_recorded_and_not_raised_again_until_it_clears(app, groups):
    """A lead's acknowledgement removes the alert, records monitor.alert_ack; the same anger does not re-alert,
    but anger after calming down does. Another group's lead cannot acknowledge it."""
    cid = groups["cid"]
    with app.app_context():
        _mood(cid, 3)
    b = _floor(app, "leadB")
    res = b.emit("ack_alert", {"id": f"anger:{cid}"}, namespace="/floor", callback=True)
    assert not res["ok"] and "outside your groups" in res["error"]
    a = _floor(app, "leadA")
    assert "no such live alert" in a.emit("ack_alert", {"id": "anger:999"}, namespace="/floor", callback=True)["error"]
    res = a.emit("ack_alert", {"id": f"anger:{cid}"}, namespace="/floor", callback=True)
    assert res["ok"], res
    with app.app_context():
        assert list_alerts() == []
        ack = db.session.scalar(select(ContactEvent).where(ContactEvent.type == "monitor.alert_ack"))
        assert ack.data == {"alert": f"anger:{cid}", "kind": "anger"} and ack.actor == "lead"
        _mood(cid, 3)
        assert list_alerts() == []
        _mood(cid, 2)
        _mood(cid, 3)
        assert [x["kind"] for x in list_alerts()] == ["anger"]


def test_crisis_ticket_raises_alert(app, groups):
    """A ticket opened with risk level crisis on a contact puts a crisis alert on the floor."""
    from tickets.actions import do_create_ticket

    cid = groups["cid"]
    a = _floor(app, "leadA")
    with app.app_context():
        agent = db.session.get(User, groups["t1"])
        contact = db.session.get(Contact, cid)
        do_create_ticket(agent, contact, subject="充电宝起火", category="orders", priority="normal", risk_level="none")
        assert list_alerts() == []
        do_create_ticket(
            agent, contact, subject="充电宝起火烧伤", category="orders", priority="urgent", risk_level="crisis"
        )
        alerts = list_alerts()
    assert [x["kind"] for x in alerts] == ["crisis"] and alerts[0]["detail"]["subject"] == "充电宝起火烧伤"
    assert [x["alert"]["kind"] for x in _pushed(a)] == ["crisis"]


def test_queue_wait_over_sla_alerts_every_lead_and_clears_on_answer(app, groups):
    """A contact waiting past the wait SLA alerts every lead (nobody holds it yet); once answered it clears."""
    a, b = _floor(app, "leadA"), _floor(app, "leadB")
    with app.app_context():
        do_set_agent_state(db.session.get(User, groups["t1"]), "away")
        cid = do_create_contact("chat", "chat.vip", customer_name="赵女士").id
        now = clock.timestamp()
        assert scan(now + 5) == []
        raised = scan(now + 25)
        assert [(x["kind"], x["contact_id"]) for x in raised] == [("sla_wait", cid)]
        assert raised[0]["detail"]["sla_seconds"] == 20
        assert scan(now + 30) == []  # raised once
    assert len(_pushed(a)) == 1 and len(_pushed(b)) == 1
    with app.app_context():
        do_set_agent_state(db.session.get(User, groups["t1"]), "available")
        assert db.session.get(Contact, cid).status == "active"
        assert [x for x in list_alerts() if x["kind"] == "sla_wait"] == []


def test_unanswered_customer_message_alerts_then_reply_clears(app, groups):
    """A chat customer's message unanswered past RESPONSE_SLA_SECONDS alerts; the agent's reply clears it."""
    cid = groups["cid"]
    with app.app_context():
        contact = db.session.get(Contact, cid)
        do_post_message(contact, "customer", "有人吗？")
        now = clock.timestamp()
        assert scan(now + 30) == []
        raised = scan(now + 61)
        assert [x["kind"] for x in raised] == ["sla_response"]
        do_post_message(contact, "agent", "您好，在的。", actor_id=groups["t1"])
        assert list_alerts() == []
        assert scan(now + 200) == []


def test_wrap_up_clears_every_alert_of_the_contact(app, groups):
    """Once the contact is wrapped up its alerts leave the floor."""
    from contacts.actions import do_wrap_up_contact

    cid = groups["cid"]
    with app.app_context():
        _mood(cid, 3)
        assert len(list_alerts()) == 1
        do_wrap_up_contact(db.session.get(Contact, cid), db.session.get(User, groups["t1"]), "resolved")
        assert list_alerts() == []


def test_floor_snapshot_counts_by_channel_and_lists_offline_members(app, groups):
    """The snapshot counts live contacts per channel and shows group members who never signed in as offline."""
    with app.app_context():
        la = db.session.scalar(select(User).where(User.username == "leadA"))
        factories.user("t3", level="L5", group=la and db.session.get(User, groups["t1"]).group)
    snap = _login(app, "leadA").get("/api/floor").get_json()
    assert snap["by_channel"]["chat"]["active"] == 1
    rows = {a["name"]: a for a in snap["agents"]}
    assert rows["t3"]["state"] == "offline" and rows["t3"]["group"] == "A"
    assert rows["t1"]["effective_state"] in ("available", "busy") and rows["t1"]["since"]
    assert "t2" not in rows
    assert [g["name"] for g in snap["groups"]] == ["A"]
