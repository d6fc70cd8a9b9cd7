"""Chat monitoring from the console: watch, coaching notes (agent only), take over; role and group refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contacts.models import Contact, ContactEvent
from extensions import db, socketio
from tests import factories


def _login(app, username):
    c = app.test_client()
    assert c.post("/login", data={"username": username, "password": "pass1234"}).status_code == 302
    return c


def _sock(app, ns, username):
    sc = socketio.test_client(app, namespace=ns, flask_test_client=_login(app, username))
    assert sc.is_connected(ns), f"{username} could not open {ns}"
    return sc


def _events(sc, ns):
    return [m["args"][0] for m in sc.get_received(ns) if m["name"] == "event"]


def _contact_events(sc, ns):
    return [e["event"] for e in _events(sc, ns) if e["type"] == "contact_event"]


def _types(cid):
    return [e.type for e in db.session.scalars(select(ContactEvent).where(ContactEvent.contact_id == cid))]


@pytest.fixture
def floor(app):
    """Lead A leads group A (trainee t1), lead B leads group B (trainee t2); t1 holds a live chat."""
    with app.app_context():
        la = factories.user("leadA", role="lead")
        lb = factories.user("leadB", role="lead")
        factories.user("grader1", role="grader")
        factories.user("admin1", role="admin")
        factories.user("t1", level="L4", group=factories.group("A", la))
        factories.user("t2", level="L4", group=factories.group("B", lb))
    desk = _sock(app, "/desk", "t1")
    assert desk.emit("set_state", {"state": "available"}, namespace="/desk", callback=True)["ok"]
    cust = socketio.test_client(app, namespace="/customer", flask_test_client=app.test_client())
    start = cust.emit(
        "start", {"name": "王女士", "queue": "chat.general", "lang": "zh_CN"}, namespace="/customer", callback=True
    )
    assert start["ok"], start
    cid = start["contact_id"]
    assert desk.emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)["ok"]
    r = cust.emit(
        "send", {"contact_id": cid, "token": start["token"], "text": "快递丢了"}, namespace="/customer", callback=True
    )
    assert r["ok"]
    desk.get_received("/desk")
    cust.get_received("/customer")
    return {"cid": cid, "desk": desk, "cust": cust, "token": start["token"]}


def test_watch_is_silent_and_recorded(app, floor):
    """A lead watching a chat gets its live events and the customer's mood; monitor.watch is recorded but the
    trainee's desk is not told."""
    cid = floor["cid"]
    fl = _sock(app, "/floor", "leadA")
    res = fl.emit("watch", {"contact_id": cid}, namespace="/floor", callback=True)
    assert res["ok"], res
    assert any(e["type"] == "message" and e["text"] == "快递丢了" for e in res["events"])
    assert "coach" in res["rights"] and "take_over" in res["rights"] and "whisper" not in res["rights"]
    floor["cust"].emit("send", {"contact_id": cid, "token": floor["token"], "text": "还在吗"}, namespace="/customer")
    assert any(e["text"] == "还在吗" for e in _contact_events(fl, "/floor") if e["type"] == "message")
    assert not any(e["type"].startswith("monitor.") for e in _contact_events(floor["desk"], "/desk"))
    with app.app_context():
        assert "monitor.watch" in _types(cid)
        ev = db.session.scalar(select(ContactEvent).where(ContactEvent.type == "monitor.watch"))
        assert ev.actor == "lead" and ev.data["mode"] == "watch"


def test_coaching_note_reaches_trainee_only(app, floor):
    """A coaching note shows on the trainee's desk and is recorded; the customer's socket never receives it."""
    cid = floor["cid"]
    fl = _sock(app, "/floor", "leadA")
    res = fl.emit("coach", {"contact_id": cid, "text": "先安抚情绪，再查物流"}, namespace="/floor", callback=True)
    assert res["ok"], res
    desk_evs = _contact_events(floor["desk"], "/desk")
    assert any(e["type"] == "monitor.coach" and e["text"] == "先安抚情绪，再查物流" for e in desk_evs)
    cust_evs = _contact_events(floor["cust"], "/customer")
    assert not any(e["type"].startswith("monitor.") for e in cust_evs)
    assert not any("先安抚情绪" in str(e) for e in cust_evs)
    # and the customer's catch-up after a reconnect does not include it either
    sync = floor["cust"].emit(
        "resume", {"contact_id": cid, "token": floor["token"], "after_seq": 0}, namespace="/customer", callback=True
    )
    assert sync["ok"] and not any("先安抚情绪" in str(e) for e in sync["events"])
    with app.app_context():
        ev = db.session.scalar(select(ContactEvent).where(ContactEvent.type == "monitor.coach"))
        assert ev.text == "先安抚情绪，再查物流" and ev.actor == "lead"


def test_coaching_bad_input_is_refused_and_records_nothing(app, floor):
    """Empty, over-long and malformed coaching requests get a clear error and record nothing."""
    fl = _sock(app, "/floor", "leadA")
    cid = floor["cid"]
    assert (
        "write the coaching note"
        in fl.emit("coach", {"contact_id": cid, "text": "  "}, namespace="/floor", callback=True)["error"]
    )
    assert (
        "limit is 1000"
        in fl.emit("coach", {"contact_id": cid, "text": "x" * 1001}, namespace="/floor", callback=True)["error"]
    )
    assert "JSON object" in fl.emit("coach", "nonsense", namespace="/floor", callback=True)["error"]
    assert (
        "no contact"
        in fl.emit("coach", {"contact_id": 99999, "text": "hi"}, namespace="/floor", callback=True)["error"]
    )
    assert "number" in fl.emit("coach", {"contact_id": "abc", "text": "hi"}, namespace="/floor", callback=True)["error"]
    with app.app_context():
        assert "monitor.coach" not in _types(cid)


def test_take_over_moves_contact_to_lead(app, floor):
    """A lead takes over: the contact is theirs, the trainee's seat is freed and the trainee can no longer post;
    the lead answers from the desk and wraps up."""
    cid = floor["cid"]
    fl = _sock(app, "/floor", "leadA")
    lead_desk = _sock(app, "/desk", "leadA")
    res = fl.emit("take_over", {"contact_id": cid}, namespace="/floor", callback=True)
    assert res["ok"], res
    assert any(e["type"] == "monitor.takeover" for e in _contact_events(floor["desk"], "/desk"))
    assert any(e["type"] == "monitor.takeover" for e in _contact_events(lead_desk, "/desk"))
    refused = floor["desk"].emit("send", {"contact_id": cid, "text": "我还在"}, namespace="/desk", callback=True)
    assert not refused["ok"] and "not on your desk" in refused["error"]
    with app.app_context():
        from routing.actions import agent_snapshot

        lead_id = db.session.scalar(select(Contact.agent_id).where(Contact.id == cid))
        t1 = agent_snapshot(
            db.session.scalar(select(ContactEvent.data).where(ContactEvent.type == "monitor.takeover"))["from_agent_id"]
        )
        assert t1["load"].get("chat", 0) == 0
    join = lead_desk.emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)
    assert join["ok"] and join["contact"]["agent_id"] == lead_id
    sent = lead_desk.emit(
        "send", {"contact_id": cid, "text": "您好，我是组长，我来处理。"}, namespace="/desk", callback=True
    )
    assert sent["ok"]
    assert any(e["type"] == "message" and "组长" in e["text"] for e in _contact_events(floor["cust"], "/customer"))
    done = lead_desk.emit("wrap_up", {"contact_id": cid, "code": "resolved"}, namespace="/desk", callback=True)
    assert done["ok"], done
    with app.app_context():
        assert _types(cid).count("monitor.takeover") == 1


def test_lead_outside_groups_is_refused(app, floor):
    """Lead B may not watch, coach or take over a contact held by lead A's trainee; nothing is recorded."""
    cid = floor["cid"]
    fl = _sock(app, "/floor", "leadB")
    for event, payload in (("watch", {}), ("coach", {"text": "hi"}), ("take_over", {})):
        res = fl.emit(event, {"contact_id": cid, **payload}, namespace="/floor", callback=True)
        assert not res["ok"] and "outside your groups" in res["error"], (event, res)
    assert _login(app, "leadB").get(f"/floor/monitor/{cid}").status_code == 403
    with app.app_context():
        assert not any(t.startswith("monitor.") for t in _types(cid))


def test_grader_watches_silently_but_cannot_coach(app, floor):
    """A grader may watch any chat (QA), but coaching and taking over are refused; the floor snapshot too."""
    cid = floor["cid"]
    fl = _sock(app, "/floor", "grader1")
    assert fl.emit("watch", {"contact_id": cid}, namespace="/floor", callback=True)["ok"]
    res = fl.emit("coach", {"contact_id": cid, "text": "hi"}, namespace="/floor", callback=True)
    assert not res["ok"] and "role 'grader' may not" in res["error"]
    assert not fl.emit("take_over", {"contact_id": cid}, namespace="/floor", callback=True)["ok"]
    assert not fl.emit("snapshot", {}, namespace="/floor", callback=True)["ok"]
    assert _login(app, "grader1").get(f"/floor/monitor/{cid}").status_code == 200


def test_admin_may_coach_any_contact_and_trainee_may_not_connect(app, floor):
    """An admin coaches a contact of any group; a trainee cannot open /floor nor the monitor page."""
    cid = floor["cid"]
    fl = _sock(app, "/floor", "admin1")
    assert fl.emit("coach", {"contact_id": cid, "text": "注意核实身份"}, namespace="/floor", callback=True)["ok"]
    t2 = socketio.test_client(app, namespace="/floor", flask_test_client=_login(app, "t2"))
    assert not t2.is_connected("/floor")
    assert _login(app, "t2").get(f"/floor/monitor/{cid}").status_code == 403


def test_monitoring_a_closed_contact_is_refused(app, floor):
    """Coaching or taking over a contact that has been wrapped up is refused with the reason."""
    cid = floor["cid"]
    assert floor["desk"].emit("wrap_up", {"contact_id": cid, "code": "resolved"}, namespace="/desk", callback=True)[
        "ok"
    ]
    fl = _sock(app, "/floor", "leadA")
    res = fl.emit("coach", {"contact_id": cid, "text": "hi"}, namespace="/floor", callback=True)
    assert not res["ok"] and "closed" in res["error"]
    res = fl.emit("take_over", {"contact_id": cid}, namespace="/floor", callback=True)
    assert not res["ok"]
