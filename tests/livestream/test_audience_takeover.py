"""Taking a livestream's audience over (livestream/audience_takeover.py): the audience of a process that died goes
on here from the recording; the stream's lease fences the audience, so a process whose lease another took posts
nothing more, and one whose lease is still current keeps the audience whatever its owner record says."""

from __future__ import annotations

from contacts.models import ContactEvent
from extensions import db, redis_store
from livestream.audience import AudienceScript, audiences
from tests import factories
from tests.livestream.audience_helpers import _audience_runs, _chatty_sale, _comments, _en_sale, _stream_owned_by
from tests.markers import needs_postgresql


def test_an_audience_whose_process_died_is_taken_over_from_the_recording(app):
    """The stream's audience was run by a process that stopped beating (its owner record names it). The dead-process
    hook takes the record over, once, and goes on with the audience from the recording: the question answered
    stays answered, the complainer moved to a chat stays quiet, every recorded event counts as applied, and the
    comments go on from a random state of their own (not the first comments again)."""
    from livestream.actions import do_mark_answered, do_post_comment
    from livestream.handoff import do_move_viewer_to_chat

    with app.app_context():
        ann, contact = _en_sale(app)
        sid = contact.id
        script = audiences.start(sid)
        audiences.stop(sid)  # drive it by hand below, not on the thread
        said = [script.next_comment(t) for t in range(0, 400, 5)]
        question = next(c for c in said if c.kind == "question")
        complaint = next(c for c in said if c.kind == "complaint")
        asked = do_post_comment(
            contact, question.viewer, question.name, question.text, sim={"kind": "question", "need": question.need}
        )
        do_mark_answered(contact, ann.id, asked["seq"])
        moaned = do_post_comment(contact, complaint.viewer, complaint.name, complaint.text, sim={"kind": "complaint"})
        do_move_viewer_to_chat(contact, ann.id, moaned["seq"])
        key = redis_store.key("sim", "livestream", sid)
        redis_store.client.hset(key, "owner", "elsewhere-1-dead00")
        try:
            assert audiences.adopt_orphans("elsewhere-1-dead00") == [sid]
            assert audiences.adopt_orphans("elsewhere-1-dead00") == []  # once
            assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
            resumed = audiences.script(sid)
            seqs = {e.seq for e in db.session.scalars(db.select(ContactEvent).where(ContactEvent.contact_id == sid))}
            applied = set(audiences._applied[sid])
            audiences.stop(sid)  # its thread must not draw from the script while it is read below
            assert seqs <= applied
            assert question.need in resumed.answered and complaint.viewer in resumed.moved
            assert resumed.asked[question.need] == question.viewer
            fresh = AudienceScript(resumed.lang, resumed.size, resumed.rate_per_minute, resumed.articles, seed=2)
            again = [resumed.next_comment(t).text for t in range(0, 100, 5)]
            assert again != [fresh.next_comment(t).text for t in range(0, 100, 5)]
        finally:
            audiences.stop(sid)


def test_an_audience_whose_lease_another_process_took_posts_nothing_more_here(app):
    """This process runs a stream's audience, stalls, and another process takes the audience over (it holds the
    lease) while this one's owner record in Redis still names it: no comment is posted from here any more, the
    audience is let go here, and the owner record is pointed at the lease's holder."""
    import time

    from simulator.ownership import Ownership

    adopter = "host-9-adopter"
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        sid = _chatty_sale()
        liveness.client.set(liveness.proc_key(adopter), 1, ex=60)  # alive (a dead holder is taken over from)

        try:
            assert audiences.start(sid) is not None
            deadline = time.monotonic() + 20
            while _comments(sid) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _comments(sid) >= 2, "the audience said nothing while this process held its lease"
            Ownership(adopter).take_lease("contact", sid, seed=1)
            time.sleep(0.5)  # a comment already inside its transaction may still land
            before = _comments(sid)
            time.sleep(3)  # 600 a minute: ~30 more would be due
            assert _comments(sid) == before
            assert audiences.script(sid) is None
            assert redis_store.client.hget(redis_store.key("sim", "livestream", sid), "owner") == adopter
        finally:
            audiences.stop(sid)


def test_two_overlapping_starts_of_one_audience_keep_the_lease_that_is_current(app, monkeypatch):
    """Two starts of one stream's audience overlap in this process (a reconnecting presenter's two "publishing"
    events): each takes the lease, and the one that took the older generation registers first. The audience is
    fenced by the newer one, both being this process's: it goes on posting instead of being fenced out by its own
    second start and going silent (before, it kept the older and every comment raised LeaseLost)."""
    import time

    from simulator.models import SimulatedCustomer

    with app.app_context():
        sid = _chatty_sale()
        real, overlapped = audiences._take_lease, []

        def take_lease(stream_id, seed):
            if not overlapped:  # the second start: the first takes the lease and registers meanwhile
                overlapped.append(None)
                overlapped[0] = audiences.start(stream_id)
            return real(stream_id, seed)

        monkeypatch.setattr(audiences, "_take_lease", take_lease)

        try:
            assert audiences.start(sid) is overlapped[0] is not None
            db.session.expire_all()
            assert audiences._leases[sid] == db.session.get(SimulatedCustomer, sid).lease
            before = _comments(sid)
            deadline = time.monotonic() + 20
            while _comments(sid) < before + 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _comments(sid) >= before + 2, "the audience went silent"
            assert audiences.script(sid) is not None
        finally:
            audiences.stop(sid)


@needs_postgresql
def test_a_comment_refused_under_an_older_lease_does_not_drop_the_audience_registered_under_a_newer_one(
    app, monkeypatch
):
    """Two starts of one stream's audience overlap in this process: the first registers under its lease and the
    audience's thread sends a comment under it; the second takes a newer lease (its transaction holds the row, so
    the comment waits) and registers it. The comment is then refused (its lease is no longer current) - but the
    audience registered under the newer lease is this process's current one: it goes on posting (before: the
    refusal let the audience go, and the stream was silent until a later start)."""
    import time

    from sqlalchemy import text

    pid = app.extensions["kefu_liveness"].process_id
    with app.app_context():
        sid = _chatty_sale()
        real, first, second = audiences._take_lease, [], []

        def waiting_comment() -> bool:  # the audience's thread, blocked on the lease row
            q = text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE simulated_customers%'"
            )
            with db.engine.connect() as conn:
                return bool(conn.execute(q).scalar())

        def take_lease(stream_id, seed):
            if first:
                return real(stream_id, seed)
            first.append(None)
            first[0] = audiences.start(stream_id)  # the first start: registered, its thread posting
            deadline = time.monotonic() + 20
            while _comments(sid) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            # The second start's lease: taken in a transaction still open while it registers (a comment of the
            # first's, on its way meanwhile, waits for the row and is refused once it is committed).
            conn = db.engine.connect()
            second.extend([conn, conn.begin()])
            lease = conn.execute(
                text(
                    "UPDATE simulated_customers SET lease = lease + 1, driver = :pid"
                    " WHERE contact_id = :id RETURNING lease"
                ),
                {"pid": pid, "id": stream_id},
            ).scalar_one()
            deadline = time.monotonic() + 10
            while not waiting_comment() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert waiting_comment(), "no comment on its way under the first start's lease"
            return lease

        monkeypatch.setattr(audiences, "_take_lease", take_lease)
        try:
            assert audiences.start(sid) is first[0] is not None
            newer = audiences._leases[sid]
            second[1].commit()  # the second start's lease is committed: the waiting comment is refused
            time.sleep(1.0)
            assert audiences.script(sid) is not None, "the audience was let go"
            assert audiences._leases[sid] == newer
            before = _comments(sid)
            deadline = time.monotonic() + 20
            while _comments(sid) < before + 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _comments(sid) >= before + 2, "the audience went silent"
        finally:
            if second:
                if second[1].is_active:
                    second[1].rollback()
                second[0].close()
            audiences.stop(sid)


def test_a_publishing_start_after_the_audiences_process_died_is_not_let_go_by_the_owner_check(app, monkeypatch):
    """The stream's audience ran in a process that died (its owner record still names it) and the presenter's
    "publishing" reaches this process, which goes on with the audience. The audience thread's once-a-second owner
    check, run while the start is under way, does not let the new audience go: the record names this process
    before the audience is registered (before: registered first, it was let go by a check run before the record
    was claimed, and the stream was silent with its record naming this process)."""

    dead = "elsewhere-1-dead00"
    with app.app_context():
        contact, key = _stream_owned_by(dead)
        sid = contact.id
        real, checked = audiences._claim, []

        def claim(stream_id):  # the thread's owner check comes due just as the start claims the record
            audiences._lease_check_at = 0.0
            checked.extend(audiences.check_leases())
            real(stream_id)

        monkeypatch.setattr(audiences, "_claim", claim)
        try:
            assert audiences.start(sid) is not None
            assert checked == [] and audiences.script(sid) is not None
            assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
        finally:
            audiences.stop(sid)


def test_an_audience_whose_lease_is_still_ours_is_not_let_go_for_a_record_naming_another(app):
    """This process runs the stream's audience under the current lease, but the owner record names another live
    process (that process's start of the same audience, overlapping this one's take-over, claimed the record after
    this one did; its own lease is older, so its comments are refused and it lets the audience go). This process
    goes on with the audience and claims the record back (before: it let the audience go on the record's word, and
    the stream had no audience at all)."""
    import time

    other = "elsewhere-2-live00"
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        sid = _chatty_sale()
        key = redis_store.key("sim", "livestream", sid)

        try:
            assert audiences.start(sid) is not None
            liveness.client.set(liveness.proc_key(other), 1, ex=60)
            redis_store.client.hset(key, "owner", other)
            time.sleep(2.5)  # the audience thread's owner check runs (once a second)
            assert audiences.script(sid) is not None, "the audience was let go"
            assert redis_store.client.hget(key, "owner") == liveness.process_id
            before = _comments(sid)
            deadline = time.monotonic() + 20
            while _comments(sid) < before + 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _comments(sid) >= before + 2
        finally:
            audiences.stop(sid)


def test_a_stream_whose_record_cannot_be_read_does_not_stop_the_take_over_of_the_others(app):
    """Two live streams' audiences ran in a process that died; one's owner record cannot be read (a key of the
    wrong type: Redis answers WRONGTYPE). The other's audience is taken over all the same (before: the error
    escaped ``adopt_orphans`` and no audience after it in the pass was taken over)."""
    from livestream.actions import start_livestream

    dead = "elsewhere-1-dead00"
    with app.app_context():
        ann = factories.user("ann")
        broken = start_livestream(ann, title="Sale", lang="en", audience_size=5, seed=2).id
        sid = start_livestream(ann, title="Sale 2", lang="en", audience_size=5, seed=3).id
        redis_store.client.set(redis_store.key("sim", "livestream", broken), "not a hash")
        redis_store.client.hset(redis_store.key("sim", "livestream", sid), "owner", dead)
        try:
            assert audiences.adopt_orphans(dead) == [sid]
            assert audiences.script(sid) is not None
        finally:
            audiences.stop(sid)
            audiences.stop(broken)


def test_an_audience_whose_lease_a_process_that_died_took_is_taken_over_from_it(app, quiet_takeover):
    """This process runs a stream's audience and its owner record names it (put back after a Redis loss), but the
    lease was taken meanwhile by a process that then died - its dead hook ran while the record named this process,
    and no hook comes for it again. The refused comment lets the audience go here and points the record at the dead
    holder; a take-over pass then goes on with the audience (before: the record named the dead process and the
    stream had no audience)."""
    import time

    from simulator.ownership import Ownership

    dead = "elsewhere-1-dead00"
    pid = app.extensions["kefu_liveness"].process_id
    with app.app_context():
        sid = _chatty_sale()
        key = redis_store.key("sim", "livestream", sid)
        try:
            assert audiences.start(sid) is not None
            first = audiences._leases[sid]
            Ownership(dead).take_lease("contact", sid, seed=1)  # the holder, dead since (no heartbeat)
            deadline = time.monotonic() + 10
            while audiences._leases.get(sid) == first and time.monotonic() < deadline:
                time.sleep(0.05)  # refused, let go, taken over under a new lease
            assert _audience_runs(sid, 10), "nobody went on with the audience"
            assert audiences._leases[sid] != first
            assert redis_store.client.hget(key, "owner") == pid
        finally:
            audiences.stop(sid)
