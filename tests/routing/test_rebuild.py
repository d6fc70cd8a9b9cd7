"""Live state rebuilt from the database after Redis lost it (a restart with a fresh Redis)."""

from __future__ import annotations

import pytest

from accounts.models import User
from clock import clock
from contacts.actions import do_transfer_contact
from extensions import db, redis_store
from routing.actions import agent_snapshot, get_acd, rebuild_live_state

from .helpers import agent, contact, fresh, waiting

# These tests count chat seats; with only chat on, a full chat load makes an agent "busy".
pytestmark = pytest.mark.app_config(ENABLED_CHANNELS=["chat"])


def test_rebuild_restores_queues_and_seats(app, make_user):
    """After a Redis flush: queues come back in order, held contacts count as seats, named transfers still wait."""
    ann, bob, cat = make_user("ann"), make_user("bob"), make_user("cat")
    with app.app_context():
        agent(ann)
        held = [fresh(contact().id) for _ in range(2)]
        do_transfer_contact(held[1], db.session.get(User, ann), target_kind="agent", target="cat", note="yours")
        agent(ann, "offline")
        old = contact().id
        clock.advance(3)
        vip = contact(priority=1).id
        assert waiting() == [held[1].id, vip, old]

        redis_store.flush_prefix()
        assert waiting() == [] and not get_acd().agent_exists(ann)
        assert rebuild_live_state() == {"queued": 3, "agents": 0}
        assert waiting() == [held[1].id, vip, old]

        snap = agent(ann)  # registers again: the contact she still holds takes one of her three seats
        assert snap["load"] == {"chat": 3}
        assert fresh(vip).agent_id == ann and fresh(old).agent_id == ann
        agent(bob)
        assert fresh(held[1].id).status == "queued"
        agent(cat)
        assert fresh(held[1].id).agent_id == cat


def test_rebuild_recounts_seats_of_registered_agents(app, make_user):
    """A registered agent whose seats drifted from the database is recounted by the rebuild."""
    ann = make_user("ann")
    with app.app_context():
        agent(ann)
        c = fresh(contact().id)
        acd = get_acd()
        acd.client.hset(acd.key("agent", ann), "load:chat", 3)
        acd.client.delete(acd.key("seats", ann))
        assert agent_snapshot(ann)["effective_state"] == "busy"
        rebuild_live_state()
        assert acd.agent_seats(ann) == {c.id: "chat"}
        assert agent_snapshot(ann)["load"] == {"chat": 1}
