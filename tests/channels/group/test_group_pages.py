"""Group pages and the /group namespace: a lead starts rooms for a trainee or a group, the trainee works the
room over Socket.IO, a person joins with the link; roles and tokens are checked."""

from __future__ import annotations

import pytest

from channels.group.actions import room_state
from contacts.models import Contact
from extensions import db
from tests import factories


@pytest.fixture
def people(app, packs):
    with app.app_context():
        lead = factories.user("lead1", role="lead", level=None)
        grp = factories.group("G1", lead=lead)
        t1 = factories.user("t1", role="trainee", level="L3", group=grp)
        t2 = factories.user("t2", role="trainee", level="L4", group=grp)
        other = factories.user("t3", role="trainee", level="L4")
        db.session.commit()
        return {"lead": lead.id, "group": grp.id, "t1": t1.id, "t2": t2.id, "other": other.id}


def test_lead_starts_rooms_for_a_group_and_a_trainee(app, client, auth, people):
    """POST /api/group/rooms for the lead's group opens one room per trainee; a trainee outside the lead's
    groups is refused with a clear error; the trainee sees their room on /group."""
    auth.login("lead1")
    res = client.post(
        "/api/group/rooms", json={"scenario_id": "en-group-sale", "audience": 5, "group_id": people["group"]}
    )
    assert res.status_code == 201, res.json
    rooms = res.json["rooms"]
    assert sorted(r["agent_id"] for r in rooms) == sorted([people["t1"], people["t2"]])
    res = client.post("/api/group/rooms", json={"scenario_id": "en-group-sale", "agent_ids": [people["other"]]})
    assert res.status_code == 400 and "may not start a room" in res.json["error"]
    res = client.post("/api/group/rooms", json={"scenario_id": "en-group-sale", "agent_ids": [people["t1"]]})
    assert res.status_code == 400 and "already serving" in res.json["error"]
    res = client.post("/api/group/rooms", json={"scenario_id": "nope", "audience": 5})
    assert res.status_code == 400 and "no group scenario" in res.json["error"]
    res = client.post("/api/group/rooms", json={"scenario_id": "en-group-sale", "audience": 51})
    assert res.status_code == 400 and "from 0 to 50" in res.json["error"]
    auth.logout()
    auth.login("t1")
    page = client.get("/group")
    assert page.status_code == 200 and b"Summer-sale members" in page.data
    room_id = next(r["id"] for r in rooms if r["agent_id"] == people["t1"])
    assert client.get(f"/group/rooms/{room_id}").status_code == 200
    other_room = next(r["id"] for r in rooms if r["agent_id"] == people["t2"])
    assert client.get(f"/group/rooms/{other_room}").status_code == 403
    assert client.get(f"/api/group/rooms/{other_room}").status_code == 403


def test_trainee_start_form_and_socket_flow(app, client, auth, people, socket_client):
    """The start form opens a room for the trainee; over /group the trainee replies with mentions and pins;
    a person joins with the link, posts, is answered by a mention and moved to a private chat (gets its
    token); a wrong join token and a staff event from a customer socket are refused."""
    auth.login("t1")
    res = client.post("/group", data={"scenario_id": "en-group-sale", "audience": "0", "target": "me"})
    assert res.status_code == 302 and "/group/rooms/" in res.headers["Location"]
    room_id = int(res.headers["Location"].rsplit("/", 1)[1])
    staff = socket_client("/group")
    ack = staff.emit("watch", {"room_id": room_id}, namespace="/group", callback=True)
    assert ack["ok"] and ack["room"]["open"] and ack["room"]["audience"] == 0

    guest_http = app.test_client()
    guest = socket_client("/group", http_client=guest_http)
    with app.app_context():
        token = db.session.get(Contact, room_id).customer_token
    bad = guest.emit("join", {"room_id": room_id, "token": "wrong", "name": "Pat"}, namespace="/group", callback=True)
    assert not bad["ok"] and "not valid" in bad["error"]
    joined = guest.emit("join", {"room_id": room_id, "token": token, "name": "Pat"}, namespace="/group", callback=True)
    assert joined["ok"]
    me = {"room_id": room_id, "member_id": joined["member_id"], "member_token": joined["member_token"]}
    posted = guest.emit(
        "post",
        {**me, "text": "How many days does delivery take?", "client_id": "c1"},
        namespace="/group",
        callback=True,
    )
    assert posted["ok"]
    again = guest.emit(
        "post",
        {**me, "text": "How many days does delivery take?", "client_id": "c1"},
        namespace="/group",
        callback=True,
    )
    assert again["duplicate"]
    with app.app_context():
        m = room_state(room_id).members[me["member_id"]]
        assert m.status == "waiting" and m.need == "ship-time"  # classified from a person's words
    refused = guest.emit("pin", {"room_id": room_id, "text": "hi"}, namespace="/group", callback=True)
    assert refused["ok"] is False

    reply = staff.emit(
        "reply",
        {
            "room_id": room_id,
            "text": "Orders leave within 48 hours and arrive in 1-3 days.",
            "mentions": [me["member_id"]],
        },
        namespace="/group",
        callback=True,
    )
    assert reply["ok"] and reply["answered"] == [me["member_id"]]
    got = [p["args"][0] for p in guest.get_received("/group") if p["name"] == "event"]
    assert any(e["type"] == "message" and e["data"].get("mention_names") == ["Pat"] for e in got)
    assert all("actor_id" not in e and "needs" not in (e.get("data") or {}) for e in got)
    pin = staff.emit(
        "pin",
        {"room_id": room_id, "text": "Receipts: emailed within 3 working days."},
        namespace="/group",
        callback=True,
    )
    assert pin["ok"]
    moved = staff.emit(
        "move_private", {"room_id": room_id, "member": me["member_id"]}, namespace="/group", callback=True
    )
    assert moved["ok"]
    private = [p["args"][0] for p in guest.get_received("/group") if p["args"][0].get("type") == "group.private"]
    assert private and private[0]["contact_id"] == moved["contact_id"] and private[0]["token"]
    with app.app_context():
        chat = db.session.get(Contact, moved["contact_id"])
        assert chat.reserved_agent_id == people["t1"] and chat.customer_token == private[0]["token"]
    after = guest.emit("post", {**me, "text": "still here?"}, namespace="/group", callback=True)
    assert not after["ok"] and "private chat" in after["error"]
    closed = staff.emit("close", {"room_id": room_id, "code": "PRESALES"}, namespace="/group", callback=True)
    assert closed["ok"]
    transcript = client.get(f"/contacts/{room_id}")
    assert transcript.status_code == 200 and b"How many days does delivery take?" in transcript.data
