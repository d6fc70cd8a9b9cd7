"""Starts of a livestream's audience that fail or find its lease busy (a publishing start, a take-over, a worker's
adoption, a whole take-over pass) are tried again on the audiences' adopting thread, with a growing back-off and
one error logged for a failure that lasts."""

from __future__ import annotations

from extensions import db, redis_store
from livestream.audience import audiences
from tests import factories
from tests.livestream.audience_helpers import (
    _audience_runs,
    _errors,
    _hold_lease_row,
    _lease_busy_once,
    _let_go_of_row,
    _rename_table,
    _stream_owned_by,
    _stream_with_unreadable_settings,
)
from tests.markers import needs_postgresql


def test_an_audience_whose_lease_is_busy_is_taken_over_soon_off_the_liveness_thread(app, monkeypatch):
    """The stream's audience ran in a process that stopped beating, in the middle of a comment's write: taking its
    lease gives up (LeaseBusy) rather than wait for that process to resume. The owner record names this process
    now, so nobody else would adopt it: this process takes it over again a moment later, on the audiences' own
    thread (the liveness ``dead`` hook only wakes it), once the lease is free."""
    dead = "elsewhere-1-dead00"
    with app.app_context():
        contact, key = _stream_owned_by(dead)
        sid = contact.id
        threads = []
        busy = _lease_busy_once(monkeypatch, threads)
        try:
            assert audiences.adopt_orphans(dead) == [] and busy == [sid]
            assert audiences.script(sid) is None
            assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
            audiences.adopt_soon(dead)  # the liveness hook: returns at once
            assert _audience_runs(sid, 10)
            assert threads[-1] == "livestream-adopt"
        finally:
            audiences.stop(sid)


@needs_postgresql
def test_a_publishing_start_whose_lease_is_busy_starts_the_audience_once_the_lease_is_free(app):
    """The stream's audience ran in a process that stopped beating in the middle of a comment's write (its owner
    record names it; its transaction holds the lease row), and the presenter's "publishing" reaches this process.
    Taking the lease gives up within its lock wait (LeaseBusy) and the start returns; the owner record now names
    this process and the audience is started here on the adopting thread once the row is free, under a lease of
    this process's (before: LeaseBusy escaped the start, nothing retried it, and the stream had no audience)."""
    import time

    from simulator.models import SimulatedCustomer
    from simulator.ownership import Ownership

    dead = "elsewhere-1-dead00"
    pid = app.extensions["kefu_liveness"].process_id
    with app.app_context():
        contact, key = _stream_owned_by(dead)
        sid = contact.id
        Ownership(dead).take_lease("contact", sid, seed=2)
        row = _hold_lease_row(sid)
        try:
            began = time.monotonic()
            assert audiences.start(sid) is None  # the presenter's "publishing"
            assert time.monotonic() - began < 5
            assert audiences.script(sid) is None
            assert redis_store.client.hget(key, "owner") == pid
            time.sleep(1.5)  # retried while the row is still held: still busy, still not started
            assert audiences.script(sid) is None
            _let_go_of_row(*row)  # the stalled process is killed at last
            assert _audience_runs(sid, 15)
            db.session.expire_all()
            held = db.session.get(SimulatedCustomer, sid)
            assert held.driver == pid and audiences._leases[sid] == held.lease
        finally:
            _let_go_of_row(*row)
            audiences.stop(sid)


@needs_postgresql
def test_a_busy_audience_that_another_process_took_over_meanwhile_is_not_retried_here(app):
    """A take-over here found the stream's lease busy and is retried every second; meanwhile another live process
    took the audience over (its owner record names it). This process stops retrying: it starts nothing and its
    adopting thread goes idle (before: the stream stayed in the busy set for as long as it was live, and the thread
    woke every second to look at it)."""
    import time

    dead, other = "elsewhere-1-dead00", "elsewhere-2-live00"
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        contact, key = _stream_owned_by(dead)
        sid = contact.id
        audiences.start(sid)  # creates the lease row; let go at once, as the dead process's audience
        audiences.stop(sid)
        redis_store.client.hset(key, "owner", dead)
        row = _hold_lease_row(sid)
        try:
            assert audiences.adopt_orphans(dead) == [] and sid in audiences._busy  # LeaseBusy: retried soon
            liveness.client.set(liveness.proc_key(other), 1, ex=60)  # another live process ...
            redis_store.client.hset(key, "owner", other)  # ... took the audience over meanwhile
            _let_go_of_row(*row)
            audiences.adopt_soon()
            deadline = time.monotonic() + 10
            while sid in audiences._busy and time.monotonic() < deadline:
                time.sleep(0.1)
            assert sid not in audiences._busy
            assert audiences.script(sid) is None and redis_store.client.hget(key, "owner") == other
        finally:
            _let_go_of_row(*row)
            audiences.stop(sid)


def test_a_publishing_start_whose_lease_is_busy_while_redis_fails_is_tried_again(app, monkeypatch, quiet_takeover):
    """The presenter's "publishing" start finds the stream's lease busy (a stalled write of the audience's previous
    process, taken for dead) while Redis fails on the stream's owner record (WRONGTYPE here). The start is tried
    again on the adopting thread all the same, and the audience runs here once Redis answers and the lease is free
    (before: "not retried" - no dead hook comes again, and the stream had no audience)."""
    dead = "elsewhere-1-dead00"
    with app.app_context():
        contact, key = _stream_owned_by(dead)
        sid = contact.id
        redis_store.client.delete(key)
        redis_store.client.set(key, "not a hash")
        busy = _lease_busy_once(monkeypatch)
        try:
            assert audiences.start(sid) is None and busy == [sid]
            redis_store.client.delete(key)
            redis_store.client.hset(key, "owner", dead)  # Redis answers again: the record names the dead process
            assert _audience_runs(sid, 10), "the busy start was not tried again"
            assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
        finally:
            audiences.stop(sid)


def test_a_publishing_start_that_fails_is_tried_again(app, quiet_takeover):
    """The presenter's "publishing" start fails after it claimed the stream's owner record (the stream's settings
    cannot be read, until they are put right). The record names this live process, so nobody else would start the
    audience: this process starts it on its adopting thread once the start succeeds (before: the failure went up to
    the media event's listener, and the stream had no audience)."""
    pid = app.extensions["kefu_liveness"].process_id
    with app.app_context():
        sid, mend = _stream_with_unreadable_settings(owner=pid)
        key = redis_store.key("sim", "livestream", sid)
        redis_store.client.delete(key)  # a new stream: no record yet
        try:
            assert audiences.start(sid) is None
            assert redis_store.client.hget(key, "owner") == pid
            mend()
            assert _audience_runs(sid, 10)
        finally:
            audiences.stop(sid)


def test_a_take_over_that_fails_is_tried_again(app):
    """Taking a dead process's audience over fails after its owner record was taken (here: the stream's settings
    cannot be read, until they are put right). The record names this process, so nobody else would try again: this
    process does, on its adopting thread, and the audience runs once the start succeeds (before: it was logged and
    the stream had no audience for good)."""

    dead = "elsewhere-1-dead00"
    with app.app_context():
        sid, mend = _stream_with_unreadable_settings(owner=dead)
        key = redis_store.key("sim", "livestream", sid)
        try:
            assert audiences.adopt_orphans(dead) == []
            assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
            mend()
            audiences.adopt_soon()
            assert _audience_runs(sid, 10)
        finally:
            audiences.stop(sid)


def test_a_worker_adoption_that_fails_is_tried_again(app):
    """A simulator worker is told to adopt a stream's audience (its owner record names the worker), but the start
    fails (the stream's settings cannot be read, until they are put right). The worker tries again on its adopting
    thread, and the audience runs once the start succeeds (before: the adopt message was logged as failed, and as
    the record named a live worker nobody adopted the audience again)."""

    engine = app.extensions["kefu_simulator"]
    liveness = app.extensions["kefu_liveness"]
    with app.app_context():
        sid, mend = _stream_with_unreadable_settings(owner=liveness.process_id)
        try:
            engine._on_control({"adopt": "livestream", "id": sid})
            assert audiences.script(sid) is None
            mend()
            assert _audience_runs(sid, 10)
        finally:
            audiences.stop(sid)


def test_a_take_over_pass_that_fails_as_a_whole_is_tried_again(app):
    """A process died while running a stream's audience, and the pass that goes on with its audiences fails as a
    whole (the live streams cannot be read: here their table is away, until it is back). Nothing is in the retry
    set, and no other process will run the dead hook again: the pass is tried again a few seconds later, and the
    audience runs here (before: the failure was logged and the audience never taken over)."""
    import time

    dead = "elsewhere-1-dead00"
    with app.app_context():
        from livestream.actions import start_livestream

        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        key = redis_store.key("sim", "livestream", sid)
        redis_store.client.hset(key, "owner", dead)
        _rename_table("contacts", "contacts_away")
        try:
            audiences.adopt_soon(dead)  # the liveness dead hook: the pass fails
            deadline = time.monotonic() + 5
            while audiences._adopt_due.is_set() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # the pass has run (and failed)
            assert audiences.script(sid) is None
        finally:
            _rename_table("contacts_away", "contacts")
        try:
            deadline = time.monotonic() + 15
            while audiences.script(sid) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert audiences.script(sid) is not None, "the failed pass was not tried again"
            assert redis_store.client.hget(key, "owner") == app.extensions["kefu_liveness"].process_id
        finally:
            audiences.stop(sid)


def test_a_take_over_pass_in_which_redis_failed_is_tried_again(app):
    """A process died while running a stream's audience, and Redis fails the pass that goes on with its audiences
    (here the stream's owner record cannot be read - WRONGTYPE - until it is put right). The stream was not taken
    over, so nothing is in the retry set: the pass is tried again a few seconds later and the audience runs here
    (before: each stream's failure was logged and the pass ended as if there was nothing to take over)."""
    import time

    from livestream.actions import start_livestream

    dead = "elsewhere-1-dead00"
    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        key = redis_store.key("sim", "livestream", sid)
        redis_store.client.set(key, "not a hash")
        try:
            audiences.adopt_soon(dead)  # the liveness dead hook: reading the record fails
            time.sleep(1.0)
            assert audiences.script(sid) is None
            redis_store.client.delete(key)
            redis_store.client.hset(key, "owner", dead)  # Redis answers again
            deadline = time.monotonic() + 15
            while audiences.script(sid) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert audiences.script(sid) is not None, "the failed pass was not tried again"
        finally:
            audiences.stop(sid)


def test_an_owner_record_unreadable_for_good_is_logged_once_and_backed_off(app, monkeypatch, caplog, quiet_takeover):
    """A dead process's stream has an owner record Redis cannot read (WRONGTYPE) for good. Each failed pass is tried
    again, but the error is logged once, not on every pass (before: a traceback on every retry, for as long as the
    stream was live), and the passes back off past 30 s (before: every 30 s for good)."""
    import logging
    import time

    from livestream import audience_takeover
    from livestream.actions import start_livestream

    monkeypatch.setattr(audience_takeover, "ADOPT_RETRY_SECONDS", 0.1)
    real_later, delays = audiences._adopt_later, []

    def adopt_later(delay):
        delays.append(delay)
        real_later(delay)

    monkeypatch.setattr(audiences, "_adopt_later", adopt_later)
    caplog.set_level(logging.DEBUG, logger="livestream.audience_takeover")
    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        redis_store.client.set(redis_store.key("sim", "livestream", sid), "not a hash")
        audiences.adopt_soon("elsewhere-1-dead00")  # the liveness dead hook
        deadline = time.monotonic() + 10
        while len(delays) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(delays) >= 4, "the failed pass was not tried again"
        assert len(_errors(caplog, sid)) == 1
        assert sum(r.levelname == "WARNING" and "pass failed" in r.getMessage() for r in caplog.records) == 1
        monkeypatch.setattr(audience_takeover, "ADOPT_RETRY_SECONDS", 2.0)
        audiences._adopt_failures = 9  # failing for a while now
        tried = len(delays)
        audiences.adopt_soon()
        deadline = time.monotonic() + 10
        while len(delays) == tried and time.monotonic() < deadline:
            time.sleep(0.05)
        assert delays[tried] > 60, "the passes did not back off past 30 s"
        assert len(_errors(caplog, sid)) == 1


def test_a_take_over_that_fails_for_good_is_logged_once(app, caplog, quiet_takeover):
    """Taking a dead process's audience over fails after its owner record was taken, for good (the stream's settings
    cannot be read). It is tried again, after a growing back-off, and the error is logged once (before: tried every
    second with a traceback each time, for as long as the stream was live)."""
    import logging
    import time

    caplog.set_level(logging.DEBUG, logger="livestream.audience_takeover")
    tries = []
    with app.app_context():
        sid, _mend = _stream_with_unreadable_settings(owner="elsewhere-1-dead00")
        real = audiences.start

        def start(stream_id, **kw):
            tries.append(time.monotonic())
            return real(stream_id, **kw)

        audiences.start = start  # an instance attribute: the class's start is untouched
        try:
            assert audiences.adopt_orphans("elsewhere-1-dead00") == []
            audiences.adopt_soon()
            time.sleep(4.5)
            assert len(tries) >= 3, "the failed start was not tried again"
            assert len(_errors(caplog, sid)) == 1
            gaps = [b - a for a, b in zip(tries[1:], tries[2:], strict=False)]
            assert gaps == sorted(gaps), "the retries did not back off"
        finally:
            del audiences.start
            audiences.stop(sid)
