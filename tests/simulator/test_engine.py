"""The engine with a real app: simulated customers open chat contacts, answer the agent, leave and rate."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from channels.chat.customer_side import start_chat
from contacts.actions import do_post_message
from contacts.models import Contact, ContactEvent
from extensions import db
from routing.actions import do_set_agent_state
from simulator.content import StaticContent
from simulator.engine import SimulatorError
from tickets.models import Customer

from .. import factories
from .builders import en_late_parcel, en_pack, zh_pack, zh_refund

ANSWER = "退款会在三个工作日内原路退回。"


@pytest.fixture
def engine(app):
    eng = app.extensions["kefu_simulator"]
    eng.content = StaticContent(
        [zh_pack(), en_pack()],
        [zh_refund(type="talkative"), en_late_parcel(type="rational", patience=90)],
        lang_of={"zh-test-refund": "zh_CN", "en-test-parcel": "en"},
    )
    with app.app_context():
        db.session.add(Customer(ref="C9001", lang="zh_CN", name="王芳", phone="13800001234", vip=True))
        db.session.commit()
    return eng


def _events(cid: int) -> list[ContactEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(select(ContactEvent).where(ContactEvent.contact_id == cid).order_by(ContactEvent.seq))
    )


def _customer_lines(cid: int) -> list[str]:
    return [e.text for e in _events(cid) if e.type == "message" and e.actor == "customer"]


def test_simulated_customer_follows_the_scenario_and_rates(app, engine):
    """Opening, fact on request, answer accepted, leaves satisfied, answers the CSAT survey with 5."""
    with app.app_context():
        agent = factories.user("agent1", role="trainee", level="L4")
        do_set_agent_state(agent, "available")
        cid = engine.start_customer("zh-test-refund", seed=3)
        contact = db.session.get(Contact, cid)
        assert contact.simulated and contact.scenario_id == "zh-test-refund"
        assert contact.customer_name == "王芳" and contact.priority == 1 and contact.required_level == "L4"
        assert contact.status == "active" and contact.agent_id == agent.id

        engine.run_until_idle(60)
        assert _customer_lines(cid) == ["你好，我上周申请的退款到现在还没到账。"]

        agent_msg, _ = do_post_message(contact, "agent", "您好，请提供订单号。", actor_id=agent.id)
        engine.run_until_idle(60)
        lines = _customer_lines(cid)
        assert lines[1:] == ["订单号是A20240501。", "你好，我的退款一直没到。"]
        reply = [e for e in _events(cid) if e.type == "message" and e.text == "订单号是A20240501。"][0]
        assert reply.ts > agent_msg["ts"] + 1  # typed, not instant
        assert any(e.type == "typing" and e.actor == "customer" and e.seq < reply.seq for e in _events(cid))

        do_post_message(contact, "agent", ANSWER, actor_id=agent.id)
        engine.run_until_idle(20)
        assert _customer_lines(cid)[3:] == ["好的，三个工作日是吧。", "好的，谢谢，我再等等。"]
        # Every goal is met, but the customer stays for the agent's closing instead of vanishing.
        assert db.session.get(Contact, cid).status == "active"
        do_post_message(contact, "agent", "还有别的需要帮忙的吗？祝您生活愉快。", actor_id=agent.id)
        engine.run_until_idle(60)
        types = [e.type for e in _events(cid)]
        assert types[-3:] == ["contact.ended", "csat.invited", "csat.answered"]
        ended = [e for e in _events(cid) if e.type == "contact.ended"][0]
        assert ended.actor == "customer" and ended.data["reason"] == "satisfied"
        assert db.session.get(Contact, cid).csat == 5
        assert engine.live_count() == 0

        # The customer's mind is recorded after every reaction, for grading and leads, but not for the desk.
        states = [e for e in _events(cid) if e.type == "customer.state"]
        assert states and states[-1].actor == "simulator" and states[-1].data["end"] == "satisfied"
        assert set(states[-1].data["goals_done"]) == set(states[-1].data["goals"])
        from channels.chat.transcript import events_after

        assert not [e for e in events_after(contact, 0, staff=True) if e["type"] == "customer.state"]


def test_agent_ending_early_gets_a_low_rating(app, engine):
    """When the agent ends the chat before the customer's goals are met, the customer rates it low."""
    with app.app_context():
        agent = factories.user("agent1", role="trainee", level="L4")
        do_set_agent_state(agent, "available")
        cid = engine.start_customer("zh-test-refund", seed=4)
        engine.run_until_idle(30)
        contact = db.session.get(Contact, cid)
        do_post_message(contact, "agent", "这是规定，没办法。", actor_id=agent.id)
        engine.run_until_idle(30)
        from contacts.actions import do_end_contact

        do_end_contact(contact, "agent", actor_id=agent.id, reason="agent_closed")
        engine.run_until_idle(30)
        assert db.session.get(Contact, cid).csat == 1  # furious, goals unmet


def test_queued_customer_loses_patience_and_abandons(app, engine):
    """With no agent, the customer asks if anyone is there, then gives up: the contact is abandoned."""
    with app.app_context():
        cid = engine.start_customer("en-test-parcel", seed=1)
        assert db.session.get(Contact, cid).status == "queued"
        engine.run_for(200, step=2.0)
        contact = db.session.get(Contact, cid)
        assert contact.status == "abandoned"
        lines = _customer_lines(cid)
        assert lines[0] == "Hi, my parcel is three days late." and len(lines) >= 3
        abandoned = [e for e in _events(cid) if e.type == "contact.abandoned"][0]
        assert abandoned.data["reason"] == "abandoned"
        assert engine.live_count() == 0


def test_unknown_or_non_chat_scenario_is_refused(app, engine):
    """start_customer refuses a scenario it cannot find."""
    with app.app_context(), pytest.raises(SimulatorError):
        engine.start_customer("nope")


def test_restart_ends_orphaned_simulated_contacts(app, engine):
    """On start, simulated contacts whose customer's mind was lost are ended with reason simulator_restarted."""
    with app.app_context():
        orphan = start_chat(lang="en", queue="chat.general", customer_name="Lost", simulated=True)
        person = start_chat(lang="en", queue="chat.general", customer_name="Real person")
        engine.recover()
        assert db.session.get(Contact, orphan.id).status == "abandoned"
        assert [e.data["reason"] for e in _events(orphan.id) if e.type == "contact.abandoned"] == [
            "simulator_restarted"
        ]
        assert db.session.get(Contact, person.id).status == "queued"


def test_exercise_runs_its_arrival_plan(app, engine):
    """A started exercise stores its plan, starts a customer per arrival, and finishes when all are done."""
    from simulator.models import Exercise

    with app.app_context():
        ex = Exercise(name="drill", mix={"en-test-parcel": 1}, rate_per_minute=6, duration_seconds=60, seed=9)
        db.session.add(ex)
        db.session.commit()
        engine.start_exercise(ex)
        assert ex.status == "running" and ex.schedule and ex.started_at is not None
        engine.run_for(61, step=1.0)
        started = db.session.scalars(select(Contact).where(Contact.exercise_id == ex.id)).all()
        assert len(started) == len(ex.schedule)
        engine.run_for(300, step=3.0)
        db.session.refresh(ex)
        assert ex.status == "finished" and ex.ended_at is not None
        with pytest.raises(SimulatorError):
            engine.start_exercise(ex)


@pytest.mark.app_config(SIMULATOR_ENABLED=True, CLOCK_SPEED=20.0)
def test_worker_thread_drives_customers_in_the_background(app, engine):
    """With the simulator enabled, its own thread answers the agent (no test-driven ticks), on a 20x clock."""
    import time

    def wait_for(pred, seconds=10.0):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.05)
        return False

    with app.app_context():
        agent = factories.user("agent1", role="trainee", level="L4")
        do_set_agent_state(agent, "available")
        cid = engine.start_customer("zh-test-refund", seed=3)
        engine.ensure_started()
        assert wait_for(lambda: len(_customer_lines(cid)) == 1)
        do_post_message(db.session.get(Contact, cid), "agent", "请提供订单号。", actor_id=agent.id)
        assert wait_for(lambda: "订单号是A20240501。" in _customer_lines(cid))
    engine.stop()


def test_practice_customer_is_reserved_for_its_trainee(app, engine):
    """A practice customer reserved for a trainee waits for that trainee even when another agent is idle longer."""
    with app.app_context():
        idle_longer = factories.user("idle", role="trainee", level="L4")
        mine = factories.user("mine", role="trainee", level="L4")
        do_set_agent_state(idle_longer, "available")
        cid = engine.start_customer("zh-test-refund", seed=1, started_by=mine.id, reserve_for=mine.id)
        assert db.session.get(Contact, cid).status == "queued"  # not offered to the other agent
        do_set_agent_state(mine, "available")
        contact = db.session.get(Contact, cid)
        db.session.refresh(contact)
        assert contact.status == "active" and contact.agent_id == mine.id


def test_a_customer_whose_contact_fails_to_commit_is_not_driven(app, engine):
    """The commit of a new customer's contact fails (the database refuses it): nothing of the customer is left -
    not driven here, no opening due, no owner record, no contact - and the next customer starts as usual (before:
    it was registered in memory before the commit and stayed, a customer of a contact that does not exist)."""
    from sqlalchemy import event

    from extensions import redis_store

    def refuse(session):
        raise RuntimeError("the database refused the commit")

    with app.app_context():
        event.listen(db.session, "before_commit", refuse)
        try:
            with pytest.raises(RuntimeError, match="refused the commit"):
                engine.start_customer("en-test-parcel", seed=4)
        finally:
            event.remove(db.session, "before_commit", refuse)
        assert engine.live == {} and engine._ids == set() and engine._actions == []
        assert db.session.scalars(select(Contact)).all() == []
        assert list(redis_store.client.scan_iter(redis_store.key("sim", "contact", "*"))) == []

        cid = engine.start_customer("en-test-parcel", seed=4)
        engine.run_until_idle(60)
        assert list(engine.live) == [cid] and len(_customer_lines(cid)) == 1
