"""Opening a contact hands its caller a contact it can read, whatever ran after the commit (issue 18: a
DetachedInstanceError was logged once in /customer ``start`` under overload). The action's commit expires the
instance; what runs after it (in-process listeners of the published events, the dispatch and its assignment
actions) may end the session the instance belonged to, and the handler then read ``contact.id`` from an instance
with no session."""

from __future__ import annotations

from contacts.events import subscribe, unsubscribe
from extensions import db
from extensions import socketio as kefu_socketio

START = {"name": "Ms Lin", "queue": "chat.general", "lang": "en"}


def _ends_the_session(payload: dict) -> None:
    """An in-process listener that ends its context's session when it is done, as listeners that work in the
    publisher's context with the database may (``finally: db.session.remove()``)."""
    if (payload.get("event") or {}).get("type") in ("contact.created", "assignment"):
        db.session.remove()


def test_a_customer_start_is_answered_when_the_session_ended_after_the_commit(app, make_user):
    """/customer start with a listener ending the session after the contact's commit (and an agent available, so
    the dispatch's own commit runs too): the ack carries the contact's id, token and status; before the fix it
    was ``{"ok": false}`` with DetachedInstanceError logged."""
    from contacts.models import Contact

    make_user("agent1", level="L4")
    http = app.test_client()
    assert http.post("/login", data={"username": "agent1", "password": "pass1234"}).status_code == 302
    desk = kefu_socketio.test_client(app, namespace="/desk", flask_test_client=http)
    assert desk.emit("set_state", {"state": "available"}, namespace="/desk", callback=True)["ok"]
    customer = kefu_socketio.test_client(app, namespace="/customer", flask_test_client=app.test_client())
    subscribe(_ends_the_session)
    try:
        ack = customer.emit("start", START, namespace="/customer", callback=True)
        second = customer.emit("start", {**START, "name": "Mr Ho"}, namespace="/customer", callback=True)
    finally:
        unsubscribe(_ends_the_session)
    assert ack["ok"], ack
    assert second["ok"], second
    with app.app_context():
        first = db.session.get(Contact, ack["contact_id"])
        assert first.customer_token == ack["token"]
        assert (first.status, ack["status"]) == ("active", "active")  # assigned by the dispatch after the commit
        assert db.session.get(Contact, second["contact_id"]).customer_token == second["token"]
    mine = {"contact_id": ack["contact_id"], "token": ack["token"]}
    resume = customer.emit("resume", mine, namespace="/customer", callback=True)
    assert resume["ok"], resume
