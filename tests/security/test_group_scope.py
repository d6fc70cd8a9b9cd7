"""Leads act and see only within their groups: tickets and notes on another group's contacts, panels, exercises,
the floor's live pushes, and a practice contact reserved for another group's trainee while nobody holds it."""

from __future__ import annotations

from extensions import db, socketio

from .world import login


def test_lead_of_another_group_cannot_read_create_or_annotate_tickets(app, world):
    """Another group's lead gets 403 on a ticket and its notes for the owner's contact, and on its ticket list;
    nothing is written into that contact's recording."""
    from contacts.models import ContactEvent

    with app.app_context():
        before = db.session.scalar(
            db.select(db.func.count(ContactEvent.id)).where(ContactEvent.contact_id == world["chat"])
        )
    other = login(app, "lead_other")
    res = other.post("/api/tickets", json={"contact_id": world["chat"], "subject": "x", "category": "delivery"})
    assert res.status_code == 403, res.json
    res = other.post(f"/api/tickets/{world['ticket']}/notes", json={"contact_id": world["chat"], "body": "hi"})
    assert res.status_code == 403, res.json
    assert other.get(f"/api/tickets?contact_id={world['chat']}").status_code == 403
    assert other.get(f"/api/tickets/{world['ticket']}").status_code == 403
    assert other.get(f"/tickets/{world['ticket']}").status_code == 403
    with app.app_context():
        after = db.session.scalar(
            db.select(db.func.count(ContactEvent.id)).where(ContactEvent.contact_id == world["chat"])
        )
    assert after == before
    lead = login(app, "lead")
    assert lead.get(f"/api/tickets/{world['ticket']}").status_code == 200
    res = lead.post(f"/api/tickets/{world['ticket']}/notes", json={"contact_id": world["chat"], "body": "checked"})
    assert res.status_code == 201, res.json


def test_lead_of_another_group_cannot_see_panels(app, world):
    """A panel over the owner's group's contacts is the group lead's: another lead gets 403 and does not see it
    listed; the lead of the group does."""
    other = login(app, "lead_other")
    assert other.get(f"/review/panels/{world['panel']}").status_code == 403
    assert b"Group A panel" not in other.get("/review/panels").data
    lead = login(app, "lead")
    assert lead.get(f"/review/panels/{world['panel']}").status_code == 200
    assert b"Group A panel" in lead.get("/review/panels").data


def test_lead_of_another_group_cannot_read_start_or_create_exercises(app, world):
    """Another group's exercise is 403 to read, start or stop; creating one for a group one does not lead is
    403; the exercises page lists only one's own groups' exercises."""
    other = login(app, "lead_other")
    ex = world["exercise"]
    assert other.get(f"/api/exercises/{ex}").status_code == 403
    assert other.post(f"/api/exercises/{ex}/start").status_code == 403
    assert other.post(f"/api/exercises/{ex}/stop").status_code == 403
    res = other.post(
        "/api/exercises",
        json={"name": "raid", "group_id": world["group_a"], "mix": {"en-delivery-status": 1.0}, "lang": "en"},
    )
    assert res.status_code == 403, res.json
    assert b"Group A drill" not in other.get("/floor/exercises").data
    lead = login(app, "lead")
    assert lead.get(f"/api/exercises/{ex}").status_code == 200
    assert b"Group A drill" in lead.get("/floor/exercises").data


def test_floor_pushes_go_only_to_the_group_lead(app, world):
    """A contact assigned to the owner and the owner's agent state reach the group lead's /floor socket and the
    admin's, never another group's lead."""
    from contacts.actions import do_assign_contact, do_create_contact

    socks = {}
    for role in ("lead", "lead_other", "admin"):
        socks[role] = socketio.test_client(app, namespace="/floor", flask_test_client=login(app, role))
        socks[role].get_received("/floor")
    with app.app_context():
        c = do_create_contact("chat", "chat.general", lang="en", customer_name="Floor")
        socks["lead_other"].get_received("/floor")  # an unassigned, unreserved contact is every lead's business
        cid = c.id
        do_assign_contact(cid, world["users"]["owner"])

    def states(role):
        return [
            m["args"][0]
            for m in socks[role].get_received("/floor")
            if m["name"] == "event" and m["args"][0]["type"] in ("contact_state", "agent_state")
        ]

    assert any(e.get("contact", {}).get("id") == cid for e in states("lead"))
    assert any(e.get("contact", {}).get("id") == cid for e in states("admin"))
    assert states("lead_other") == []
    desk = socketio.test_client(app, namespace="/desk", flask_test_client=login(app, "owner"))
    desk.emit("set_state", {"state": "away"}, namespace="/desk", callback=True)
    assert any(e["type"] == "agent_state" for e in states("lead"))
    assert states("lead_other") == []


def test_reserved_contact_is_hidden_from_other_groups_leads(app, world):
    """A practice contact reserved for the owner, still in queue, is not another group's business: not in their
    floor snapshot, its page is 403, they cannot watch it; the owner's lead sees it."""
    other = login(app, "lead_other")
    assert world["reserved"] not in [c["id"] for c in other.get("/api/floor").json["contacts"]]
    assert other.get(f"/contacts/{world['reserved']}").status_code == 403
    fl = socketio.test_client(app, namespace="/floor", flask_test_client=other)
    ack = fl.emit("watch", {"contact_id": world["reserved"]}, namespace="/floor", callback=True)
    assert not ack["ok"]
    lead = login(app, "lead")
    assert world["reserved"] in [c["id"] for c in lead.get("/api/floor").json["contacts"]]
    assert lead.get(f"/contacts/{world['reserved']}").status_code == 200
