"""A desk stops receiving a contact once it leaves the desk (transfer, take-over, wrap-up); a customer token
works only on its own channel; the CRM's reveal needs a contact the caller holds and is recorded on it."""

from __future__ import annotations

from sqlalchemy import select

from contacts.models import Contact, ContactEvent
from extensions import db, socketio

from .world import login


def _lines(sock, cid):
    return [
        m["args"][0]["event"]
        for m in sock.get_received("/desk")
        if m["name"] == "event"
        and m["args"][0]["type"] == "contact_event"
        and m["args"][0]["event"]["contact_id"] == cid
        and m["args"][0]["event"]["type"] == "message"
    ]


def _customer_says(app, world, text):
    cust = socketio.test_client(app, namespace="/customer", flask_test_client=app.test_client())
    ack = cust.emit(
        "send",
        {"contact_id": world["chat"], "token": world["chat_token"], "text": text},
        namespace="/customer",
        callback=True,
    )
    assert ack["ok"], ack


def test_desk_stops_receiving_a_transferred_contact(app, world):
    """After the owner transfers the chat to a queue, the customer's next line reaches the owner's desk no more."""
    desk = socketio.test_client(app, namespace="/desk", flask_test_client=login(app, "owner"))
    _customer_says(app, world, "before")
    assert [e["text"] for e in _lines(desk, world["chat"])] == ["before"]
    ack = desk.emit(
        "transfer",
        {"contact_id": world["chat"], "target_kind": "queue", "target": "chat.general", "note": "billing question"},
        namespace="/desk",
        callback=True,
    )
    assert ack["ok"], ack
    _customer_says(app, world, "after the transfer")
    assert _lines(desk, world["chat"]) == []


def test_desk_stops_receiving_a_contact_taken_over(app, world):
    """After the group lead takes the chat over, the trainee's desk no longer receives its lines."""
    desk = socketio.test_client(app, namespace="/desk", flask_test_client=login(app, "owner"))
    floor = socketio.test_client(app, namespace="/floor", flask_test_client=login(app, "lead"))
    ack = floor.emit("take_over", {"contact_id": world["chat"]}, namespace="/floor", callback=True)
    assert ack["ok"], ack
    desk.get_received("/desk")
    _customer_says(app, world, "are you still there")
    assert _lines(desk, world["chat"]) == []


def test_group_room_token_is_refused_on_customer_chat(app, world):
    """A group room's join token opens nothing on /customer: resume, send and leave are refused and the room
    stays open."""
    cust = socketio.test_client(app, namespace="/customer", flask_test_client=app.test_client())
    payload = {"contact_id": world["room"], "token": world["room_token"]}
    for event, extra in (("resume", {}), ("send", {"text": "hi"}), ("leave", {})):
        ack = cust.emit(event, {**payload, **extra}, namespace="/customer", callback=True)
        assert not ack["ok"], (event, ack)
    with app.app_context():
        assert db.session.get(Contact, world["room"]).status == "active"


def test_call_token_is_refused_on_customer_chat(app, world):
    """A voice call's customer token is for the caller page only: /customer refuses it."""
    cust = socketio.test_client(app, namespace="/customer", flask_test_client=app.test_client())
    ack = cust.emit(
        "resume", {"contact_id": world["call"], "token": world["call_token"]}, namespace="/customer", callback=True
    )
    assert not ack["ok"]


def test_crm_reveal_needs_a_held_contact_and_is_recorded(app, world):
    """reveal=1 without a contact, or on a contact the caller does not hold, is refused and shows nothing
    unmasked; on the caller's own contact it is recorded as crm.disclose (verified false)."""
    owner = login(app, "owner")
    url = f"/api/crm/customers/{world['customer']}?reveal=1"
    res = owner.get(url)
    assert res.status_code == 400 and "contact" in res.json["error"], res.json
    lead = login(app, "lead")
    res = lead.get(url + f"&contact_id={world['chat']}")
    assert res.status_code == 403, res.json
    res = login(app, "admin").get(url)
    assert res.status_code == 400
    res = owner.get(url + f"&contact_id={world['chat']}")
    assert res.status_code == 200 and res.json["masked"] is False
    with app.app_context():
        ev = db.session.scalar(
            select(ContactEvent).where(ContactEvent.contact_id == world["chat"], ContactEvent.type == "crm.disclose")
        )
        assert ev is not None and ev.data["verified"] is False and ev.data["customer_id"] == world["customer"]
    # without reveal, a lead still opens a profile with no contact, masked (looking a customer up)
    res = lead.get(f"/api/crm/customers/{world['customer']}")
    assert res.status_code == 200 and res.json["masked"] is True
