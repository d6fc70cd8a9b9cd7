"""A livestream's simulated audience on the shared event log (livestream/audience_stream.py): the process running
it holds the stream's owner record; the presenter's actions recorded by another process reach it from the log,
each applied once; a stopped audience drops its record; a publishing start and another process's take-over pass
leave each other the stream. Taking an audience over: test_audience_takeover.py; Redis loss and catch-up:
test_audience_recovery.py; retries and back-off: test_audience_retries.py (helpers: audience_helpers.py)."""

from __future__ import annotations

import pytest

from contacts.models import ContactEvent
from extensions import db, redis_store
from livestream.audience import audiences
from tests import factories
from tests.livestream.audience_helpers import _audience_runs, _en_sale, _payload


def test_the_presenters_answer_from_the_log_reaches_the_audience_once(app):
    """A viewer's question is marked answered while this process's audience is not listening (as when the
    presenter is on another process): from the log, delivered twice, the audience takes the need as answered,
    applied once."""
    from livestream.actions import do_mark_answered, do_post_comment

    with app.app_context():
        ann, contact = _en_sale(app)
        sid = contact.id
        script = audiences.start(sid)
        key = redis_store.key("sim", "livestream", sid)
        assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
        assert audiences._owner_of({"event": {"contact_id": sid}}) == app.extensions["kefu_liveness"].process_id
        audiences.stop(sid)  # drive it by hand below, not on the thread
        assert not redis_store.client.exists(key)
        question = next(c for c in (script.next_comment(t) for t in range(0, 400, 5)) if c.kind == "question")
        posted = do_post_comment(contact, question.viewer, question.name, question.text, sim={"kind": "question"})
        answered = do_mark_answered(contact, ann.id, posted["seq"])  # nobody here listens: recorded elsewhere
        assert question.need not in script.answered
        audiences._scripts[sid] = script
        try:
            payload = _payload(answered["seq"], sid)
            audiences.on_stream(payload)
            audiences.on_stream(payload)  # at least once: delivered again
            assert question.need in script.answered
            assert audiences._applied[sid] == {answered["seq"]}
            assert audiences._on_event({"type": "contact_event", "event": {"contact_id": sid + 1000}}) is False
        finally:
            audiences.stop(sid)


def test_a_reply_that_only_acknowledges_leaves_the_question_waiting_and_an_answer_settles_it(app):
    """The viewer reads the presenter's written reply as the scorecard does (livestream/answering.py): thanks for
    asking is no answer, and the question stays open; a reply that states the facts answers it."""
    from livestream.actions import do_reply_comment
    from tests.livestream.audience_helpers import _en_sale_asked

    with app.app_context():
        ann, contact, question, asked = _en_sale_asked(app)
        sid = contact.id
        script = audiences.start(sid)
        audiences.stop(sid)  # driven by hand below
        script.last_need[question.viewer] = question.need
        audiences._scripts[sid] = script
        try:
            thanks = do_reply_comment(contact, ann.id, "Great question, thanks for asking!", asked["seq"])
            audiences.on_stream(_payload(thanks["seq"], sid))
            assert question.need not in script.answered
            answer = do_reply_comment(
                contact,
                ann.id,
                "It's covered: returns within 30 days are free, and refunds take 3-5 days.",
                asked["seq"],
            )
            audiences.on_stream(_payload(answer["seq"], sid))
            assert question.need in script.answered
        finally:
            audiences.stop(sid)


def test_the_simulators_recovery_leaves_a_livestream_alone(app):
    """A livestream with a simulated audience is a simulated contact, but not a simulated customer: a process that
    adopts what nobody drives (at its start, when another died) does not end it (it did, as simulator_restarted)."""
    from contacts.models import Contact
    from livestream.actions import start_livestream

    with app.app_context():
        contact = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2)
        assert contact.simulated
        done = app.extensions["kefu_simulator"].recover()
        assert contact.id not in done["ended"]
        db.session.expire_all()
        assert db.session.get(Contact, contact.id).status == "active"


def test_an_audience_goes_to_a_live_simulator_worker_and_runs_there(app):
    """While a simulator worker is alive, the process that takes the "publishing" event runs no audience: it names
    the worker the stream's owner and tells it to adopt the stream; a second "publishing" (the presenter
    reconnected) leaves it there. The worker told to adopt it runs it from the recording."""
    import json

    from contacts.stream import get_event_log
    from livestream.actions import start_livestream
    from simulator.ownership import Ownership

    engine = app.extensions["kefu_simulator"]
    liveness = app.extensions["kefu_liveness"]
    worker = "host-7-simworker"
    with app.app_context():
        contact = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2)
        sid = contact.id
        liveness.client.set(liveness.proc_key(worker), 1, ex=60)  # a live simulator worker (its heartbeat)
        Ownership(worker).register_worker(0)
        key = redis_store.key("sim", "livestream", sid)
        try:
            assert audiences.start(sid) is None
            assert audiences.script(sid) is None  # nothing runs here
            assert redis_store.client.hget(key, "owner") == worker
            log_ = get_event_log(app)
            inbox = log_.client.xrange(log_.key("inbox", "simulator", worker))
            assert [json.loads(fields["x"]) for _, fields in inbox] == [{"adopt": "livestream", "id": sid}]
            assert audiences.start(sid) is None  # publishing again: it stays the worker's, told once
            assert redis_store.client.hget(key, "owner") == worker
            assert len(log_.client.xrange(log_.key("inbox", "simulator", worker))) == 1
            assert audiences.size(contact) == 5  # counted where it is not run

            assert not engine.adopt_livestream(sid)  # not ours: the worker's
            redis_store.client.hset(key, "owner", liveness.process_id)  # this process is the worker told to adopt
            engine._on_control({"adopt": "livestream", "id": sid})
            script = audiences.script(sid)
            assert script is not None and script.size == 5 and audiences.live_count() == 1
            seqs = {e.seq for e in db.session.scalars(db.select(ContactEvent).where(ContactEvent.contact_id == sid))}
            assert seqs <= audiences._applied[sid]  # from the recording
            assert redis_store.client.hget(key, "owner") == liveness.process_id
        finally:
            audiences.stop(sid)


def test_a_worker_adopting_an_audience_does_not_hold_its_simulated_customers_meanwhile(app, monkeypatch):
    """A simulator worker told to adopt a stream's audience replays the stream's recording (and may wait for its
    lease): meanwhile the worker's engine goes on with its customers - its lock is free for the engine's tick
    (before: the adoption ran under the engine's lock, and every customer of the worker waited for it)."""
    from livestream.actions import start_livestream
    from tests.lock_probe import probing_lock

    engine = app.extensions["kefu_simulator"]
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        contact = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2)
        sid = contact.id
        redis_store.client.hset(redis_store.key("sim", "livestream", sid), "owner", liveness.process_id)
        replay, free = probing_lock(engine._lock, audiences._replay)
        monkeypatch.setattr(audiences, "_replay", replay)
        try:
            engine._on_control({"adopt": "livestream", "id": sid})
            assert audiences.script(sid) is not None
            assert free == [True]
        finally:
            audiences.stop(sid)


def test_stopping_an_audience_leaves_a_record_another_process_took_meanwhile(app, monkeypatch):
    """This process stops a stream's audience (its end, say) just as another process takes the audience over (this
    one was taken for dead): the other's owner record, written between this process's check that the record is its
    own and its delete, stays (before: deleted - the stream's audience ran with no record, its presenter's events
    passed over by the log and a take-over pass free to start a second one)."""
    from livestream.actions import start_livestream

    other = "elsewhere-2-live00"
    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        key = redis_store.key("sim", "livestream", sid)
        client = redis_store.client
        real_hget, real_eval = client.hget, client.eval

        def hget(name, field):  # the check, then the other process's take-over just after it
            value = real_hget(name, field)
            if name == key:
                client.hset(key, "owner", other)
            return value

        def eval_(script, numkeys, *args):  # a check-and-delete in one step: the take-over can only come after it
            value = real_eval(script, numkeys, *args)
            if key in args:
                client.hset(key, "owner", other)
            return value

        try:
            assert audiences.start(sid) is not None
            monkeypatch.setattr(client, "hget", hget)
            monkeypatch.setattr(client, "eval", eval_)
            audiences.stop(sid)
            monkeypatch.undo()
            assert client.hget(key, "owner") == other
        finally:
            audiences.stop(sid)


def test_a_publishing_start_names_its_process_the_owner_before_it_reads_the_recording(app, monkeypatch):
    """The presenter's "publishing" starts the audience here, and while the start reads the stream's recording (a
    long one, after a reconnect) a take-over pass in another process looks at the published stream. Its owner record
    names this process already, so the other process's compare-and-set on a missing record fails (before: there was
    no record until the replay was over; the other process took the stream and started a second audience)."""
    from livestream.actions import do_record_media_event, start_livestream
    from livestream.audience_stream import TAKE

    pid = app.extensions["kefu_liveness"].process_id
    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        do_record_media_event(sid, "publishing", {"kind": "video"})
        key = redis_store.key("sim", "livestream", sid)
        real, during = audiences._replay, []

        def replay(stream_id, script):
            during.append(redis_store.client.hget(key, "owner"))
            # what another process's pass does with a published stream that has no record (audience_takeover.py)
            during.append(redis_store.client.eval(TAKE, 0, key, "", "elsewhere-2-live00"))
            return real(stream_id, script)

        monkeypatch.setattr(audiences, "_replay", replay)
        try:
            assert audiences.start(sid) is not None
            assert during == [pid, 0]
            assert redis_store.client.hget(key, "owner") == pid
        finally:
            audiences.stop(sid)


@pytest.mark.app_config(PROCESS_TTL_SECONDS=1.0, PROCESS_HEARTBEAT_SECONDS=0.25)
def test_a_take_over_pass_leaves_a_stream_just_published_to_its_publishing_start(app, quiet_takeover):
    """A stream's presenter published a moment ago, and the "publishing" start (in another process) has not claimed
    the owner record yet. A take-over pass here leaves the stream to that start (before: it took the stream over -
    with the start going on elsewhere, a second audience); once a TTL has passed with still no record (that process
    died before claiming it), a pass takes it over."""
    import time

    from livestream.actions import do_record_media_event, start_livestream

    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        liveness.ensure_live_state()
        deadline = time.monotonic() + 10
        while not liveness.settled() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert liveness.settled()  # a missing record is trusted
        do_record_media_event(sid, "publishing", {"kind": "video"})
        key = redis_store.key("sim", "livestream", sid)
        try:
            assert audiences.adopt_orphans() == []
            assert audiences.script(sid) is None and not redis_store.client.exists(key)
            assert _audience_runs(sid, 10), "not looked at again once the TTL was over"
            assert redis_store.client.hget(key, "owner") == liveness.process_id
        finally:
            audiences.stop(sid)


@pytest.mark.app_config(PROCESS_TTL_SECONDS=1.0, PROCESS_HEARTBEAT_SECONDS=0.25)
def test_the_grace_after_publishing_is_wall_time_whatever_the_sandbox_clock(app, quiet_takeover):
    """The grace a take-over pass leaves a just-published stream is a TTL of wall time. On a sandbox clock running
    20 times fast, a stream published 0.2 s ago is still left to its start (before: 4 sandbox seconds, the grace was
    over); a stream whose "publishing" the clock puts an hour ahead (recorded by a run whose clock was advanced, the
    clock restarted since) is taken over at once (before: put off for an hour)."""
    import time

    from clock import clock
    from livestream.actions import do_record_media_event, start_livestream

    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        ann = factories.user("ann")
        fast = start_livestream(ann, title="Sale", lang="en", audience_size=5, seed=2).id
        ahead = start_livestream(ann, title="Later", lang="en", audience_size=5, seed=3).id
        liveness.ensure_live_state()
        deadline = time.monotonic() + 10
        while not liveness.settled() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert liveness.settled()
        try:
            clock.advance(3600)
            do_record_media_event(ahead, "publishing", {"kind": "video"})
            clock.configure(20.0)  # restarted, 20 times fast
            do_record_media_event(fast, "publishing", {"kind": "video"})
            time.sleep(0.2)
            taken = audiences.adopt_orphans()
            # The process's own take-over thread runs the same pass on a liveness event (under load another test's
            # process can be declared dead now): it may have taken ``ahead`` a moment before this call did.
            assert taken == [ahead] or (taken == [] and audiences.script(ahead) is not None), taken
            assert audiences.script(fast) is None
        finally:
            clock.configure(1.0)
            audiences.stop(fast)
            audiences.stop(ahead)
