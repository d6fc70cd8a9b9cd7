"""Voice fixtures: logged-in desks and /voice sockets, and browser-like aiortc peers on their own loop."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
from sqlalchemy import select

from contacts.models import Contact, ContactEvent
from extensions import db, media_loop, socketio
from media.rtc_client import RtcClient, ToneTrack


class ClientLoop:
    """An asyncio loop in a thread for the 'browsers' (aiortc clients), apart from the server's media loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(2)


@pytest.fixture
def browsers():
    cl = ClientLoop()
    yield cl
    cl.stop()


@pytest.fixture
def voice_app(app, tmp_path):
    app.config["RECORDINGS_DIR"] = str(tmp_path / "recordings")
    worker = app.extensions["kefu_media_worker"]
    worker.recordings_dir = tmp_path / "recordings"
    media_loop.start()
    yield app
    media_loop.submit(worker.shutdown()).result(10)


def login(app, username):
    c = app.test_client()
    assert c.post("/login", data={"username": username, "password": "pass1234"}).status_code == 302
    return c


def agent_sockets(app, username):
    """(desk socket set available, voice socket, http client) for a logged-in agent."""
    http = login(app, username)
    desk = socketio.test_client(app, namespace="/desk", flask_test_client=http)
    res = desk.emit("set_state", {"state": "available"}, namespace="/desk", callback=True)
    assert res["ok"], res
    voice = socketio.test_client(app, namespace="/voice", flask_test_client=http)
    assert voice.is_connected("/voice")
    return desk, voice, http


def wait_for(pred, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(step)
    raise AssertionError("condition not met in time")


def events_of(app, cid, type_=None):
    with app.app_context():
        q = select(ContactEvent).where(ContactEvent.contact_id == cid).order_by(ContactEvent.seq)
        evs = [e.as_dict() for e in db.session.scalars(q)]
        db.session.remove()
    return [e for e in evs if type_ is None or e["type"] == type_]


def contact_status(app, cid):
    with app.app_context():
        st = db.session.get(Contact, cid).status
        db.session.remove()
    return st


def connect(browsers, sock, event, payload, track, ns="/voice"):
    """A browser peer: offer (after ICE gathering), send it with ``event``, apply the answer, wait connected."""
    client = browsers.run(_make_client(track))
    sdp = browsers.run(client.offer())
    res = sock.emit(event, {**payload, "sdp": sdp}, namespace=ns, callback=True)
    assert res["ok"], res
    browsers.run(client.accept(res["sdp"]))
    browsers.run(client.wait_connected())
    return client


async def _make_client(track):
    return RtcClient(track)


def heard_since(client, n):
    return np.array(client.levels[n:])


@pytest.fixture
def call(voice_app, make_user, browsers):
    """agent1 is available; a caller dials, is assigned to agent1 and connects its audio."""
    app = voice_app
    make_user("agent1")
    desk, voice, http = agent_sockets(app, "agent1")
    caller = socketio.test_client(app, namespace="/voice", flask_test_client=app.test_client())
    dial_msg = {"name": "Ms Wang", "queue": "voice.general", "lang": "en"}
    dial = caller.emit("dial", dial_msg, namespace="/voice", callback=True)
    assert dial["ok"], dial
    cid, token = dial["contact_id"], dial["token"]
    wait_for(lambda: contact_status(app, cid) == "active")
    who = {"contact_id": cid, "token": token}
    caller_pc = connect(browsers, caller, "caller_offer", who, ToneTrack(220, voice=True, speaking=False))
    return {
        "app": app,
        "cid": cid,
        "token": token,
        "desk": desk,
        "voice": voice,
        "http": http,
        "caller": caller,
        "caller_pc": caller_pc,
    }


@pytest.fixture
def whisper():
    """The packaged speech recogniser (loaded once per test session)."""
    from tests.asr_support import whisper as load

    return load()


@pytest.fixture
def en_reader():
    """The English language-understanding Reader on the shipped pack (loaded once per test session)."""
    from tests.asr_support import reader

    return reader("en")
