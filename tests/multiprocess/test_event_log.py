"""The shared log of contact events (contacts/stream.py) on the test Redis (embedded by default): each entry
reaches one consumer of a kind and is acknowledged after its handler; what the publishing process dealt with
in-process is skipped; a dead consumer's pending entries are claimed and handled by another, once; an entry
about state another process holds is forwarded to that process's inbox."""

from __future__ import annotations

import time

import pytest

from contacts.actions import do_create_contact, do_post_message
from contacts.events import subscribe, unsubscribe
from contacts.redis_writer import redis_writer
from contacts.stream import StreamConsumer, StreamKind, get_event_log
from extensions import db, redis_store


@pytest.fixture
def log_app(app):
    """The app with a short claim time, and consumers that are stopped afterwards."""
    made: list[StreamConsumer] = []
    with app.app_context():
        event_log = get_event_log(app)
        event_log.claim_idle_ms = 100

        def consumer(kind: StreamKind, name: str) -> StreamConsumer:
            c = StreamConsumer(event_log, kind)
            c.name = name
            c.ensure_groups()
            redis_store.client.set(redis_store.key("proc", name), 1, px=60_000)  # alive
            made.append(c)
            return c

        app.consumer = consumer
        yield app
        for c in made:
            c.stop()


def _messages(n: int, prefix: str = "line") -> tuple[int, list[str]]:
    contact = do_create_contact("chat", "chat.general", customer_name="Log test")
    for i in range(n):
        do_post_message(db.session.get(type(contact), contact.id), "customer", f"{prefix} {i}")
    assert redis_writer.flush()
    return contact.id, [f"{prefix} {i}" for i in range(n)]


def _texts(payloads: list[dict], cid: int) -> list[str]:
    return [p["event"]["text"] for p in payloads if p["event"]["contact_id"] == cid and p["event"]["type"] == "message"]


def _drain(*consumers: StreamConsumer, rounds: int = 5) -> None:
    for _ in range(rounds):
        if not sum(c.step(block_ms=50) for c in consumers):
            break


def test_each_entry_reaches_one_consumer_of_a_kind_and_is_acknowledged(log_app):
    """Two processes consume kind k: the 20 lines are handled once between them, none left pending; a second
    kind gets all 20 too."""
    got1, got2, other = [], [], []
    c1 = log_app.consumer(StreamKind("k", handle=got1.append), "p1")
    c2 = log_app.consumer(StreamKind("k", handle=got2.append), "p2")
    c3 = log_app.consumer(StreamKind("k2", handle=other.append), "p1")
    cid, lines = _messages(20)
    c1.step(block_ms=50)  # p1 takes a first batch, p2 what is left (interleaved reads, one delivery each)
    _drain(c2, c1, c3)
    mine1, mine2 = _texts(got1, cid), _texts(got2, cid)
    assert sorted(mine1 + mine2) == sorted(lines)
    assert not set(mine1) & set(mine2)
    assert _texts(other, cid) == lines  # in order, for a kind with one consumer
    pending = redis_store.client.xpending(get_event_log(log_app).key("log"), "k")
    assert pending["pending"] == 0


def test_what_the_publisher_dealt_with_in_process_is_skipped(log_app):
    """A listener of kind k in the publishing process says it dealt with lines containing 'here': the log's
    consumer of k handles only the others; a consumer of another kind still gets them all."""
    local = []

    def listener(payload):
        ev = payload.get("event") or {}
        if ev.get("type") != "message":
            return False
        local.append(ev["text"])
        return "here" in ev["text"]

    subscribe(listener, kind="k")
    try:
        c = log_app.consumer(StreamKind("k", handle=(remote := []).append), "p2")
        cid, _ = _messages(3, "here")
        cid2, lines2 = _messages(3, "there")
    finally:
        unsubscribe(listener)
    _drain(c)
    assert _texts(remote, cid) == []
    # the publisher passed on 'there' lines and nobody owns them: the publisher runs k, so nobody else needs them
    assert _texts(remote, cid2) == []
    assert c.stats.outcomes["skipped"] >= 6 and not c.stats.outcomes["handled"]
    plain = log_app.consumer(StreamKind("plain", handle=(seen := []).append), "p3")
    cid3, lines3 = _messages(2, "plain")
    _drain(plain)
    assert _texts(seen, cid3) == lines3


def test_a_dead_consumers_pending_entries_are_claimed_and_handled_once(log_app):
    """Consumer 'dead' read 5 entries and died before acknowledging them (and had finished one of them, its
    done marker written): after the claim time a live consumer handles the other 4, once, and the dead consumer
    is forgotten."""
    event_log = get_event_log(log_app)
    handled = []
    live = log_app.consumer(StreamKind("k", handle=handled.append), "alive")
    dead = log_app.consumer(StreamKind("k", handle=lambda p: None), "dead")
    cid, lines = _messages(5, "claim")
    got = redis_store.client.xreadgroup("k", "dead", {event_log.key("log"): ">"}, count=100)
    entries = [(i, f) for i, f in got[0][1] if f.get("c") == str(cid) and f.get("t") == "message"]
    assert len(entries) == 5
    redis_store.client.set(dead._done_key(entries[0][0]), "handled")  # finished, not yet acknowledged
    redis_store.client.delete(redis_store.key("proc", "dead"))  # its heartbeat expired
    assert live.step(block_ms=10) == 0 or True  # nothing new: the entries belong to 'dead'
    time.sleep(0.15)
    live._next_claim = 0.0
    live.step(block_ms=10)
    assert _texts(handled, cid) == lines[1:]
    assert live.stats.claimed >= 5 and live.stats.outcomes["done"] >= 1
    assert redis_store.client.xpending(event_log.key("log"), "k")["pending"] == 0
    names = [c["name"] for c in redis_store.client.xinfo_consumers(event_log.key("log"), "k")]
    assert "dead" not in names
    live._next_claim = 0.0
    time.sleep(0.15)
    live.step(block_ms=10)
    assert _texts(handled, cid) == lines[1:]  # nothing handled a second time
    assert live.stats.duplicates == 0


def test_a_live_consumers_slow_entry_is_left_to_it_until_it_is_stuck(log_app):
    """Consumer 'slow' (its process beats) read 3 entries and is still handling them: past the claim time a
    second consumer does not take them (they would be handled twice at once); past the stuck time it does."""
    event_log = get_event_log(log_app)
    handled = []
    other = log_app.consumer(StreamKind("k", handle=handled.append), "other")
    log_app.consumer(StreamKind("k", handle=lambda p: None), "slow")
    cid, lines = _messages(3, "slow")
    got = redis_store.client.xreadgroup("k", "slow", {event_log.key("log"): ">"}, count=100)
    assert len([f for _i, f in got[0][1] if f.get("c") == str(cid) and f.get("t") == "message"]) == 3
    redis_store.client.set(redis_store.key("proc", "slow"), "1", ex=60)  # its process's heartbeat
    try:
        time.sleep(0.15)
        other._next_claim = 0.0
        other.step(block_ms=10)
        assert _texts(handled, cid) == [] and other.stats.claimed == 0
        old = event_log.stuck_ms
        event_log.stuck_ms = 100
        try:
            other._next_claim = 0.0
            other.step(block_ms=10)
        finally:
            event_log.stuck_ms = old
        assert _texts(handled, cid) == lines
    finally:
        redis_store.client.delete(redis_store.key("proc", "slow"))


def test_an_entry_about_state_another_process_holds_goes_to_its_inbox(log_app):
    """Kind k's state of the contact lives in process 'owner': consumer 'router' forwards the lines to the
    owner's inbox, the owner handles them in order; a control message in the inbox reaches ``control``."""
    routed, owned, controls = [], [], []
    owner_of = {}
    kind_args = dict(owner_of=lambda p: owner_of.get(p["event"]["contact_id"]), control=controls.append)
    router = log_app.consumer(StreamKind("k", handle=routed.append, **kind_args), "router")
    owner = log_app.consumer(StreamKind("k", handle=owned.append, **kind_args), "owner")
    contact = do_create_contact("chat", "chat.general", customer_name="Owned")
    owner_of[contact.id] = "owner"
    for i in range(4):
        do_post_message(db.session.get(type(contact), contact.id), "agent", f"owned {i}")
    assert redis_writer.flush()
    _drain(router)
    _drain(owner)
    assert _texts(routed, contact.id) == []
    assert _texts(owned, contact.id) == [f"owned {i}" for i in range(4)]
    assert router.stats.outcomes["forwarded"] >= 4
    get_event_log(log_app).send_control("k", "owner", {"adopt": "contact", "id": contact.id})
    _drain(owner)
    assert controls == [{"adopt": "contact", "id": contact.id}]
    forwarded = router.stats.outcomes["forwarded"]
    # an owner that stopped beating gets nothing forwarded: whoever adopts its work replays the recording
    redis_store.client.delete(redis_store.key("proc", "owner"))
    do_post_message(db.session.get(type(contact), contact.id), "agent", "after the owner died")
    assert redis_writer.flush()
    _drain(router)
    assert _texts(routed, contact.id) == [] and router.stats.outcomes["forwarded"] == forwarded


def test_what_reached_an_inbox_before_its_consumer_started_is_handled(log_app):
    """A process is handed work the moment it is listed, before its consumer of kind k made its groups: the adopt
    message already in its inbox reaches ``control`` once the consumer starts (it was skipped: the inbox's group
    was made from "now on", and the customer handed over was never driven)."""
    controls = []
    get_event_log(log_app).send_control("k", "late", {"adopt": "contact", "id": 7})
    late = log_app.consumer(StreamKind("k", handle=lambda p: None, control=controls.append), "late")
    _drain(late)
    assert controls == [{"adopt": "contact", "id": 7}]
    _drain(late)
    assert len(controls) == 1


def test_a_kind_reading_a_side_log_gets_its_types_and_reads_no_chat_line(log_app):
    """A published wrap-up goes on the log and on the wrap-up side log; chat lines only on the log. A kind reading
    the side log handles the wrap-up and never reads a line; a kind on the whole log still gets both; a kind may
    not name a side log that does not carry every type it reads."""
    from contacts.events import send_event

    log_app.extensions["kefu_grading"].stop()  # this app's own grader would take the wrap-up too
    event_log = get_event_log(log_app)
    wrap_kind = StreamKind("wraps", handle=(wraps := []).append, types=frozenset({"wrap_up"}), log="wrap_up")
    side = log_app.consumer(wrap_kind, "p1")
    whole = log_app.consumer(StreamKind("all", handle=(everything := []).append), "p1")
    assert side.log_key == event_log.log_key("wrap_up") != whole.log_key == event_log.log_key()
    cid, lines = _messages(3, "side")
    wrap_up = {"contact_id": cid, "seq": 4, "type": "wrap_up", "actor": "agent", "data": {"code": "ENQ"}}
    send_event({"type": "contact_event", "event": wrap_up})
    assert redis_writer.flush()
    _drain(side, whole)
    assert [p["event"]["type"] for p in wraps] == ["wrap_up"]
    assert side.stats.outcomes == {"handled": 1}  # no line read and skipped
    assert _texts(everything, cid) == lines and any(p["event"]["type"] == "wrap_up" for p in everything)
    entries = redis_store.client.xrange(event_log.log_key("wrap_up"))
    assert [f["t"] for _, f in entries] == ["wrap_up"] and entries[0][1]["c"] == str(cid)
    with pytest.raises(ValueError):
        event_log.consumer(StreamKind("bad", handle=print, types=frozenset({"wrap_up", "message"}), log="wrap_up"))
    with pytest.raises(ValueError):
        event_log.consumer(StreamKind("bad", handle=print, log="no-such-side-log"))


def test_a_kind_reads_only_the_actors_it_names_for_a_type(log_app):
    """A kind reading messages by agents only (the simulator's): the customer's lines are passed on unread (no
    payload parsed, no owner looked up: ``owner_of`` never sees them), the agent's lines are handled; a kind
    without the filter gets both."""
    owners_asked, handled = [], []
    kind = StreamKind(
        "agents_only",
        handle=handled.append,
        owner_of=lambda payload: owners_asked.append(payload["event"]["actor"]),
        types=frozenset({"message"}),
        actors={"message": frozenset({"agent"})},
    )
    c = log_app.consumer(kind, "p4")
    both = log_app.consumer(StreamKind("both", handle=(everything := []).append), "p4")
    contact = do_create_contact("chat", "chat.general", customer_name="Actors")
    do_post_message(db.session.get(type(contact), contact.id), "customer", "the customer's line")
    do_post_message(db.session.get(type(contact), contact.id), "agent", "the agent's line")
    assert redis_writer.flush()
    _drain(c, both)
    assert _texts(handled, contact.id) == ["the agent's line"]
    assert owners_asked == ["agent"]
    assert _texts(everything, contact.id) == ["the customer's line", "the agent's line"]


def _at_once(n: int, fn) -> list:
    """Run ``fn()`` on ``n`` threads released together; returns what each returned."""
    import threading

    go, out = threading.Barrier(n), [None] * n

    def run(i: int) -> None:
        go.wait()
        out[i] = fn()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _threads_named(name: str) -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


def test_threads_asking_for_a_kinds_consumer_at_once_get_one(log_app):
    """Eight threads ask the log for the consumer of a kind at the same moment (the first events of a process, on
    several threads), twenty kinds over: each time they all get the same consumer, the one the log keeps and stops.
    (Before: two could both find none and each make one; the log kept the last, and the other, started by its
    caller, was never stopped by the log's stop.)"""
    import sys

    event_log = get_event_log(log_app)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often: the race shows in a few rounds
    try:
        for i in range(20):
            kind = StreamKind(f"race{i}", handle=lambda payload: None)
            got = _at_once(8, lambda kind=kind: event_log.consumer(kind))
            assert len({id(c) for c in got}) == 1
            assert got[0] is event_log.consumers[kind.name]
    finally:
        sys.setswitchinterval(interval)
        for i in range(20):
            event_log.consumers.pop(f"race{i}", None)


def test_threads_starting_a_consumer_at_once_start_one_thread_and_a_stop_ends_it(log_app):
    """Eight threads start one consumer at the same moment, ten times over: one thread reads the log each time, and
    the consumer's stop ends it. (Before: each could find no live thread, make the groups and start a thread of its
    own; the consumer kept the last, so its stop ended that one and the others read and handled entries for ever.)"""
    import sys

    consumer = log_app.consumer(StreamKind("starts", handle=lambda payload: None), "p1")
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(10):
            _at_once(8, consumer.start)
            running = len(_threads_named("events-starts"))
            consumer.stop()
            deadline = time.monotonic() + 5
            while _threads_named("events-starts") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert running == 1
            assert not _threads_named("events-starts")
    finally:
        sys.setswitchinterval(interval)
