"""Assignment rules of the ACD, through the actions other packages call."""

from __future__ import annotations

import pytest

from accounts.models import User
from clock import clock
from contacts.actions import ActionError, do_wrap_up_contact
from contacts.events import subscribe, unsubscribe
from extensions import db
from routing.actions import agent_snapshot, channel_capacities, do_set_agent_state, floor_agents, tick
from routing.models import AgentStateChange

from .helpers import agent, contact, fresh, waiting

# These tests count chat seats; with only chat on, a full chat load makes an agent "busy".
pytestmark = pytest.mark.app_config(ENABLED_CHANNELS=["chat"])


def test_longest_idle_agent_gets_the_contact(app, make_user):
    """Among free agents the one idle longest answers; going away and back restarts an agent's idle time."""
    a, b, c = make_user("ann"), make_user("bob"), make_user("cat")
    with app.app_context():
        agent(a)
        clock.advance(5)
        agent(b)
        clock.advance(5)
        agent(c)
        clock.advance(5)
        agent(a, "away", reason="break")
        agent(a, "available")  # ann is now the most recently idle
        assert fresh(contact().id).agent_id == b
        assert fresh(contact().id).agent_id == c
        assert fresh(contact().id).agent_id == a


def test_chat_agents_fill_evenly_before_anyone_takes_a_second(app, make_user):
    """Least loaded first, then longest idle: three chats over three agents go one each."""
    ids = [make_user(f"ag{i}") for i in range(3)]
    with app.app_context():
        for uid in ids:
            agent(uid)
            clock.advance(1)
        got = [fresh(contact().id).agent_id for _ in range(4)]
        assert got == [ids[0], ids[1], ids[2], ids[0]]


@pytest.mark.app_config(CHAT_CAPACITY=1)
def test_vip_is_answered_before_an_older_ordinary_contact(app, make_user):
    """Priority 1 (VIP) goes first even when an ordinary customer has waited longer."""
    a, b = make_user("ann"), make_user("bob")
    with app.app_context():
        old = contact().id
        clock.advance(30)
        vip = contact(priority=1).id
        assert waiting() == [vip, old]
        agent(a)
        assert fresh(vip).agent_id == a and fresh(old).status == "queued"
        agent(b)
        assert fresh(old).agent_id == b


def test_required_level_is_respected(app, make_user):
    """An L3-only contact never goes to an L5 or L4 trainee, however long idle; a lead (L3) takes it."""
    l5, l4, lead = make_user("l5", level="L5"), make_user("l4", level="L4"), make_user("lead", role="lead")
    with app.app_context():
        agent(l5)
        agent(l4)
        hard = contact(required_level="L3").id
        assert fresh(hard).status == "queued"
        easy = contact(required_level="L4").id
        assert fresh(easy).agent_id == l4  # l5 idles longer but is below L4
        agent(lead)
        assert fresh(hard).agent_id == lead
        assert agent_snapshot(lead)["level"] == "L3"


def test_chat_capacity_caps_an_agent_at_three(app, make_user):
    """With chat capacity 3 the fourth and fifth chats wait; the agent shows busy with load 3."""
    a = make_user("ann")
    with app.app_context():
        agent(a)
        made = [contact().id for _ in range(5)]
        assert [fresh(c).agent_id for c in made] == [a, a, a, None, None]
        snap = agent_snapshot(a)
        assert snap["load"] == {"chat": 3} and snap["capacity"] == {"chat": 3}
        assert snap["state"] == "available" and snap["effective_state"] == "busy"
        assert waiting() == made[3:]


def test_away_and_acw_agents_get_nothing(app, make_user):
    """An away agent and an agent in ACW are skipped; the waiting contact goes when one is available."""
    a, b = make_user("ann"), make_user("bob")
    with app.app_context():
        agent(a)
        first = fresh(contact().id)
        assert first.agent_id == a
        do_wrap_up_contact(first, db.session.get(User, a), "resolved")
        assert agent_snapshot(a)["state"] == "acw"
        agent(b, "away", reason="lunch")
        waiting_id = contact().id
        assert fresh(waiting_id).status == "queued"
        agent(b, "offline")
        assert fresh(waiting_id).status == "queued"
        agent(b)
        assert fresh(waiting_id).agent_id == b


def test_acw_ends_on_tick_after_acw_seconds(app, make_user):
    """ACW lasts ACW_SECONDS of sandbox time; tick() then makes the agent available and hands it the waiting contact."""
    a = make_user("ann")
    with app.app_context():
        agent(a)
        c1 = fresh(contact().id)
        do_wrap_up_contact(c1, db.session.get(User, a), "resolved")
        snap = agent_snapshot(a)
        assert snap["state"] == "acw" and snap["load"] == {"chat": 0}
        assert snap["acw_until"] == pytest.approx(clock.timestamp() + app.config["ACW_SECONDS"], abs=0.5)
        c2 = contact().id
        assert tick() == [] and fresh(c2).status == "queued"
        clock.advance(app.config["ACW_SECONDS"] + 0.1)
        assert tick() == [a]
        assert fresh(c2).agent_id == a
        states = [r.state for r in db.session.scalars(db.select(AgentStateChange).order_by(AgentStateChange.id))]
        assert states == ["available", "acw", "available"]


def test_agent_state_is_published_and_validated(app, make_user):
    """Setting a state publishes agent_state; graders, busy, unknown states and foreign queues are refused."""
    a, g = make_user("ann"), make_user("gina", role="grader")
    seen = []
    subscribe(seen.append)
    try:
        with app.app_context():
            snap = agent(a, "away", reason="coaching")
            assert snap["state"] == "away" and snap["reason"] == "coaching"
            with pytest.raises(ActionError):
                agent(g)
            with pytest.raises(ActionError, match="busy"):
                agent(a, "busy")
            with pytest.raises(ActionError):
                agent(a, "sleeping")
            with pytest.raises(ActionError):
                agent(a, queues=["voice.general"])  # voice is not an enabled channel here
            assert [x["agent_id"] for x in floor_agents()] == [a]
    finally:
        unsubscribe(seen.append)
    events = [e for e in seen if e["type"] == "agent_state"]
    assert events and events[0]["agent"]["agent_id"] == a and events[0]["agent"]["state"] == "away"


def test_agents_serve_only_their_queues(app, make_user):
    """An agent given chat.billing answers billing contacts only; chat.* agents answer any chat queue."""
    billing, anyq = make_user("bill"), make_user("any")
    with app.app_context():
        snap = agent(billing, queues=["chat.billing"])
        assert snap["queues"] == ["chat.billing"]
        general = contact("chat.general").id
        assert fresh(general).status == "queued"
        bill = contact("chat.billing").id
        assert fresh(bill).agent_id == billing
        agent(anyq)
        assert fresh(general).agent_id == anyq
        with pytest.raises(ActionError):
            do_set_agent_state(db.session.get(User, anyq), "available", queues=["general"])


@pytest.mark.app_config(ENABLED_CHANNELS=["chat", "email", "voice", "livestream"], CHAT_CAPACITY=2, EMAIL_CAPACITY=4)
def test_seats_per_channel_come_from_each_channel_type(app):
    """The ACD's seats per enabled channel are each channel type's capacity (registered by channels' init_app,
    routing imports no channel): the configured chat and email figures, one call, one livestream."""
    with app.app_context():
        assert channel_capacities() == {"chat": 2, "email": 4, "voice": 1, "livestream": 1}
        app.config["CHAT_CAPACITY"] = 5  # read when asked, not when registered
        assert channel_capacities()["chat"] == 5
