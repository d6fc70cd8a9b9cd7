"""Web chat end to end over real Socket.IO test clients: customer side, routing to an agent, recording."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contacts.models import Contact, ContactEvent
from extensions import db, socketio


def _login(app, username):
    c = app.test_client()
    resp = c.post("/login", data={"username": username, "password": "pass1234"})
    assert resp.status_code == 302
    return c


def _desk(app, username):
    sc = socketio.test_client(app, namespace="/desk", flask_test_client=_login(app, username))
    assert sc.is_connected("/desk")
    return sc


def _customer(app):
    return socketio.test_client(app, namespace="/customer", flask_test_client=app.test_client())


def _events(sc, ns):
    return [a[0] for m in sc.get_received(ns) if m["name"] == "event" for a in [m["args"]]]


def _start(cust, name="王女士", queue="chat.general"):
    res = cust.emit("start", {"name": name, "queue": queue, "lang": "zh_CN"}, namespace="/customer", callback=True)
    assert res["ok"], res
    return res


@pytest.fixture
def agent_ready(app, make_user):
    make_user("agent1", level="L4")
    desk = _desk(app, "agent1")
    res = desk.emit("set_state", {"state": "available"}, namespace="/desk", callback=True)
    assert res["ok"], res
    return desk


def test_customer_reaches_agent_and_both_talk(app, agent_ready):
    """A customer's chat is assigned to the available agent; messages flow both ways and are recorded in order."""
    desk = agent_ready
    cust = _customer(app)
    start = _start(cust)
    cid = start["contact_id"]
    evs = _events(desk, "/desk")
    assign = [e for e in evs if e["type"] == "contact_event" and e["event"]["type"] == "assignment"]
    assert assign and assign[0]["event"]["contact_id"] == cid
    join = desk.emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)
    assert join["ok"] and join["contact"]["status"] == "active"

    r = cust.emit(
        "send",
        {"contact_id": cid, "token": start["token"], "text": "我的快递三天没动了", "client_id": "c1"},
        namespace="/customer",
        callback=True,
    )
    assert r["ok"]
    got = [e["event"] for e in _events(desk, "/desk") if e["type"] == "contact_event"]
    assert any(e["type"] == "message" and e["text"] == "我的快递三天没动了" for e in got)

    r = desk.emit(
        "send", {"contact_id": cid, "text": "您好，我来帮您查询。", "client_id": "a1"}, namespace="/desk", callback=True
    )
    assert r["ok"] and r["event"]["actor"] == "agent"
    seen = [e["event"] for e in _events(cust, "/customer") if e["type"] == "contact_event"]
    agent_msgs = [e for e in seen if e["type"] == "message" and e["actor"] == "agent"]
    assert agent_msgs and agent_msgs[0]["text"] == "您好，我来帮您查询。"
    assert "actor_id" not in agent_msgs[0]  # the customer sees no staff ids

    with app.app_context():
        types = [
            e.type
            for e in db.session.scalars(
                select(ContactEvent).where(ContactEvent.contact_id == cid).order_by(ContactEvent.seq)
            )
        ]
        seqs = list(
            db.session.scalars(
                select(ContactEvent.seq).where(ContactEvent.contact_id == cid).order_by(ContactEvent.seq)
            )
        )
    assert types[:2] == ["contact.created", "assignment"]
    assert types.count("message") == 2
    assert seqs == list(range(1, len(seqs) + 1))


def test_the_writer_gets_its_own_line_and_typing_in_the_ack_not_twice(app, agent_ready, make_user):
    """A chat line or a typing change reaches the other side as an event and the writer in its ack only: the
    writer's socket is not sent the same event again. A second socket of the same desk (another tab) still
    gets it, and every sequence number is accounted for on each side."""
    desk = agent_ready
    cust = _customer(app)
    start = _start(cust)
    cid, token = start["contact_id"], start["token"]
    desk.emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)
    tab2 = _desk(app, "agent1")
    assert tab2.emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)["ok"]
    for sc, ns in ((desk, "/desk"), (tab2, "/desk"), (cust, "/customer")):
        sc.get_received(ns)

    mine = {"contact_id": cid, "token": token}
    typed = cust.emit("typing", {**mine, "typing": True}, namespace="/customer", callback=True)
    said = cust.emit("send", {**mine, "text": "在吗", "client_id": "k1"}, namespace="/customer", callback=True)
    assert typed["ok"] and typed["event"]["type"] == "typing" and typed["event"]["data"] == {"typing": True}
    assert said["ok"] and said["event"]["text"] == "在吗" and said["event"]["client_id"] == "k1"
    assert said["event"]["seq"] == typed["event"]["seq"] + 1 == said["seq"]
    assert "actor_id" not in said["event"]  # the customer's view of the event
    assert _events(cust, "/customer") == []  # not sent again
    for sc in (desk, tab2):
        got = [(e["event"]["type"], e["event"]["seq"]) for e in _events(sc, "/desk")]
        assert got == [("typing", typed["event"]["seq"]), ("message", said["seq"])]

    a_typed = desk.emit("typing", {"contact_id": cid, "typing": True}, namespace="/desk", callback=True)
    a_said = desk.emit("send", {"contact_id": cid, "text": "您好", "client_id": "a9"}, namespace="/desk", callback=True)
    assert a_typed["event"]["actor"] == "agent" and a_said["event"]["seq"] == a_typed["event"]["seq"] + 1
    assert _events(desk, "/desk") == []  # the writing tab has both in its acks
    assert [e["event"]["seq"] for e in _events(tab2, "/desk")] == [a_typed["event"]["seq"], a_said["event"]["seq"]]
    seen = [(e["event"]["type"], e["event"]["actor"]) for e in _events(cust, "/customer")]
    assert seen == [("typing", "agent"), ("message", "agent")]


def test_typing_end_wrap_up_and_csat(app, agent_ready):
    """Typing is recorded; ending invites CSAT; wrap-up closes with a code and starts after-call work."""
    desk = agent_ready
    cust = _customer(app)
    start = _start(cust)
    cid = start["contact_id"]
    desk.emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)
    assert desk.emit("typing", {"contact_id": cid, "typing": True}, namespace="/desk", callback=True)["ok"]
    assert desk.emit("end", {"contact_id": cid}, namespace="/desk", callback=True)["ok"]
    cust_seen = [e["event"]["type"] for e in _events(cust, "/customer") if e["type"] == "contact_event"]
    assert "typing" in cust_seen and "contact.ended" in cust_seen and "csat.invited" in cust_seen
    assert cust.emit(
        "rate", {"contact_id": cid, "token": start["token"], "score": 4}, namespace="/customer", callback=True
    )["ok"]
    bad = cust.emit(
        "rate", {"contact_id": cid, "token": start["token"], "score": 9}, namespace="/customer", callback=True
    )
    assert not bad["ok"]
    res = desk.emit(
        "wrap_up", {"contact_id": cid, "code": "resolved", "notes": "done"}, namespace="/desk", callback=True
    )
    assert res["ok"] and res["contact"]["status"] == "closed"
    hello = desk.emit("hello", {}, namespace="/desk", callback=True)
    assert hello["agent"]["state"] == "acw"
    with app.app_context():
        c = db.session.get(Contact, cid)
        assert c.wrap_up_code == "resolved" and c.csat == 4


def test_over_long_and_html_messages(app, agent_ready):
    """A message over 2,000 characters is refused with the reason; HTML is stored as text and shown escaped."""
    desk = agent_ready
    cust = _customer(app)
    start = _start(cust)
    cid = start["contact_id"]
    r = cust.emit(
        "send", {"contact_id": cid, "token": start["token"], "text": "长" * 2001}, namespace="/customer", callback=True
    )
    assert not r["ok"] and "2001" in r["error"] and "2000" in r["error"]
    script = "<script>alert('x')</script><b>hi</b>"
    assert cust.emit(
        "send", {"contact_id": cid, "token": start["token"], "text": script}, namespace="/customer", callback=True
    )["ok"]
    client = _login(app, "agent1")
    page = client.get(f"/contacts/{cid}").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    with app.app_context():
        assert (
            db.session.scalar(
                select(ContactEvent.text).where(ContactEvent.contact_id == cid, ContactEvent.type == "message")
            )
            == script
        )
    del desk


def test_resend_after_drop_is_not_doubled(app, agent_ready):
    """A client that resends with the same client_id after a dropped socket gets the same event, recorded once;
    the desk's sync after reconnecting returns exactly the missed events."""
    desk = agent_ready
    cust = _customer(app)
    start = _start(cust)
    cid = start["contact_id"]
    desk.emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)
    first = desk.emit(
        "send", {"contact_id": cid, "text": "请稍等", "client_id": "same-1"}, namespace="/desk", callback=True
    )
    desk.disconnect("/desk")
    desk2 = _desk(app, "agent1")
    again = desk2.emit(
        "send", {"contact_id": cid, "text": "请稍等", "client_id": "same-1"}, namespace="/desk", callback=True
    )
    assert again["ok"] and again["duplicate"] and again["event"]["seq"] == first["event"]["seq"]
    cust.emit(
        "send", {"contact_id": cid, "token": start["token"], "text": "好的"}, namespace="/customer", callback=True
    )
    sync = desk2.emit("sync", {"contact_id": cid, "after_seq": first["event"]["seq"]}, namespace="/desk", callback=True)
    assert [e["text"] for e in sync["events"] if e["type"] == "message"] == ["好的"]
    with app.app_context():
        n = db.session.scalar(
            select(db.func.count())
            .select_from(ContactEvent)
            .where(ContactEvent.contact_id == cid, ContactEvent.text == "请稍等")
        )
    assert n == 1
    # the customer's page resumes with what it missed, nothing more
    res = cust.emit(
        "resume", {"contact_id": cid, "token": start["token"], "after_seq": 0}, namespace="/customer", callback=True
    )
    texts = [e["text"] for e in res["events"] if e["type"] == "message"]
    assert texts == ["请稍等", "好的"]


def test_wrong_roles_and_other_agents_contacts(app, agent_ready, make_user):
    """Graders cannot open the desk socket; a trainee cannot act on another trainee's contact; bad ids are errors."""
    make_user("grader1", role="grader")
    g = socketio.test_client(app, namespace="/desk", flask_test_client=_login(app, "grader1"))
    assert not g.is_connected("/desk")
    anon = socketio.test_client(app, namespace="/desk", flask_test_client=app.test_client())
    assert not anon.is_connected("/desk")

    cust = _customer(app)
    start = _start(cust)
    cid = start["contact_id"]
    make_user("agent2", level="L4")
    other = _desk(app, "agent2")
    r = other.emit("send", {"contact_id": cid, "text": "hi"}, namespace="/desk", callback=True)
    assert not r["ok"] and "not on your desk" in r["error"]
    r = other.emit("sync", {"contact_id": 999999}, namespace="/desk", callback=True)
    assert not r["ok"] and "no contact" in r["error"]
    r = other.emit("send", "not a dict", namespace="/desk", callback=True)
    assert not r["ok"]
    # a customer with the wrong token cannot write into someone else's chat
    intruder = _customer(app)
    r = intruder.emit("send", {"contact_id": cid, "token": "guess", "text": "hi"}, namespace="/customer", callback=True)
    assert not r["ok"] and r["error"] == "unknown contact"
    # trainee pages: another trainee's transcript is forbidden
    c2 = _login(app, "agent2")
    assert c2.get(f"/contacts/{cid}").status_code == 403
    assert c2.get("/contacts/424242").status_code == 404


def test_customer_flood_is_rate_limited(app):
    """One customer socket sending far faster than a person types is told to slow down."""
    cust = _customer(app)
    start = _start(cust)
    answers = [
        cust.emit(
            "send",
            {"contact_id": start["contact_id"], "token": start["token"], "text": f"m{i}"},
            namespace="/customer",
            callback=True,
        )
        for i in range(30)
    ]
    assert any(not a["ok"] and "slow down" in a["error"] for a in answers)


def test_transfer_to_named_agent_with_note(app, agent_ready, make_user):
    """A transfer to a named agent moves the contact with the note; the receiver sees the note."""
    desk = agent_ready
    make_user("senior", level="L3")
    senior = _desk(app, "senior")
    cust = _customer(app)
    cid = _start(cust)["contact_id"]
    from accounts.models import User

    with app.app_context():
        owner = db.session.get(User, db.session.get(Contact, cid).agent_id).username
    first, second = (senior, desk) if owner == "senior" else (desk, senior)
    senior.emit("set_state", {"state": "available"}, namespace="/desk", callback=True)
    target = "agent1" if owner == "senior" else "senior"
    first.emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)
    r = first.emit(
        "transfer",
        {"contact_id": cid, "target_kind": "agent", "target": target, "note": ""},
        namespace="/desk",
        callback=True,
    )
    assert not r["ok"] and "note" in r["error"]
    r = first.emit(
        "transfer",
        {"contact_id": cid, "target_kind": "agent", "target": target, "note": "客户要求退款，已核实身份"},
        namespace="/desk",
        callback=True,
    )
    assert r["ok"], r
    taken = [e for e in _events(first, "/desk") if e["type"] == "transfer_result"]
    assert taken and taken[0]["status"] == "taken"
    with app.app_context():
        c = db.session.get(Contact, cid)
        assert c.agent.username == target and c.status == "active"
    join = second.emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)
    assert join["ok"]
    notes = [e["text"] for e in join["events"] if e["type"] == "transfer"]
    assert notes == ["客户要求退款，已核实身份"]
    # the sender hears what became of it: taken, then closed with the receiver's wrap-up code
    first.get_received("/desk")
    second.emit("wrap_up", {"contact_id": cid, "code": "refund"}, namespace="/desk", callback=True)
    results = [e for e in _events(first, "/desk") if e["type"] == "transfer_result"]
    assert results and results[-1]["status"] == "closed" and results[-1]["code"] == "refund"


def test_socket_from_another_site_is_refused(client):
    """A page on another origin cannot open a Socket.IO connection riding on our cookies (CSWSH)."""
    evil = client.get("/socket.io/?EIO=4&transport=polling", headers={"Origin": "https://evil.example"})
    assert evil.status_code == 400 and b"Not an accepted origin" in evil.data
    same = client.get("/socket.io/?EIO=4&transport=polling", headers={"Origin": "http://localhost"})
    assert same.status_code == 200


def test_unexpected_failure_is_acked_not_dropped(app):
    """An unexpected error inside a socket handler (an overloaded database, say) is answered with a clear
    error ack, so the client knows to resend, instead of leaving it waiting for an ack that never comes."""
    from channels.chat.acks import ack_errors

    class Probe:
        @ack_errors
        def on_boom(self, data=None):
            raise RuntimeError("QueuePool limit reached")

    with app.app_context():
        res = Probe().on_boom({})
    assert res["ok"] is False and "try again" in res["error"]
