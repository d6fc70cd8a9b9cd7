"""Claiming a livestream audience's owner record (livestream/audience_stream.py ``_claim``, ``_place``;
audience_takeover.py): the record is a compare-and-set that leaves another live process's record alone, and a
simulator worker picked for an audience that then went elsewhere has its load counted back."""

from __future__ import annotations

import logging
import time

from extensions import redis_store
from livestream.audience import audiences
from livestream.audience_stream import TAKE
from tests import factories
from tests.livestream.audience_helpers import _stream_owned_by

OTHER = "elsewhere-2-live00"
WORKER = "host-7-simworker"


def _alive(app, *processes: str) -> None:
    liveness = app.extensions["kefu_liveness"]
    for process in processes:
        liveness.client.set(liveness.proc_key(process), 1, ex=60)  # a live process's heartbeat


def _live_worker(app) -> None:
    """A live simulator worker driving nothing."""
    from simulator.ownership import Ownership

    _alive(app, WORKER)
    Ownership(WORKER).register_worker(0)


def _load(worker: str) -> int:
    return int(redis_store.client.hget(redis_store.key("sim", "load"), worker))


def _placed_elsewhere_after_the_pick(monkeypatch, key: str, expected: str) -> None:
    """Another process takes the stream's owner record (from ``expected``) just after this one picked a worker for it
    (its compare-and-set, the other's, comes first)."""
    real = audiences._worker_for

    def worker_for():
        picked = real()
        assert redis_store.client.eval(TAKE, 0, key, expected, OTHER)
        return picked

    monkeypatch.setattr(audiences, "_worker_for", worker_for)


def test_a_start_leaves_the_record_of_a_live_process_that_took_the_stream_meanwhile(app, monkeypatch, caplog):
    """A "publishing" start here names this process the owner and replays the stream; meanwhile another live process
    takes the stream (this one taken for dead): it names itself in the record and takes the lease. The start's claim
    of the record leaves it to that process and says so, and the audience is let go here on the lease's word (before:
    the claim overwrote the record, and both processes believed they ran the audience)."""
    from livestream.actions import start_livestream
    from simulator.ownership import Ownership

    pid = app.extensions["kefu_liveness"].process_id
    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        key = redis_store.key("sim", "livestream", sid)
        _alive(app, OTHER)
        real = audiences._replay

        def replay(stream_id, script):  # the other process takes it over while this one reads the recording
            assert redis_store.client.eval(TAKE, 0, key, pid, OTHER)
            Ownership(OTHER).take_lease("contact", stream_id, seed=2)
            return real(stream_id, script)

        monkeypatch.setattr(audiences, "_replay", replay)
        try:
            with caplog.at_level(logging.WARNING, logger="livestream.audience_stream"):
                audiences.start(sid)
            assert redis_store.client.hget(key, "owner") == OTHER
            assert any(OTHER in r.getMessage() and "live process" in r.getMessage() for r in caplog.records)
            deadline = time.monotonic() + 5
            while audiences.script(sid) is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert audiences.script(sid) is None, "the audience ran on here under an older lease"
            assert redis_store.client.hget(key, "owner") == OTHER
        finally:
            audiences.stop(sid)


def test_a_record_naming_a_dead_process_or_none_is_claimed(app):
    """The claim takes a record that names a process that died, and puts back one Redis lost."""
    pid = app.extensions["kefu_liveness"].process_id
    with app.app_context():
        contact, key = _stream_owned_by("elsewhere-3-dead00")
        assert audiences._claim(contact.id)
        assert redis_store.client.hget(key, "owner") == pid
        redis_store.client.delete(key)
        assert audiences._claim(contact.id)
        assert redis_store.client.hget(key, "owner") == pid


def test_a_worker_picked_for_a_stream_placed_elsewhere_meanwhile_is_not_left_counted(app, monkeypatch):
    """A "publishing" start picks the live simulator worker for the stream's audience (its load counted up), but
    another process places the stream first: the audience is not this process's to place, and the worker's load is
    back where it was, nothing sent to it (before: counted one up until its next beat)."""
    import json

    from contacts.stream import get_event_log
    from livestream.actions import start_livestream

    with app.app_context():
        sid = start_livestream(factories.user("ann"), title="Sale", lang="en", audience_size=5, seed=2).id
        key = redis_store.key("sim", "livestream", sid)
        _alive(app, OTHER)
        _live_worker(app)
        _placed_elsewhere_after_the_pick(monkeypatch, key, "")
        assert audiences.start(sid) is None
        assert audiences.script(sid) is None
        assert redis_store.client.hget(key, "owner") == OTHER
        assert _load(WORKER) == 0
        log_ = get_event_log(app)
        assert [json.loads(f["x"]) for _, f in log_.client.xrange(log_.key("inbox", "simulator", WORKER))] == []


def test_a_worker_picked_to_take_over_a_stream_another_process_took_first_is_not_left_counted(app, monkeypatch):
    """A take-over pass finds a stream whose audience's process died and picks the live simulator worker for it, but
    another process takes the stream over first: the worker's load is back where it was (before: counted one up)."""
    dead = "elsewhere-3-dead00"
    with app.app_context():
        contact, key = _stream_owned_by(dead)
        _alive(app, OTHER)
        _live_worker(app)
        _placed_elsewhere_after_the_pick(monkeypatch, key, dead)
        assert audiences.adopt_orphans() == []
        assert redis_store.client.hget(key, "owner") == OTHER
        assert _load(WORKER) == 0
