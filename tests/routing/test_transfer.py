"""Transfers through contacts.actions.do_transfer_contact: to a queue, a level and a named agent."""

from __future__ import annotations

import pytest

from accounts.models import User
from clock import clock
from contacts.actions import ActionError, do_transfer_contact
from extensions import db
from routing.actions import agent_snapshot

from .helpers import agent, contact, fresh, waiting

# These tests count chat seats; with only chat on, a full chat load makes an agent "busy".
pytestmark = pytest.mark.app_config(ENABLED_CHANNELS=["chat"])


def _user(uid):
    return db.session.get(User, uid)


@pytest.mark.app_config(CHAT_CAPACITY=1)
def test_transfer_to_queue_frees_the_seat_and_goes_to_the_front(app, make_user):
    """A queue transfer frees the sender's seat, moves the contact to the new queue and never back to the sender."""
    ann, bob = make_user("ann"), make_user("bob")
    with app.app_context():
        agent(ann)
        held = fresh(contact("chat.general").id)
        assert held.agent_id == ann
        clock.advance(10)
        older = contact("chat.billing").id  # waiting longer in billing than the transfer will
        assert agent_snapshot(ann)["load"] == {"chat": 1}
        do_transfer_contact(held, _user(ann), target_kind="queue", target="chat.billing", note="billing question")
        held = fresh(held.id)
        # ann is free again, but the transferred contact is not offered back to her: she gets the older one
        assert fresh(older).agent_id == ann
        assert held.status == "queued" and held.queue == "chat.billing"
        assert waiting("chat.billing") == [held.id]
        agent(bob)
        assert fresh(held.id).agent_id == bob


@pytest.mark.app_config(CHAT_CAPACITY=1)
def test_transferred_contact_is_offered_before_older_waiting_ones(app, make_user):
    """In its new queue a transferred contact stands in front of contacts that were already waiting."""
    ann, bob = make_user("ann"), make_user("bob")
    with app.app_context():
        agent(ann)
        held = fresh(contact("chat.general").id)
        vip = contact("chat.general", priority=1).id
        plain = contact("chat.general").id
        do_transfer_contact(held, _user(ann), target_kind="queue", target="chat.general", note="colleague please")
        assert fresh(vip).agent_id == ann  # the freed seat; the transfer excludes ann
        assert waiting("chat.general") == [held.id, plain]
        agent(bob)
        assert fresh(held.id).agent_id == bob


def test_transfer_to_level_needs_an_agent_of_that_level(app, make_user):
    """A transfer to L3 skips L4 trainees and waits for an L3 agent (a lead)."""
    l4a, l4b, lead = make_user("l4a"), make_user("l4b"), make_user("lead", role="lead")
    with app.app_context():
        agent(l4a)
        held = fresh(contact().id)
        agent(l4b)
        do_transfer_contact(held, _user(l4a), target_kind="level", target="L3", note="needs a senior")
        held = fresh(held.id)
        assert held.status == "queued" and held.required_level == "L3"
        assert agent_snapshot(l4a)["load"] == {"chat": 0}
        agent(lead)
        assert fresh(held.id).agent_id == lead
        last = fresh(held.id).events.all()[-2]
        assert last.type == "transfer" and last.data["required_level"] == "L3"


def test_transfer_to_named_agent_reaches_only_that_agent(app, make_user):
    """A transfer to a named agent waits for that agent even though others are free and idle longer."""
    ann, bob, cat = make_user("ann"), make_user("bob"), make_user("cat")
    with app.app_context():
        agent(ann)
        held = fresh(contact().id)
        agent(bob)
        do_transfer_contact(held, _user(ann), target_kind="agent", target="cat", note="your customer")
        assert fresh(held.id).status == "queued"
        assert agent_snapshot(bob)["load"] == {"chat": 0}
        agent(cat)
        assert fresh(held.id).agent_id == cat
        ev = [e for e in fresh(held.id).events if e.type == "transfer"][0]
        assert ev.data["target_agent_id"] == cat
        # by user id as well
        do_transfer_contact(fresh(held.id), _user(cat), target_kind="agent", target=str(ann), note="back to you")
        assert fresh(held.id).agent_id == ann


def test_bad_transfers_are_refused(app, make_user):
    """Self, unknown or non-agent targets, bad levels and bad queues are refused; the contact stays put."""
    ann = make_user("ann")
    make_user("gina", role="grader")
    make_user("l5", level="L5")
    with app.app_context():
        agent(ann)
        held = fresh(contact(required_level="L4").id)
        cases = [
            ("agent", "ann", "yourself"),
            ("agent", "nobody", "no agent"),
            ("agent", "gina", "does not take"),
            ("agent", "l5", "needs L4"),
            ("level", "L9", "level must be"),
            ("queue", "general", "not a queue id"),
            ("queue", "voice.general", "not enabled"),
            ("queue", "chat.*", "choose one queue"),
            ("desk", "x", "queue, a level or an agent"),
        ]
        for kind, target, msg in cases:
            with pytest.raises(ActionError, match=msg):
                do_transfer_contact(held, _user(ann), target_kind=kind, target=target, note="n")
        held = fresh(held.id)
        assert held.status == "active" and held.agent_id == ann
        assert agent_snapshot(ann)["load"] == {"chat": 1}
