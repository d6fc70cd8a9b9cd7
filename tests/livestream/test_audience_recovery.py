"""A livestream's audience after Redis lost its keys, and its catch-up: an orphaned audience is taken over once
every live process has put its records back, a restarted audience goes on from the recording, and an answer the
log passed over or handed elsewhere still reaches the running audience."""

from __future__ import annotations

import pytest

from contacts.models import ContactEvent
from extensions import db, redis_store
from livestream.audience import audiences
from tests import factories
from tests.livestream.audience_helpers import _en_sale_asked, _payload


def test_an_answer_recorded_while_an_audience_is_taken_over_reaches_it(app, monkeypatch):
    """The presenter answers a viewer's question while this process takes the audience of a dead process over:
    after the take-over read the stream's recording and before the audience was registered here. The log hands
    the answer to no running audience; the taken-over audience still counts the question as answered (before: it
    was missed, and the audience kept asking an answered question)."""
    from livestream.actions import do_mark_answered

    dead = "elsewhere-1-dead00"
    with app.app_context():
        ann, contact, question, asked = _en_sale_asked(app)  # its audience stopped: the dead process's
        sid = contact.id
        redis_store.client.hset(redis_store.key("sim", "livestream", sid), "owner", dead)
        real = audiences._replay

        def replay(stream_id, resumed):
            applied = real(stream_id, resumed)
            answered = do_mark_answered(contact, ann.id, asked["seq"])  # the presenter, just then
            audiences.on_stream(_payload(answered["seq"], sid))  # the log's copy: no audience here yet
            return applied

        monkeypatch.setattr(audiences, "_replay", replay)
        try:
            assert audiences.adopt_orphans(dead) == [sid]
            assert question.need in audiences.script(sid).answered
        finally:
            audiences.stop(sid)


def test_an_answer_the_log_passed_over_while_redis_was_lost_reaches_the_running_audience(app):
    """This process runs a stream's audience when Redis loses its keys (the owner record, the log), and before the
    process puts its record back the presenter answers a viewer's question from another process: the log passes the
    entry over (no record names an owner; here, this process's listener does not see it). Once the record is back
    the audience catches up from the recording and takes the question as answered (before: it never learned of the
    answer and went on asking)."""
    import time

    from livestream.actions import do_mark_answered

    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        ann, contact, question, asked = _en_sale_asked(app)
        sid = contact.id
        try:
            running = audiences.start(sid)  # the audience runs here, the question in its recording
            assert question.need not in running.answered
            liveness.ensure_live_state()
            redis_store.flush_prefix()  # Redis loses its keys
            with audiences._lock:
                audiences._scripts.pop(sid)  # the presenter is on another process: not seen in-process
            do_mark_answered(contact, ann.id, asked["seq"])
            with audiences._lock:
                audiences._scripts[sid] = running
            assert liveness.ensure_live_state()  # rebuilt: this process puts its record back
            key = redis_store.key("sim", "livestream", sid)
            assert redis_store.client.hget(key, "owner") == liveness.process_id
            deadline = time.monotonic() + 5
            while question.need not in running.answered and time.monotonic() < deadline:
                time.sleep(0.05)
            assert question.need in running.answered, "the answer the log passed over never reached the audience"
        finally:
            audiences.stop(sid)


def test_an_answer_handed_to_the_process_a_record_named_reaches_the_audience_once_it_is_claimed_back(app):
    """This process runs a stream's audience under the current lease, but its owner record names another live process
    (an overlapping start there claimed it last), and the presenter answers a question meanwhile: the log hands the
    entry to that process, which runs no audience and drops it. Once the owner check claims the record back (the
    lease is ours), the audience catches up from the recording and takes the question as answered (before: never)."""
    import time

    from livestream.actions import do_mark_answered

    other = "elsewhere-2-live00"
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        ann, contact, question, asked = _en_sale_asked(app)
        sid = contact.id
        key = redis_store.key("sim", "livestream", sid)
        try:
            running = audiences.start(sid)
            liveness.client.set(liveness.proc_key(other), 1, ex=60)
            with audiences._lock:
                audiences._scripts.pop(sid)  # the presenter is on another process: not seen in-process
            redis_store.client.hset(key, "owner", other)  # the log hands the answer to it
            do_mark_answered(contact, ann.id, asked["seq"])
            with audiences._lock:
                audiences._scripts[sid] = running
            deadline = time.monotonic() + 5
            while question.need not in running.answered and time.monotonic() < deadline:
                time.sleep(0.05)
            assert redis_store.client.hget(key, "owner") == liveness.process_id  # claimed back
            assert question.need in running.answered, "the answer handed to the other process never reached it"
        finally:
            audiences.stop(sid)


@pytest.mark.app_config(PROCESS_TTL_SECONDS=1.0, PROCESS_HEARTBEAT_SECONDS=0.25)
def test_an_audience_whose_process_died_while_redis_was_lost_is_taken_over_once_settled(app):
    """Redis lost its keys (a flush) and the process running a stream's audience died meanwhile: the stream has no
    owner record, and no dead hook runs for that process (the loss took its heartbeat and the process list). Once
    every live process has had time to put its own records back (``Liveness.settled``), this process takes the
    audience over from the recording; a live stream not published yet (no audience started) is left alone (before:
    the published stream had no audience for good)."""
    import time

    from livestream.actions import do_record_media_event, start_livestream

    dead = "elsewhere-1-dead00"
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        ann = factories.user("ann")
        sid = start_livestream(ann, title="Sale", lang="en", audience_size=5, seed=2).id
        waiting = start_livestream(ann, title="Later", lang="en", audience_size=5, seed=3).id
        do_record_media_event(sid, "publishing", {"kind": "video"})  # its audience started in the dead process
        key = redis_store.key("sim", "livestream", sid)
        redis_store.client.hset(key, "owner", dead)
        liveness.ensure_live_state()
        try:
            redis_store.flush_prefix()  # Redis lost its keys; the dead process never puts its record back
            assert liveness.ensure_live_state()  # rebuilt; this process re-announces its own (none)
            assert not liveness.settled()  # a missing record is not trusted yet: nothing taken over at once
            assert audiences.script(sid) is None and not redis_store.client.exists(key)
            deadline = time.monotonic() + 15
            while audiences.script(sid) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert audiences.script(sid) is not None, "the orphaned audience was not taken over"
            assert redis_store.client.hget(key, "owner") == liveness.process_id
            assert audiences.script(waiting) is None
            assert not redis_store.client.exists(redis_store.key("sim", "livestream", waiting))
        finally:
            audiences.stop(sid)
            audiences.stop(waiting)


def test_a_publishing_start_after_a_redis_flush_does_not_say_the_first_comments_again(app):
    """A stream's audience had posted its first comments when its process went and Redis lost its keys (the owner
    record with them); the presenter's "publishing" starts the audience again here. It goes on from the stream's
    recording: its comments are not its first ones over again (before: with no record to say it had run, it started
    afresh from its seed and repeated them, the complaint first)."""
    import time

    from livestream.actions import start_livestream

    def said() -> list[tuple]:
        db.session.expire_all()
        q = (
            db.select(ContactEvent)
            .where(ContactEvent.contact_id == sid, ContactEvent.type == "livestream.comment")
            .order_by(ContactEvent.seq)
        )
        return [(e.data.get("viewer"), e.text, (e.data.get("sim") or {}).get("kind")) for e in db.session.scalars(q)]

    def wait_for(count: int) -> list[tuple]:
        deadline = time.monotonic() + 20
        while len(said()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return said()

    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=20, comment_rate=120).id
        try:
            assert audiences.start(sid) is not None  # the presenter's "publishing"
            first = wait_for(4)[:4]
            assert len(first) == 4
            audiences.stop(sid)  # its process goes ...
            time.sleep(0.3)  # (a comment already on its way lands)
            before = said()
            redis_store.flush_prefix()  # ... and Redis loses its keys
            assert audiences.start(sid) is not None  # the presenter publishes again
            again = wait_for(len(before) + 4)[len(before) :][:4]
            assert len(again) == 4
            assert again != first, "the audience said its first comments again"
            assert again[0] != first[0]
        finally:
            audiences.stop(sid)
