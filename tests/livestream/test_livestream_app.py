"""A livestream through the app: Socket.IO signalling with role checks, aiortc publisher and viewers, the batched
rate-limited chat, presenter actions, a publisher drop and the recording on the contact's timeline."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from aiortc import RTCSessionDescription

from contacts.models import ContactEvent
from extensions import db
from livestream import fanout
from livestream.actions import start_livestream
from tests import factories

from .aiortc_peers import MovingPicture, Tone, Viewer, offer_of

pytestmark = pytest.mark.app_config(LIVESTREAM_BATCH_MS=200)


class PeerLoop:
    """The test's own asyncio thread for the client-side aiortc peers (the server's are on the media loop)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def peers():
    p = PeerLoop()
    yield p
    p.stop()


@pytest.fixture
def people(app):
    with app.app_context():
        lead = factories.user("lead1", role="lead")
        group = factories.group("Class A", lead=lead)
        trainee = factories.user("ann", group=group)
        factories.user("bob", group=group)
        factories.user("gina", role="grader")
        outsider = factories.user("otto", group=factories.group("Class B"))
        contact = start_livestream(trainee, title="Spring sale Q&A", lang="en", audience_size=0)
        return {"stream": contact.id, "group": group.id, "outsider": outsider.id}


def ask(sc, event, data):
    """Emit on /livestream and return the ack."""
    return sc.emit(event, data, namespace="/livestream", callback=True)


def logged_in(app, username):
    c = app.test_client()
    r = c.post("/login", data={"username": username, "password": "pass1234"})
    assert r.status_code in (302, 303)
    return c


def received(sc, type_):
    out = []
    for msg in sc.get_received("/livestream"):
        if msg["name"] == "event" and msg["args"][0].get("type") == type_:
            out.append(msg["args"][0])
    return out


def wait_until(cond, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_publish_and_watch_with_one_encoder_then_publisher_drop(app, people, socket_client, peers):
    """Three staff viewers decode the presenter's stream through one video and one audio encoder; when the
    presenter's peer drops, viewers are told and the recording is reported on the contact."""
    sid = people["stream"]
    presenter = socket_client("/livestream", logged_in(app, "ann"))
    assert ask(presenter, "join", {"stream_id": sid})["me"]["presenter"]

    async def make_publisher():
        from aiortc import RTCPeerConnection

        pc = RTCPeerConnection()
        pc.addTrack(MovingPicture())
        pc.addTrack(Tone())
        return pc, await offer_of(pc)

    pub, offer = peers.run(make_publisher())
    ack = ask(presenter, "publish", {"stream_id": sid, "offer": offer})
    assert ack["ok"], ack
    peers.run(pub.setRemoteDescription(RTCSessionDescription(**ack["answer"])))

    before = dict(fanout.ENCODERS_ALIVE)
    viewers, sockets = [], []
    for name in ("bob", "gina", "lead1"):
        sc = socket_client("/livestream", logged_in(app, name))
        assert ask(sc, "join", {"stream_id": sid})["ok"]
        v = peers.run(_new_viewer())
        offer = peers.run(offer_of(v.pc))
        deadline = time.time() + 10
        while True:  # the first watch may come before the publisher's media arrives
            ack = ask(sc, "watch", {"stream_id": sid, "offer": offer})
            if ack["ok"] or time.time() > deadline:
                break
            time.sleep(0.2)
        assert ack["ok"], ack
        peers.run(v.pc.setRemoteDescription(RTCSessionDescription(**ack["answer"])))
        viewers.append(v)
        sockets.append(sc)
    assert wait_until(lambda: all(v.video_frames >= 15 and v.audio_frames >= 10 for v in viewers), 30)
    assert fanout.ENCODERS_ALIVE["video"] == 1 and fanout.ENCODERS_ALIVE["audio"] == 1, fanout.ENCODERS_ALIVE
    assert before == fanout.ENCODERS_ALIVE  # three viewers joined; no encoder was added for them

    for sc in sockets:
        sc.get_received("/livestream")
    peers.run(pub.close())
    assert wait_until(lambda: _has(app, sid, "livestream.recording"), 40)
    time.sleep(0.5)
    for sc in sockets:  # every viewer's page is told, through the stream's room
        told = [m["event"]["type"] for m in received(sc, "contact_event")]
        assert "livestream.publisher_dropped" in told and "livestream.recording" in told
    with app.app_context():
        types = [
            e.type
            for e in db.session.scalars(
                db.select(ContactEvent).where(ContactEvent.contact_id == sid).order_by(ContactEvent.seq)
            )
        ]
        rec = db.session.scalar(
            db.select(ContactEvent).where(ContactEvent.contact_id == sid, ContactEvent.type == "livestream.recording")
        )
        files = {f["kind"]: f for f in rec.data["files"]}
    assert "livestream.publishing" in types and "livestream.publisher_dropped" in types
    assert types.index("livestream.publisher_dropped") < types.index("livestream.recording")
    assert files["video"]["packets"] > 10 and files["audio"]["seconds"] > 0.5
    with app.app_context():
        samples = [s for e in db.session.scalars(db.select(ContactEvent).where(ContactEvent.contact_id == sid,
                   ContactEvent.type == "livestream.presenter_samples")) for s in e.data["samples"]]  # fmt: skip
    assert samples and all(s["face"] for s in samples)  # the presenter's face, found by the video helper's Haar
    assert all(-20 < s["level_dbfs"] < -10 for s in samples if s["level_dbfs"] is not None)  # the -12 dBFS tone
    assert wait_until(lambda: all(v.ended.is_set() for v in viewers), 15)
    for v in viewers:
        peers.run(v.close())


async def _new_viewer():
    return Viewer()


def _has(app, sid, type_):
    with app.app_context():
        found = db.session.scalar(
            db.select(ContactEvent.id).where(ContactEvent.contact_id == sid, ContactEvent.type == type_)
        )
        db.session.remove()
        return found is not None


def test_roles_and_bad_input_are_refused(app, people, socket_client):
    """An outsider may not join, a viewer may not publish or mark answers, and malformed requests get errors."""
    sid = people["stream"]
    otto = socket_client("/livestream", logged_in(app, "otto"))
    ack = ask(otto, "join", {"stream_id": sid})
    assert not ack["ok"] and "may not watch" in ack["error"]
    assert not ask(otto, "comment", {"stream_id": sid, "text": "hi"})["ok"]
    bob = socket_client("/livestream", logged_in(app, "bob"))
    assert ask(bob, "join", {"stream_id": sid})["ok"]
    ack = ask(bob, "publish", {"stream_id": sid, "offer": {"type": "offer", "sdp": "v=0"}})
    assert not ack["ok"] and "presenter" in ack["error"]
    ack = ask(bob, "mark_answered", {"stream_id": sid, "comment_seq": 1})
    assert not ack["ok"]
    for bad in (None, "x", {"stream_id": "abc"}, {"stream_id": 99999}):
        ack = ask(bob, "comment", bad)
        assert not ack["ok"] and ack["error"]
    ack = ask(bob, "watch", {"stream_id": sid, "offer": {"type": "offer", "sdp": "nonsense"}})
    assert not ack["ok"] and "not live" in ack["error"]
    ann = socket_client("/livestream", logged_in(app, "ann"))
    ask(ann, "join", {"stream_id": sid})
    ack = ask(ann, "publish", {"stream_id": sid, "offer": {"type": "offer", "sdp": "v=0\r\nnot really"}})
    assert not ack["ok"] and "offer" in ack["error"]
    ack = ask(ann, "publish", {"stream_id": sid, "offer": "v=0"})
    assert not ack["ok"] and "SDP offer" in ack["error"]
    # A guest without a valid link cannot connect at all.
    from extensions import socketio

    guest = socketio.test_client(app, namespace="/livestream", auth={"guest": "forged"})
    assert not guest.is_connected("/livestream")


@pytest.mark.app_config(LIVESTREAM_BATCH_MS=200, LIVESTREAM_COMMENT_WINDOW=60.0)
def test_comment_flood_is_rate_limited_and_batched(app, people, socket_client):
    """A viewer flooding 30 comments gets 3 recorded per window and the rest refused; the presenter receives the
    accepted comments of several viewers in few batched emits, not one emit each."""
    sid = people["stream"]
    ann = socket_client("/livestream", logged_in(app, "ann"))
    ask(ann, "join", {"stream_id": sid})
    ann.get_received("/livestream")
    bob = socket_client("/livestream", logged_in(app, "bob"))
    ask(bob, "join", {"stream_id": sid})
    acks = [ask(bob, "comment", {"stream_id": sid, "text": f"buy buy {i}"}) for i in range(30)]
    ok = [a for a in acks if a["ok"]]
    refused = [a for a in acks if not a["ok"]]
    assert len(ok) == 3 and len(refused) == 27
    assert "slow down" in refused[0]["error"]
    lead = socket_client("/livestream", logged_in(app, "lead1"))
    ask(lead, "join", {"stream_id": sid})
    comments = [a["comment"] for a in ok]
    for i in range(3):
        ack = ask(lead, "comment", {"stream_id": sid, "text": f"question {i}?"})
        assert ack["ok"]
        comments.append(ack["comment"])
    time.sleep(0.7)  # a few batch intervals
    batches = received(ann, "livestream_comments")
    assert sum(len(b["comments"]) for b in batches) == 6
    # One emit per 200 ms interval at most, however slow the machine made the posting.
    span = comments[-1]["ts"] - comments[0]["ts"]
    assert len(batches) <= span / 0.2 + 2
    assert any(len(b["comments"]) > 1 for b in batches) or span > 1.0
    assert all("sim" not in str(c) for b in batches for c in b["comments"])
    with app.app_context():
        n = db.session.scalar(
            db.select(db.func.count())
            .select_from(ContactEvent)
            .where(ContactEvent.contact_id == sid, ContactEvent.type == "livestream.comment")
        )
    assert n == 6


def test_a_resent_comment_is_recorded_and_shown_once(app, people, socket_client):
    """A comment sent again with its ``client_id`` (its ack was lost with a dropped socket; a guest comes back as
    a new viewer) is recorded once and batched to the presenter once; the resend's ack returns the first one,
    marked duplicate. Another client_id is another comment; a bad client_id is refused."""
    from contacts.models import Contact
    from extensions import socketio
    from livestream.actions import guest_token

    sid = people["stream"]
    ann = socket_client("/livestream", logged_in(app, "ann"))
    ask(ann, "join", {"stream_id": sid})
    ann.get_received("/livestream")
    with app.app_context():
        token = guest_token(db.session.get(Contact, sid))
    comment = {"stream_id": sid, "text": "Does it ship today?", "client_id": "g1-1"}
    first = socketio.test_client(app, namespace="/livestream", auth={"guest": token, "name": "Gus"})
    assert ask(first, "join", {"stream_id": sid})["ok"]
    one = ask(first, "comment", comment)
    assert one["ok"] and not one["duplicate"]
    first.disconnect(namespace="/livestream")
    again = socketio.test_client(app, namespace="/livestream", auth={"guest": token, "name": "Gus"})
    assert ask(again, "join", {"stream_id": sid})["ok"]
    two = ask(again, "comment", comment)
    assert two["ok"] and two["duplicate"] and two["comment"]["seq"] == one["comment"]["seq"]
    other = ask(again, "comment", {**comment, "client_id": "g1-2"})
    assert other["ok"] and other["comment"]["seq"] > one["comment"]["seq"]
    bad = ask(again, "comment", {**comment, "client_id": "x" * 65})
    assert not bad["ok"] and "client_id" in bad["error"]
    time.sleep(0.7)  # a few batch intervals
    shown = [c["seq"] for b in received(ann, "livestream_comments") for c in b["comments"]]
    assert shown == [one["comment"]["seq"], other["comment"]["seq"]]
    with app.app_context():
        texts = db.session.scalars(
            db.select(ContactEvent.client_id).where(
                ContactEvent.contact_id == sid, ContactEvent.type == "livestream.comment"
            )
        ).all()
    assert sorted(texts) == ["g1-1", "g1-2"]
    again.disconnect(namespace="/livestream")


def test_presenter_marks_pins_replies_and_moves_a_viewer(app, people, socket_client):
    """The presenter marks a question answered, pins an answer, replies, and moves a viewer to a one-to-one
    chat reserved for them; the viewer gets the private chat's token; every step is recorded."""
    sid = people["stream"]
    ann = socket_client("/livestream", logged_in(app, "ann"))
    ask(ann, "join", {"stream_id": sid})
    bob = socket_client("/livestream", logged_in(app, "bob"))
    ask(bob, "join", {"stream_id": sid})
    seq = ask(bob, "comment", {"stream_id": sid, "text": "Is the 7-day return free?"})["comment"]["seq"]
    seq2 = ask(bob, "comment", {"stream_id": sid, "text": "My order is late, I want to complain"})["comment"]["seq"]

    def emit(ev, data):
        return ask(ann, ev, {"stream_id": sid, **data})

    assert emit("mark_answered", {"comment_seq": seq})["ok"]
    assert emit("pin", {"comment_seq": seq, "text": "Returns within 7 days are free for unused items."})["ok"]
    assert emit("reply", {"text": "Great question, thanks!"})["ok"]
    assert not emit("mark_answered", {"comment_seq": 999})["ok"]
    assert not emit("pin", {"text": ""})["ok"]
    moved = emit("move_to_chat", {"comment_seq": seq2})
    assert moved["ok"], moved
    chat_id = moved["event"]["data"]["chat_contact_id"]
    assert not emit("move_to_chat", {"comment_seq": seq2})["ok"]  # already moved
    private = received(bob, "livestream_private")
    assert private and private[0]["chat_contact_id"] == chat_id and private[0]["token"]
    with app.app_context():
        from contacts.models import Contact

        chat = db.session.get(Contact, chat_id)
        assert chat.channel == "chat" and chat.reserved_agent_id is not None
        types = [e.type for e in db.session.scalars(db.select(ContactEvent).where(ContactEvent.contact_id == sid))]
    for t in ("livestream.answered", "livestream.pinned", "livestream.reply", "livestream.moved_to_chat"):
        assert t in types
    assert emit("stop", {})["ok"]
    assert not ask(bob, "comment", {"stream_id": sid, "text": "hello?"})["ok"]


def test_guest_link_lets_a_guest_watch_and_comment(app, people, client):
    """A guest with the signed link connects without a login, joins that stream only, and comments."""
    sid = people["stream"]
    from extensions import socketio
    from livestream.actions import get_livestream, guest_token

    with app.app_context():
        token = guest_token(get_livestream(sid))
    page = app.test_client().get(f"/livestream/guest/{token}")
    assert page.status_code == 200
    assert app.test_client().get("/livestream/guest/forged").status_code == 404
    guest = socketio.test_client(app, namespace="/livestream", auth={"guest": token, "name": "Walk-in"})
    assert guest.is_connected("/livestream")
    assert ask(guest, "join", {"stream_id": sid})["ok"]
    ack = ask(guest, "comment", {"stream_id": sid, "text": "hello from a guest"})
    assert ack["ok"] and ack["comment"]["name"] == "Walk-in"
    ack = ask(guest, "publish", {"stream_id": sid, "offer": {}})
    assert not ack["ok"]
    guest.disconnect("/livestream")
