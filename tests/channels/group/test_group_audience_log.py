"""A group room's audience on the shared event log (simulator/group_driver.py): the process driving a room holds
its owner record; an agent's post recorded by another process reaches the audience from the log and is applied
once however many times it is delivered. tests/multiprocess/test_listeners.py does it with real processes."""

from __future__ import annotations

from channels.group.actions import do_close_group_room, do_reply_in_group
from channels.group.sessions import start_group_room
from contacts.models import ContactEvent, event_dict
from extensions import db

from .conftest import user
from .rooms import ANSWER, lines, room_with_askers, said


def test_an_agents_post_from_the_log_is_applied_once(app, packs, trainee, driver):
    """Six askers; the agent's answer to everyone is recorded but never reaches the driver in-process (as when
    the agent's desk is on another process): delivered twice from the log, each asker answered thanks once."""
    engine = app.extensions["kefu_simulator"]
    with app.app_context():
        agent = user(trainee)
        mix = {"off_topic": 0, "rude": 0, "individual": 0}
        (room,) = start_group_room(agent, "en-group-sale", audience=6, mix=mix, seed=3)
        assert engine.ownership.record("group", room.id) == {"owner": engine.process_id}
        assert driver._owner_of({"event": {"contact_id": room.id}}) == engine.process_id
        assert driver._on_event({"type": "contact_event", "event": {"contact_id": room.id + 1000}}) is False
        driver.run_for(100)
        askers = {e.data["member"] for e in lines(room.id, "question")}
        assert askers
        ev, answered = do_reply_in_group(room, agent, ANSWER)
        assert set(answered) >= askers
        driver._inbox.clear()  # it went to another process
        driver.run_for(20)
        assert lines(room.id, "thanks") == []
        posted = db.session.get(ContactEvent, ev["id"])
        payload = {"type": "contact_event", "event": event_dict(posted)}
        driver.on_stream(payload)
        driver.on_stream(payload)  # at least once: delivered again
        driver.run_for(30)
        thanks = [e.data["member"] for e in lines(room.id, "thanks")]
        assert sorted(thanks) == sorted(askers)  # each asker once
        do_close_group_room(room, agent)
        driver.tick()
        assert engine.ownership.record("group", room.id) == {}


def test_an_answer_recorded_while_redis_was_lost_is_applied_once_after_the_reannounce(app, packs, trainee, driver):
    """Redis loses its keys (the room's owner record with them) and the agent answers everyone meanwhile from a desk
    on another process: the log, finding no owner, never hands the answer to the audience. Once the live state is
    rebuilt, the re-announce puts the record back and catches up on the recording: every asker thanks once, and a
    second catch-up or the entry turning up after all changes nothing (before: the record came back, nobody
    thanked)."""
    from extensions import redis_store

    engine = app.extensions["kefu_simulator"]
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        agent, room, askers = room_with_askers(trainee, driver)
        assert askers
        liveness.ensure_live_state()
        redis_store.flush_prefix()  # Redis loses its keys
        ev, _ = do_reply_in_group(room, agent, ANSWER)
        driver._inbox.clear()  # recorded on another process, the log passed it over: never heard here
        driver.run_for(20)
        assert lines(room.id, "thanks") == []
        assert liveness.ensure_live_state()  # rebuilt: this process re-announces its rooms
        assert engine.ownership.record("group", room.id).get("owner") == engine.process_id
        driver.run_for(30)
        thanks = said(room.id, "thanks")
        assert set(thanks) == askers and max(thanks.values()) == 1
        assert driver.catch_up([room.id]) == 0
        driver.on_stream({"type": "contact_event", "event": event_dict(db.session.get(ContactEvent, ev["id"]))})
        driver.run_for(30)
        assert said(room.id, "thanks") == thanks


def test_an_answer_appended_before_the_log_was_regrouped_is_applied_once(app, packs, trainee, driver):
    """Redis loses the log's groups; they are made again from new entries on, so an answer appended before is never
    read: the kind's ``regrouped`` catches the rooms up from their recordings (before: no catch-up, nobody thanked)."""
    with app.app_context():
        agent, room, askers = room_with_askers(trainee, driver)
        assert askers
        do_reply_in_group(room, agent, ANSWER)
        driver._inbox.clear()  # appended to the log before the groups were lost: never read here
        driver.run_for(20)
        assert lines(room.id, "thanks") == []
        driver.stream_kind().regrouped()  # what the consumer calls once the groups are made again
        driver.run_for(30)
        thanks = said(room.id, "thanks")
        assert set(thanks) == askers and max(thanks.values()) == 1
