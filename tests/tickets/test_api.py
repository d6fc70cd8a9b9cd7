"""The desk's JSON API: roles, ownership, input errors, and the full ticket/CRM/callback round trip."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clock import clock

from .helpers import events_of


@pytest.fixture
def t1(people, crm, auth):
    """Logged in as t1; the namespace holds the people's and the CRM customers' ids."""
    auth.login("t1")
    people.wang, people.li = crm.wang, crm.li
    return people


def _ticket(client, contact_id, **kw):
    body = {"contact_id": contact_id, "subject": "快递丢件", "category": "delivery", **kw}
    return client.post("/api/tickets", json=body)


def test_create_update_note_and_read_a_ticket(client, t1, app):
    """A trainee opens a ticket on their contact, escalates it, adds a note and reads it back with history."""
    r = _ticket(client, t1.c1, priority="high", risk_level="medium", description="包裹三天未更新")
    assert r.status_code == 201, r.get_json()
    number = r.get_json()["number"]
    assert r.get_json()["priority"] == "high" and r.get_json()["contact_ids"] == [t1.c1]

    r = client.patch(
        f"/api/tickets/{number}",
        json={"contact_id": t1.c1, "status": "escalated", "escalation_target": "logistics", "reason": "丢件需物流核实"},
    )
    assert r.status_code == 200 and r.get_json()["status"] == "escalated"
    r = client.post(f"/api/tickets/{number}/notes", json={"contact_id": t1.c1, "body": "已联系物流"})
    assert r.status_code == 201

    full = client.get(f"/api/tickets/{number}").get_json()
    assert full["notes"][0]["body"] == "已联系物流"
    assert ("status", "new", "escalated") in {(h["field"], h["old"], h["new"]) for h in full["history"]}
    assert [t["number"] for t in client.get(f"/api/tickets?contact_id={t1.c1}").get_json()["tickets"]] == [number]
    with app.app_context():
        types = [e.type for e in events_of(t1.c1)]
    assert types == ["ticket.created", "ticket.updated", "ticket.escalated", "ticket.note"]


def test_trainee_cannot_act_on_another_trainees_contact(client, t1):
    """Every write on t2's contact is a 403 JSON error for t1."""
    assert _ticket(client, t1.c2).status_code == 403
    number = _ticket(client, t1.c1).get_json()["number"]
    for method, url, body in (
        ("patch", f"/api/tickets/{number}", {"contact_id": t1.c2, "status": "open"}),
        ("post", f"/api/tickets/{number}/notes", {"contact_id": t1.c2, "body": "x"}),
        ("post", "/api/callbacks", {"contact_id": t1.c2, "due_at": 60, "note": "x", "ticket_number": number}),
        (
            "post",
            f"/api/crm/customers/{t1.wang}/verify",
            {"contact_id": t1.c2, "method": "phone_last4", "result": "verified"},
        ),
    ):
        r = getattr(client, method)(url, json=body)
        assert r.status_code == 403, (url, r.status_code)
        assert "error" in r.get_json()
    r = client.get(f"/api/crm/customers?q=8000&contact_id={t1.c2}")
    assert r.status_code == 403 and "not on your desk" in r.get_json()["error"]


def test_grader_cannot_create_tickets_and_anonymous_is_401(client, people, auth):
    """A grader gets 403 JSON on the desk API; a logged-out caller gets 401 JSON."""
    assert client.post("/api/tickets", json={"contact_id": people.c1}).status_code == 401
    auth.login("grader1")
    r = _ticket(client, people.c1)
    assert r.status_code == 403 and r.is_json and "error" in r.get_json()


def test_lead_can_act_on_any_contact(client, people, auth):
    """A lead opens a ticket on a trainee's contact."""
    auth.login("lead1")
    assert _ticket(client, people.c1).status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"subject": "x" * 201}, 400, "subject"),
        ({"subject": ""}, 400, "subject"),
        ({"category": "bogus"}, 400, "category"),
        ({"priority": "now"}, 400, "priority"),
        ({"contact_id": "abc"}, 400, "contact_id"),
        ({"contact_id": None}, 400, "contact_id"),
        ({"contact_id": 99999}, 404, "contact_id"),
        ({"customer_id": 99999}, 404, "customer_id"),
    ],
)
def test_create_ticket_input_errors(client, t1, body, status, field):
    """Bad input on ticket creation is a JSON error naming the field, never a 500."""
    payload = {"contact_id": t1.c1, "subject": "s", "category": "delivery", **body}
    r = client.post("/api/tickets", json=payload)
    assert r.status_code == status and r.get_json()["field"] == field


def test_update_and_note_input_errors(client, t1):
    """Unknown fields, negative compensation, over-long notes, non-JSON bodies and unknown tickets are refused."""
    number = _ticket(client, t1.c1).get_json()["number"]
    r = client.patch(f"/api/tickets/{number}", json={"contact_id": t1.c1, "ticket": 1})
    assert r.status_code == 400 and r.get_json()["field"] == "ticket"
    r = client.patch(f"/api/tickets/{number}", json={"contact_id": t1.c1, "compensation_amount": -5})
    assert r.status_code == 400 and r.get_json()["field"] == "compensation_amount"
    r = client.post(f"/api/tickets/{number}/notes", json={"contact_id": t1.c1, "body": "n" * 2001})
    assert r.status_code == 400 and r.get_json()["field"] == "body"
    r = client.post(f"/api/tickets/{number}/notes", data="not json", content_type="text/plain")
    assert r.status_code == 400 and "JSON" in r.get_json()["error"]
    assert client.get("/api/tickets/T000").status_code == 404
    assert client.patch("/api/tickets/T000", json={"contact_id": t1.c1, "status": "open"}).status_code == 404
    assert client.get("/api/crm/customers/nope").get_json()["error"]


def test_compensation_over_limit_via_api_is_accepted_and_flagged(client, t1, app):
    """An L4 trainee offering 120 gets 200, and the recorded event carries over_limit and the limit."""
    number = _ticket(client, t1.c1).get_json()["number"]
    r = client.patch(f"/api/tickets/{number}", json={"contact_id": t1.c1, "compensation_amount": 120})
    assert r.status_code == 200 and r.get_json()["compensation_amount"] == 120.0
    with app.app_context():
        ev = events_of(t1.c1, "ticket.updated")[-1]
    assert ev.data["over_limit"] is True and ev.data["limit"] == 50.0


def test_crm_search_profile_verify_flow(client, t1, app):
    """Search by last 4, open masked, verify, open unmasked; the recording shows lookup, open, verify, disclose."""
    assert client.get("/api/crm/customers?q=8000").status_code == 400  # a trainee must name the contact
    found = client.get(f"/api/crm/customers?q=8000&contact_id={t1.c1}").get_json()["customers"]
    assert [c["ref"] for c in found] == ["C0001"]
    cid = found[0]["id"]
    masked = client.get(f"/api/crm/customers/{cid}?contact_id={t1.c1}").get_json()
    assert masked["phone"] == "138****8000" and masked["orders"][0]["order_no"] == "SO20250001"
    with app.app_context():  # the customer gives the details the verification checks
        from contacts.actions import do_post_message
        from contacts.models import Contact
        from extensions import db

        do_post_message(db.session.get(Contact, t1.c1), "customer", "尾号8000")
    r = client.post(
        f"/api/crm/customers/{cid}/verify", json={"contact_id": t1.c1, "method": "bad", "result": "verified"}
    )
    assert r.status_code == 400 and r.get_json()["field"] == "method"
    r = client.post(
        f"/api/crm/customers/{cid}/verify", json={"contact_id": t1.c1, "method": "phone_last4", "result": "verified"}
    )
    assert r.status_code == 200 and r.get_json()["verified"] is True
    full = client.get(f"/api/crm/customers/{cid}?contact_id={t1.c1}").get_json()
    assert full["phone"] == "138-0013-8000" and full["verified"] is True
    with app.app_context():
        types = [e.type for e in events_of(t1.c1) if e.type != "message"]
    assert types == ["crm.lookup", "crm.open", "crm.verify", "crm.open", "crm.disclose"]
    assert client.get(f"/api/crm/customers/4242?contact_id={t1.c1}").status_code == 404
    assert client.get(f"/api/crm/customers?q={'x' * 101}&contact_id={t1.c1}").status_code == 400


def test_callbacks_api(client, t1, app):
    """Schedule with seconds-from-now and ISO times, list mine, complete; bad due_at and unknown ids refused."""
    number = _ticket(client, t1.c1).get_json()["number"]
    r = client.post("/api/callbacks", json={"contact_id": t1.c1, "due_at": 3600, "note": "x"})
    assert r.status_code == 400 and r.get_json()["field"] == "customer_id"  # neither ticket nor customer
    r = client.post(
        "/api/callbacks",
        json={
            "contact_id": t1.c1,
            "customer_id": t1.wang,
            "due_at": "3600",
            "note": "明天回访",
            "ticket_number": number,
        },
    )
    assert r.status_code == 201, r.get_json()
    first = r.get_json()
    assert first["customer_id"] == t1.wang and first["due_at"] > first["created_at"] + 3590

    past = clock.now().replace(microsecond=0).isoformat()
    for due in (past, "tomorrow", "2999-01-01T00:00:00Z", True):
        r = client.post("/api/callbacks", json={"contact_id": t1.c1, "customer_id": t1.wang, "due_at": due})
        assert r.status_code == 400 and r.get_json()["field"] == "due_at", due
    later = clock.now() + timedelta(hours=2)
    r = client.post(
        "/api/callbacks",
        json={"contact_id": t1.c1, "customer_id": t1.wang, "due_at": later.replace(tzinfo=None).isoformat()},
    )
    assert r.status_code == 201 and r.get_json()["due_at"] == pytest.approx(later.timestamp())  # naive ISO is UTC
    second = r.get_json()
    mine = client.get("/api/callbacks").get_json()["callbacks"]
    assert [c["id"] for c in mine] == [first["id"], second["id"]] and mine[0]["ticket_number"] == number
    r = client.post(f"/api/callbacks/{first['id']}/complete", json={"outcome": "已回访"})
    assert r.status_code == 200 and r.get_json()["status"] == "done"
    assert [c["id"] for c in client.get("/api/callbacks").get_json()["callbacks"]] == [second["id"]]
    assert len(client.get("/api/callbacks?status=all").get_json()["callbacks"]) == 2
    assert client.post("/api/callbacks/999/complete", json={"outcome": "x"}).status_code == 404
    assert client.post("/api/callbacks/abc/complete", json={"outcome": "x"}).status_code == 400


def test_odd_values_are_clean_errors(client, t1):
    """NaN times, ids past any integer column, and wrong JSON types give 400/404 JSON, not a 500."""
    r = client.post("/api/callbacks", json={"contact_id": t1.c1, "customer_id": t1.wang, "due_at": "nan"})
    assert r.status_code == 400 and r.get_json()["field"] == "due_at"
    assert client.get(f"/api/crm/customers/{10**30}?contact_id={t1.c1}").status_code == 404
    assert _ticket(client, 10**30).status_code == 404
    for body in ({"category": ["delivery"]}, {"subject": 5}, {"priority": {"x": 1}}):
        r = _ticket(client, t1.c1, **body)
        assert r.status_code == 400 and r.get_json()["field"] == next(iter(body))
    number = _ticket(client, t1.c1).get_json()["number"]
    r = client.patch(f"/api/tickets/{number}", json={"contact_id": t1.c1, "compensation_amount": [1]})
    assert r.status_code == 400
    r = client.patch(f"/api/tickets/{number}", json={"contact_id": t1.c1, "compensation_amount": "Infinity"})
    assert r.status_code == 400
    assert client.get(f"/tickets?page={10**30}").status_code == 200
