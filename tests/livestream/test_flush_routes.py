"""A livestream on two `flask media worker` processes when Redis loses its keys (issue 18): the viewers already
watching go on (their media never passes through Redis), and the workers put back where the stream is (its
owner, its workers, each viewer's worker) within a beat or two, so a new viewer is let in, a viewer's leave
reaches its worker and the end of the stream stops it on both workers and closes the recording."""

from __future__ import annotations

import pytest

from extensions import redis_store
from livestream.bridge import bridge

from .test_livestream_app import PeerLoop, wait_until
from .test_worker_processes import events, stream_on_workers


@pytest.fixture
def peers():
    p = PeerLoop()
    yield p
    p.stop()


def _live_keys(sid):
    r, key = redis_store.client, redis_store.key
    return (
        r.hgetall(key("media", "live", sid, "owner")),
        r.smembers(key("media", "live", sid, "workers")),
        r.hgetall(key("media", "live", sid, "where")),
    )


@pytest.mark.app_config(MEDIA_TRANSPORT="redis", LIVESTREAM_OWNER_WEIGHT=1)
def test_a_redis_flush_loses_neither_the_viewers_nor_the_routes(app, tmp_path, socket_client, peers):
    """Flushed mid-stream: both viewers keep receiving frames; the owner key, the worker set and the viewers'
    places come back as they were; a new viewer is served; a leave and the stream's stop reach the workers."""
    with stream_on_workers(app, tmp_path, socket_client, peers, ("fw1", "fw2"), "Flushed") as (sid, pub, watch):
        viewers = [watch("v0"), watch("v1")]
        assert wait_until(lambda: all(v.video_frames >= 10 for v in viewers), 60)
        before = _live_keys(sid)
        assert before[0]["worker"] in ("fw1", "fw2") and before[1] == {"fw1", "fw2"}
        assert set(before[2].values()) == {"fw1", "fw2"}  # one viewer on each worker

        with app.app_context():
            redis_store.flush_prefix()  # this test's keys only
        frames = [v.video_frames for v in viewers]
        assert wait_until(lambda: _live_keys(sid) == before, 10), (_live_keys(sid), before)
        assert wait_until(lambda: all(v.video_frames >= f + 10 for v, f in zip(viewers, frames, strict=True)), 30)

        late = watch("late")  # refused with "the presenter is not live yet" while the owner key was lost
        assert wait_until(lambda: late.video_frames >= 5, 30)
        assert wait_until(lambda: bridge.stats(sid)["viewers"] == 3, 10), bridge.stats(sid)
        bridge.leave(sid, "v0")
        assert wait_until(lambda: bridge.stats(sid)["viewers"] == 2, 10), bridge.stats(sid)

        bridge.stop(sid, "test")  # reaches both workers: every viewer sees the end, the recording closes
        assert wait_until(lambda: all(v.ended.is_set() for v in [viewers[1], late]), 20)
        assert wait_until(lambda: any(t == "livestream.recording" for t, _ in events(app, sid)), 60)
        for v in [*viewers, late]:
            peers.run(v.close())
        peers.run(pub.close())
