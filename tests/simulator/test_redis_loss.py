"""Simulated customers after a Redis loss and across processes (issue 18): an agent's line whose log entry the loss
took is heard from the recording, once; stopping an exercise ends its customers wherever they are driven."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from channels.chat.customer_side import start_chat
from contacts.actions import do_post_message
from contacts.events import append_event, publish_contact_event
from contacts.models import Contact, ContactEvent
from contacts.stream import get_event_log
from extensions import db
from routing.actions import do_set_agent_state
from simulator.content import StaticContent
from simulator.models import Exercise
from simulator.ownership import Ownership

from .. import factories
from .builders import PARCEL, parcel_engine


@pytest.fixture
def engine(app):
    return parcel_engine(app)


def _customer_lines(cid: int) -> list[str]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(ContactEvent)
        .where(ContactEvent.contact_id == cid, ContactEvent.type == "message", ContactEvent.actor == "customer")
        .order_by(ContactEvent.seq)
    )
    return [e.text for e in rows]


def _greeted(engine) -> tuple:
    """An available agent ("agent1") and a parcel customer (seed 4) the engine ran until idle, its opening said:
    (the agent, the contact id)."""
    agent = factories.user("agent1", role="trainee", level="L4")
    do_set_agent_state(agent, "available")
    cid = engine.start_customer(PARCEL, seed=4)
    engine.run_until_idle(60)
    return agent, cid


def test_catch_up_applies_a_line_the_log_lost_once(app, engine):
    """An agent's line recorded but never delivered (Redis lost its entry) is answered after the catch-up; a
    second catch-up, and the entry coming late after all, change nothing."""
    with app.app_context():
        agent, cid = _greeted(engine)
        assert len(_customer_lines(cid)) == 1  # the opening
        assert engine.catch_up() == 0  # nothing new: nothing scheduled
        assert engine._actions == []

        # Recorded, never published: the entry the flush took.
        lost, _ = append_event(cid, "message", "agent", actor_id=agent.id, text="Could you give me your order number?")
        engine.run_until_idle(60)
        assert len(_customer_lines(cid)) == 1  # not heard without the catch-up

        assert engine.catch_up() == 1
        engine.run_until_idle(60)
        answered = _customer_lines(cid)
        assert len(answered) > 1
        assert lost.seq in engine.live[cid].seen

        assert engine.catch_up() == 0
        publish_contact_event(lost)  # the entry turns up after all (the in-process path)
        engine.run_until_idle(60)
        assert engine._actions == []
        assert _customer_lines(cid) == answered


def test_stopping_an_exercise_ends_its_customers_wherever_they_are_driven(app, engine):
    """Stop tells every live process driving one of the exercise's customers (not only the one running its
    arrivals), and ends here a customer whose driver is dead (a killed simulator worker nobody adopted from)."""
    liveness = engine.liveness
    other, dead = "host-2-web", "host-3-simworker"
    with app.app_context():
        liveness.client.set(liveness.proc_key(other), 1, ex=30)  # a live web process (its heartbeat)
        ex = Exercise(name="drill", mix={PARCEL: 1}, rate_per_minute=1, duration_seconds=600, seed=2)
        db.session.add(ex)
        db.session.commit()
        engine.start_exercise(ex)
        here = engine.start_customer(PARCEL, exercise_id=ex.id, seed=1)
        taken = start_chat(lang="en", queue="chat.general", customer_name="A", simulated=True, exercise_id=ex.id)
        stranded = start_chat(lang="en", queue="chat.general", customer_name="B", simulated=True, exercise_id=ex.id)
        engine.ownership.claim("contact", taken.id, owner=other, seed=5, exercise_id=ex.id)
        engine.ownership.claim("contact", stranded.id, owner=dead, seed=6, exercise_id=ex.id)
        engine.run_until_idle(30)

        engine.stop_exercise(ex)

        db.session.expire_all()
        assert db.session.get(Exercise, ex.id).status == "stopped"
        assert db.session.get(Contact, here).status not in ("queued", "active")
        assert db.session.get(Contact, stranded.id).status not in ("queued", "active")
        reasons = [
            e.data.get("reason")
            for e in db.session.scalars(select(ContactEvent).where(ContactEvent.contact_id == stranded.id))
            if e.type in ("contact.ended", "contact.abandoned")
        ]
        assert reasons == ["exercise_stopped"]
        # The live process driving the taken-over customer is told; it ends its own customer.
        assert db.session.get(Contact, taken.id).status == "queued"
        log_ = get_event_log(app)
        inbox = log_.client.xrange(log_.key("inbox", "simulator", other))
        assert [json.loads(fields["x"]) for _, fields in inbox] == [{"stop_exercise": ex.id, "end_customers": True}]
        assert not log_.client.exists(log_.key("inbox", "simulator", dead))


def test_a_stop_message_ends_the_customers_driven_there(app, engine):
    """The process told to stop an exercise it does not run ends the exercise's customers it drives."""
    with app.app_context():
        agent = factories.user("agent1", role="trainee", level="L4")
        do_set_agent_state(agent, "available")
        ex = Exercise(name="drill", mix={PARCEL: 1}, rate_per_minute=1, duration_seconds=600, seed=2, status="stopped")
        db.session.add(ex)
        db.session.commit()
        cid = engine.start_customer(PARCEL, exercise_id=ex.id, seed=1)
        engine.run_until_idle(30)
        do_post_message(db.session.get(Contact, cid), "agent", "Hello, how can I help?", actor_id=agent.id)
        engine._on_control({"stop_exercise": ex.id, "end_customers": True})
        engine.run_until_idle(60)
        db.session.expire_all()
        assert db.session.get(Contact, cid).status not in ("queued", "active")
        ended = db.session.scalars(
            select(ContactEvent).where(ContactEvent.contact_id == cid, ContactEvent.type == "contact.ended")
        ).all()
        assert [e.data.get("reason") for e in ended] == ["exercise_stopped"]


def test_the_log_consumer_catches_up_when_redis_lost_its_groups(app, engine):
    """Redis flushed under a running consumer: it makes its groups again and the customers hear the line whose
    entry went with the flush (not the 40-60 s silence timer)."""
    import time

    from extensions import redis_store

    with app.app_context():
        agent, cid = _greeted(engine)
        engine._start_stream()
        try:
            lost, _ = append_event(cid, "message", "agent", actor_id=agent.id, text="Your order number, please?")
            redis_store.flush_prefix()  # this test's keys only
            deadline = time.monotonic() + 10
            while lost.seq not in engine.live[cid].seen and time.monotonic() < deadline:
                time.sleep(0.05)
            assert lost.seq in engine.live[cid].seen
        finally:
            engine._stop_stream()
        engine.run_until_idle(60)
        assert len(_customer_lines(cid)) > 1


def test_a_customer_adopted_elsewhere_does_not_say_its_due_line_here(app, engine):
    """Taken for dead and adopted by another process between two lease checks, this process does not say the
    line it had due (the adopter says it from the recording): no line said twice in a row."""
    with app.app_context():
        agent, cid = _greeted(engine)
        opening = _customer_lines(cid)
        do_post_message(db.session.get(Contact, cid), "agent", "Your order number, please?", actor_id=agent.id)
        engine.tick()  # the reply is scheduled, and the leases were just checked
        assert any(a.kind == "say" for a in engine._actions)
        # The adopter takes the customer's lease, then names itself in the owner record.
        Ownership("host-9-adopter").take_lease("contact", cid)
        assert engine.ownership.take("contact", cid, engine.liveness.process_id, to="host-9-adopter")
        engine.run_until_idle(60)
        assert _customer_lines(cid) == opening
        assert cid not in engine.live


def test_a_customer_whose_lease_is_ours_is_driven_on_when_a_stale_record_names_another(app, engine):
    """After a Redis loss a stalled process re-announced a customer it still had in memory: the owner record names
    it, but the lease is this process's. This process keeps driving the customer - the once-a-second check and the
    check before a line alike - and claims the record back (before: it let the customer go on the record's word,
    and the stalled process, refused by the lease, let it go too: nobody drove it)."""
    stalled = "host-9-stalled"
    with app.app_context():
        agent, cid = _greeted(engine)
        opening = _customer_lines(cid)
        key = engine.ownership.key("contact", cid)

        engine.ownership.client.hset(key, "owner", stalled)  # the stalled process's re-announce
        engine._lease_check_at = 0.0  # the once-a-second check is due
        assert engine.check_leases() == []
        assert cid in engine.live
        assert engine.ownership.record("contact", cid)["owner"] == engine.process_id

        do_post_message(db.session.get(Contact, cid), "agent", "Your order number, please?", actor_id=agent.id)
        engine.tick()  # the reply is scheduled, and the leases were just checked
        assert any(a.kind == "say" for a in engine._actions)
        engine.ownership.client.hset(key, "owner", stalled)  # re-announced again, before the line is said
        engine.run_until_idle(60)
        assert len(_customer_lines(cid)) > len(opening)
        assert cid in engine.live
        assert engine.ownership.record("contact", cid)["owner"] == engine.process_id


def test_a_take_over_does_not_say_again_a_line_already_said(app):
    """The rebuilt reaction to the agent's last line may differ from the one said live (the replay has no silence
    ticks, which draw from the persona's random source too): a line of it already said is not said again."""
    from .builders import zh_pack, zh_refund

    eng = app.extensions["kefu_simulator"]
    eng.content = StaticContent([zh_pack()], [zh_refund(type="talkative")], lang_of={"zh-test-refund": "zh_CN"})
    with app.app_context():
        contact = start_chat(
            lang="zh_CN", queue="chat.general", customer_name="王芳", simulated=True, scenario_id="zh-test-refund"
        )
        append_event(contact.id, "message", "customer", text="你好，我上周申请的退款到现在还没到账。")
        append_event(contact.id, "message", "agent", text="您好，请提供订单号。")
        # Live, the reaction said this line first (the rebuilt one has it second, after the order number).
        append_event(contact.id, "message", "customer", text="你好，我的退款一直没到。")
        assert eng._take_over_chat(db.session.get(Contact, contact.id), {"seed": "3"})
        said = [a.value for a in eng._actions if a.kind == "say"]
        assert "你好，我的退款一直没到。" not in said


def test_a_customer_that_had_spoken_is_taken_over_with_its_own_seed_after_a_flush(app, engine):
    """Redis flushed and the customer's driver gone without re-announcing it (a process killed at that moment, a
    hand-over in flight): a customer that had already spoken is taken over with the seed it was started with
    (recorded in the database), and answers the agent's next line, instead of being ended simulator_restarted."""
    from extensions import redis_store
    from simulator.models import SimulatedCustomer

    with app.app_context():
        agent, cid = _greeted(engine)
        do_post_message(db.session.get(Contact, cid), "agent", "Your order number, please?", actor_id=agent.id)
        engine.run_until_idle(60)
        said = _customer_lines(cid)
        assert len(said) >= 2  # the opening and an answer
        assert db.session.get(SimulatedCustomer, cid).seed == 4

        # Its driver is gone without a word, and Redis lost the owner record that carried the seed.
        engine.live.pop(cid)
        engine._ids.discard(cid)
        engine._drop_actions(cid, kinds=("typing", "say", "leave", "rate"))
        redis_store.flush_prefix()  # this test's keys only

        done = engine.recover()
        assert done["taken_over"] == [cid] and done["ended"] == []
        assert engine.live[cid].state.seed == 4
        assert engine.ownership.record("contact", cid).get("seed") == "4"  # the next driver finds it in Redis too
        db.session.expire_all()
        assert db.session.get(Contact, cid).status == "active"
        do_post_message(db.session.get(Contact, cid), "agent", "Thank you, let me check that.", actor_id=agent.id)
        engine.run_until_idle(60)
        assert _customer_lines(cid)[: len(said)] == said
        reasons = [
            (e.data or {}).get("reason")
            for e in db.session.scalars(select(ContactEvent).where(ContactEvent.contact_id == cid))
            if e.type in ("contact.ended", "contact.abandoned")
        ]
        assert "simulator_restarted" not in reasons


def test_a_line_that_went_to_the_stale_records_process_is_answered_once_the_record_is_claimed_back(app, engine):
    """While a stale owner record named a stalled process (its re-announce after a Redis loss), an agent's line was
    delivered there, not here (the log hands an entry to the process the record names; that one, its lease gone,
    drops it). Claiming the record back, this process catches up on the recording: the line is answered now, not
    when the customer's silence timer speaks (before: not answered)."""
    with app.app_context():
        agent, cid = _greeted(engine)
        assert len(_customer_lines(cid)) == 1
        engine.ownership.client.hset(engine.ownership.key("contact", cid), "owner", "host-9-stalled")
        # Recorded, and its entry went to the stalled process: never published here.
        line, _ = append_event(cid, "message", "agent", actor_id=agent.id, text="Could you give me your order number?")
        engine._lease_check_at = 0.0  # the once-a-second check is due
        engine.run_until_idle(60)
        assert engine.ownership.record("contact", cid)["owner"] == engine.process_id
        assert line.seq in engine.live[cid].seen
        assert len(_customer_lines(cid)) > 1
