"""Outbound callback calls: a due callback becomes a voice contact reserved for its agent; a person answers
on the caller page (the callback was not promised on a simulated call)."""

from __future__ import annotations

import pytest

from clock import clock
from extensions import db, socketio

from .conftest import agent_sockets, events_of, wait_for


@pytest.fixture
def scheduled(voice_app, make_user):
    app = voice_app
    agent_id = make_user("agent1")
    with app.app_context():
        from accounts.models import User
        from tickets.callbacks import do_schedule_callback
        from tickets.models import Customer

        cust = Customer(ref="C0009", lang="en", name="Alice Smith", phone="555-010-8000")
        db.session.add(cust)
        db.session.commit()
        cb = do_schedule_callback(db.session.get(User, agent_id), None, cust.id, clock.timestamp() + 60, "refund")
        cb_id = cb.id
        db.session.remove()
    return app, cb_id


def test_call_back_places_a_reserved_outbound_call(scheduled):
    """The agent's call_back creates a voice contact in voice.outbound reserved for them, assigned to them (the
    ACD), recorded as call.outbound with the callback's id; the caller page's token can answer it."""
    app, cb_id = scheduled
    desk, voice, _ = agent_sockets(app, "agent1")
    res = voice.emit("call_back", {"callback_id": cb_id}, namespace="/voice", callback=True)
    assert res["ok"], res
    contact = res["contact"]
    assert contact["channel"] == "voice" and contact["queue"] == "voice.outbound"
    cid = contact["id"]
    with app.app_context():
        from contacts.models import Contact

        wait_for(lambda: db.session.get(Contact, cid, populate_existing=True).status == "active")
        c = db.session.get(Contact, cid)
        assert c.agent_id == c.reserved_agent_id and c.customer_name == "Alice Smith" and c.customer_id is not None
        token = c.customer_token
        db.session.remove()
    assert res["answer_url"].endswith(f"/customer/call?contact={cid}&token={token}")
    out = events_of(app, cid, "call.outbound")
    assert out and out[0]["data"]["callback_id"] == cb_id


def test_someone_elses_callback_is_refused(scheduled, make_user):
    """Another agent cannot place this agent's callback call."""
    app, cb_id = scheduled
    make_user("agent2")
    _, voice2, _ = agent_sockets(app, "agent2")
    res = voice2.emit("call_back", {"callback_id": cb_id}, namespace="/voice", callback=True)
    assert not res["ok"] and "not yours" in res["error"]
    res = voice2.emit("call_back", {"callback_id": "x"}, namespace="/voice", callback=True)
    assert not res["ok"] and "must be a number" in res["error"]
    anon = socketio.test_client(app, namespace="/voice", flask_test_client=app.test_client())
    res = anon.emit("call_back", {"callback_id": cb_id}, namespace="/voice", callback=True)
    assert not res["ok"]
