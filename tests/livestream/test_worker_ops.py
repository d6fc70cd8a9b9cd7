"""The livestream's media worker ops without Redis: two MediaWorkers on one loop, the publisher on one, viewers
asking at the same moment on the other (fed through the relay), and refusals as error replies."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiortc import RTCSessionDescription

from livestream.worker_ops import LiveOps
from media.worker import MediaWorker

from .aiortc_peers import Viewer, offer_of, start_publisher, wait_for


def run_on(loop_name: str, coro):
    """On a fresh loop in a thread of its own: asyncio's, or uvloop's (what `flask media worker` runs)."""

    def go():
        if loop_name == "uvloop":
            import uvloop

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(coro)
        return asyncio.run(coro)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(go).result(120)


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_viewers_asking_at_once_on_a_relayed_worker_all_get_the_stream(tmp_path, loop_name):
    """Three viewers ask the second worker at the same moment: one relay subscription, every one decodes (on
    asyncio's loop and on uvloop's)."""
    events = []

    async def scenario():
        owner = MediaWorker(tmp_path / "rec", lambda e: None, worker_id="w1")
        other = MediaWorker(tmp_path / "rec", lambda e: None, worker_id="w2")

        def emit(sid, kind, data):
            events.append((sid, kind, data))

        LiveOps(owner, emit, str(tmp_path / "live"), relay_secret=b"secret")
        LiveOps(other, emit, str(tmp_path / "live"), relay_secret=b"secret")
        published = {}

        async def publish(offer):
            reply = await owner.handle({"op": "live_publish", "stream_id": 5, "offer": offer})
            published.update(reply)
            return reply["answer"]

        pub = await start_publisher(publish)

        async def live():
            stats = await owner.handle({"op": "live_stats", "stream_id": 5})
            return stats["streams"]["5"]["video_frames_in"] > 3

        for _ in range(200):
            if await live():
                break
            await asyncio.sleep(0.05)
        viewers = [Viewer() for _ in range(3)]
        offers = [await offer_of(v.pc) for v in viewers]
        replies = await asyncio.gather(
            *(
                other.handle(
                    {
                        "op": "live_view",
                        "stream_id": 5,
                        "viewer": f"v{i}",
                        "offer": offers[i],
                        "source": published["relay"],
                    }
                )  # fmt: skip
                for i in range(3)
            )
        )
        for v, reply in zip(viewers, replies, strict=True):
            assert reply["ok"], reply
            await v.pc.setRemoteDescription(RTCSessionDescription(**reply["answer"]))
        refused = await other.handle({"op": "live_view", "stream_id": 5, "viewer": "x", "offer": {"type": "offer"},
                                      "source": published["relay"]})  # fmt: skip
        got = await wait_for(lambda: all(v.video_frames >= 10 and v.audio_frames >= 5 for v in viewers), 30)
        relay_stats = (await other.handle({"op": "live_stats", "stream_id": 5}))["streams"]["5"]
        owner_stats = (await owner.handle({"op": "live_stats", "stream_id": 5}))["streams"]["5"]
        keyed = [v.started_on_keyframe() for v in viewers]
        for w in (other, owner):
            await w.handle({"op": "live_stop", "stream_id": 5})
        await pub.close()
        for v in viewers:
            await v.close()
        for w in (other, owner):
            await w.shutdown()
        return refused, got, relay_stats, owner_stats, keyed

    refused, got, relay_stats, owner_stats, keyed = run_on(loop_name, scenario())
    assert not refused["ok"] and "SDP offer" in refused["error"]  # a refusal comes back as the error reply
    assert got and keyed == [True, True, True]
    assert relay_stats["role"] == "relay" and relay_stats["viewers"] == 3 and relay_stats["relayed_frames_in"] > 10
    assert owner_stats["relays"] == 1 and owner_stats["viewers"] == 0
    counts = [d["count"] for sid, kind, d in events if kind == "viewers" and d["worker"] == "w2"]
    assert max(counts) == 3  # each worker reports its own viewer count
