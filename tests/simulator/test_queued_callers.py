"""Simulated callers waiting in a queue give up when their patience runs out, as a contact centre's callers do;
the queue's figures count it. Driven on the sandbox clock (``engine.run_for``), no real minutes pass."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from channels.voice.actions import do_create_call
from contacts.models import Contact, ContactEvent
from extensions import db
from routing.actions import do_set_agent_state, queue_figures
from scenarios.schema import Scenario
from simulator.content import StaticContent

from .. import factories
from .builders import en_pack


def caller(scenario_id: str, channel: str = "voice", **customer) -> Scenario:
    persona = {"name": "Amy Green", "type": "rational", "emotion": "calm", "patience": 30, **customer}
    return Scenario.model_validate(
        {
            "id": scenario_id,
            "title": "Late parcel on the phone",
            "level": "L5",
            "channel": channel,
            "queue": f"{channel}.general",
            "skills": ["L5/1.1.1"],
            "customer": persona,
            "opening": ["Hi, I'm calling about my parcel."],
            "goals": ["answered"],
            "rules": [{"on": "empathy", "say": ["OK, thanks."], "goal": "answered"}],
            "abandon_say": ["Forget it."],
            "voice": {} if channel == "voice" else None,
        }
    )


@pytest.fixture
def engine(app):
    eng = app.extensions["kefu_simulator"]
    eng.content = StaticContent(
        [en_pack()],
        [
            caller("en-q-calm"),
            caller("en-q-dominant", type="dominant", patience=50),
            caller("en-q-video", channel="video"),
        ],
    )
    return eng


def _call(scenario_id: str, channel: str = "voice") -> Contact:
    return do_create_call(
        f"{channel}.general", channel=channel, lang="en", scenario_id=scenario_id, simulated=True, customer_name="Amy"
    )


def _events(cid: int, type_: str) -> list[ContactEvent]:
    db.session.expire_all()
    q = select(ContactEvent).where(ContactEvent.contact_id == cid, ContactEvent.type == type_)
    return list(db.session.scalars(q.order_by(ContactEvent.seq)))


def _status(cid: int) -> str:
    return db.session.get(Contact, cid, populate_existing=True).status


def test_low_patience_caller_abandons_after_its_patience_and_the_figures_count_it(app, engine):
    """No agent is available: a calm caller with 30 s of patience is still waiting after 27 s of sandbox time
    and has hung up by 33 s; the abandonment records its wait, the caller's state at that moment is recorded,
    and voice.general shows one abandoned call (abandon rate 1, outside the 20 s service level)."""
    with app.app_context():
        cid = _call("en-q-calm").id
        engine.run_for(27)
        assert _status(cid) == "queued" and engine.waiting_callers() == [cid]
        engine.run_for(6)
        assert _status(cid) == "abandoned"
        (abandoned,) = _events(cid, "contact.abandoned")
        assert abandoned.data["reason"] == "customer_abandoned" and abandoned.data["queue"] == "voice.general"
        assert 29 <= abandoned.data["wait_seconds"] <= 33
        (state,) = _events(cid, "customer.state")
        assert state.data["end"] == "abandoned" and state.data["patience_left"] <= 0
        assert 29 <= state.data["waited"] <= 33
        fig = queue_figures(["voice.general"])["voice.general"]
        assert fig["abandoned"] == 1 and fig["answered"] == 0 and fig["waiting"] == 0
        assert fig["abandon_rate"] == 1.0 and fig["service_level"] == 0.0
        assert engine.waiting_callers() == []


def test_customer_type_shapes_queue_patience(app, engine):
    """A dominant caller has 0.6 of the persona's patience: 50 s gives 30 s in the queue."""
    with app.app_context():
        cid = _call("en-q-dominant").id
        engine.run_for(27)
        assert _status(cid) == "queued"
        engine.run_for(6)
        assert _status(cid) == "abandoned"


def test_caller_answered_before_its_patience_runs_out_is_not_abandoned(app, engine):
    """An agent becomes available after 10 s: the ACD gives them the call, the wait ends there, and a minute
    later the call is still on the agent's desk; the queue counts one answered call and no abandonment."""
    with app.app_context():
        agent = factories.user("agent1", role="trainee", level="L4")
        cid = _call("en-q-calm").id
        engine.run_for(10)
        do_set_agent_state(agent, "available")
        assert _status(cid) == "active"
        engine.run_for(60)
        contact = db.session.get(Contact, cid, populate_existing=True)
        assert contact.status == "active" and contact.agent_id == agent.id
        assert _events(cid, "contact.abandoned") == [] and engine.waiting_callers() == []
        fig = queue_figures(["voice.general"])["voice.general"]
        assert fig["answered"] == 1 and fig["abandoned"] == 0


def test_video_caller_abandons_too(app, engine):
    """A simulated video caller waits and gives up in video.general the same way."""
    with app.app_context():
        cid = _call("en-q-video", channel="video").id
        engine.run_for(33)
        assert _status(cid) == "abandoned"
        assert queue_figures(["video.general"])["video.general"]["abandoned"] == 1


def test_waiting_caller_goes_on_waiting_after_a_restart(app, engine):
    """A caller who joined the queue while the engine was not listening (a restart) is picked up by
    ``recover``, not ended: it keeps waiting, its patience spent since it called, and then hangs up."""
    with app.app_context():
        engine.stop()  # the engine of the process that took the call is gone
        cid = _call("en-q-calm").id
        engine.run_for(20)
        assert engine.waiting_callers() == []
        engine.recover()
        assert _status(cid) == "queued" and engine.waiting_callers() == [cid]
        engine.run_for(13)
        assert _status(cid) == "abandoned"
        assert _events(cid, "contact.abandoned")[0].data["reason"] == "customer_abandoned"


ADOPTER = "host-9-adopter"


def test_a_waiting_caller_whose_lease_another_process_took_hangs_up_nothing_here(app, engine):
    """Another process took the waiting caller's lease (it adopted the caller while this one was taken for dead)
    while the owner record in Redis still names this process (re-announced after a Redis loss): when the caller's
    patience runs out here, neither its mind nor the abandonment is recorded from here - the call stays in the
    queue for the process that drives it - and the owner record is pointed at the lease's holder (before: the
    caller was not fenced, and this process hung up the other's caller)."""
    from simulator.ownership import Ownership

    with app.app_context():
        cid = _call("en-q-calm").id
        engine.run_for(5)
        assert engine.waiting_callers() == [cid]
        Ownership(ADOPTER).take_lease("contact", cid, seed=cid)  # as its take-over does (_caller_waits)
        assert engine.ownership.record("contact", cid)["owner"] == engine.process_id
        engine.run_for(30)  # past its 30 s of patience
        assert _status(cid) == "queued"
        assert _events(cid, "contact.abandoned") == [] and _events(cid, "customer.state") == []
        assert engine.waiting_callers() == []
        assert engine.ownership.record("contact", cid)["owner"] == ADOPTER


def test_a_waiting_caller_whose_owner_record_names_another_process_is_let_go(app, engine):
    """Another live process adopted a waiting caller while this one was taken for dead (it took the caller's lease
    and its owner record names it): within a second this process stops driving it, as it does a chat customer
    (before: it went on waiting here, a second driver of the same caller, and hung up when its patience ran out)."""
    from simulator.ownership import Ownership

    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        cid = _call("en-q-calm").id
        engine.run_for(5)
        assert engine.waiting_callers() == [cid]
        liveness.client.set(liveness.proc_key(ADOPTER), 1, ex=60)
        Ownership(ADOPTER).take_lease("contact", cid)
        engine.ownership.claim("contact", cid, owner=ADOPTER)
        engine._lease_check_at = 0.0  # the once-a-second check is due
        engine.run_for(1)
        assert engine.waiting_callers() == []
        engine.run_for(30)
        assert _status(cid) == "queued" and _events(cid, "customer.state") == []


def test_a_waiting_caller_whose_lease_is_ours_is_kept_when_a_stale_record_names_another(app, engine):
    """A waiting caller's owner record names another live process (a stalled one re-announcing it after a Redis
    loss) but its lease is this process's: the caller goes on waiting here, its record claimed back, and hangs up
    when its patience runs out (before: let go on the record's word, and nobody drove it)."""
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        cid = _call("en-q-calm").id
        engine.run_for(5)
        liveness.client.set(liveness.proc_key(ADOPTER), 1, ex=60)
        engine.ownership.claim("contact", cid, owner=ADOPTER)
        engine._lease_check_at = 0.0  # the once-a-second check is due
        engine.run_for(1)
        assert engine.waiting_callers() == [cid]
        assert engine.ownership.record("contact", cid)["owner"] == engine.process_id
        engine.run_for(30)
        assert _status(cid) == "abandoned"


def test_recovery_leaves_an_answered_simulated_call_to_the_media_side(app, engine):
    """A simulated call answered by an agent has no owner record (its caller is the media side's from then on). A
    process recovering what nobody drives - alone, at its start or when another process died, or after a Redis
    loss - leaves the call going (before: it ended the call in progress as ``simulator_restarted``)."""
    with app.app_context():
        agent = factories.user("agent1", role="trainee", level="L4")
        cid = _call("en-q-calm").id
        engine.run_for(5)
        do_set_agent_state(agent, "available")
        engine.run_for(2)
        assert _status(cid) == "active" and engine.ownership.record("contact", cid) == {}
        done = engine.recover()
        assert cid not in done["ended"] and _status(cid) == "active"
        assert _events(cid, "contact.ended") == []
