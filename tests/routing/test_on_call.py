"""An agent holding a call is on that call in the ACD: offered nothing else until the call's wrap-up."""

from __future__ import annotations

import pytest

from accounts.models import User
from clock import clock
from contacts.actions import do_create_contact, do_wrap_up_contact
from contacts.events import subscribe, unsubscribe
from extensions import db
from routing.actions import agent_snapshot, tick

from .helpers import agent, contact, fresh

pytestmark = pytest.mark.app_config(ENABLED_CHANNELS=["chat", "voice"])


def test_a_call_makes_the_agent_on_call_until_its_wrap_up(app, make_user):
    """A ringing call makes the agent on_call (published, chats wait though a chat seat is free); after the call's
    wrap-up and ACW the agent is available again and the waiting chat is offered."""
    a = make_user("ann")
    seen: list[dict] = []
    subscribe(seen.append)
    try:
        with app.app_context():
            agent(a)
            call = fresh(_call().id)
            assert call.agent_id == a
            snap = agent_snapshot(a)
            assert snap["state"] == "available" and snap["effective_state"] == "on_call"
            assert snap["load"]["voice"] == 1 and snap["load"]["chat"] == 0
            chat = contact().id
            assert fresh(chat).status == "queued"  # a free chat seat, but the agent is on a call
            do_wrap_up_contact(call, db.session.get(User, a), "resolved")
            snap = agent_snapshot(a)
            assert snap["state"] == "acw" and snap["effective_state"] == "acw"
            assert fresh(chat).status == "queued"
            clock.advance(app.config["ACW_SECONDS"] + 0.1)
            assert tick() == [a]
            assert fresh(chat).agent_id == a
            assert agent_snapshot(a)["effective_state"] == "available"
    finally:
        unsubscribe(seen.append)
    states = [e["agent"]["effective_state"] for e in seen if e["type"] == "agent_state"]
    assert "on_call" in states and states.index("on_call") < states.index("acw")


def test_chats_held_before_a_call_stay_and_the_call_still_rings(app, make_user):
    """An agent chatting with a free call seat still gets a call; once on it, the chats it holds stay with it and
    no new chat is offered; a chat agent without calls is unaffected."""
    a = make_user("ann")
    with app.app_context():
        agent(a)
        held = fresh(contact().id)
        assert held.agent_id == a and agent_snapshot(a)["effective_state"] == "available"
        call = fresh(_call().id)
        assert call.agent_id == a and fresh(held.id).agent_id == a
        assert agent_snapshot(a)["effective_state"] == "on_call"
        assert fresh(contact().id).status == "queued"


def _call():
    return do_create_contact("voice", "voice.general")
