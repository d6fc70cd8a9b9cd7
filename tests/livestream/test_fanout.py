"""Encode-once fan-out over real aiortc peers, without Flask: the media layer on its own."""

from __future__ import annotations

import asyncio
import os
import wave

import av

from livestream import fanout
from livestream.media import LiveMedia, MediaError

from .aiortc_peers import Viewer, start_publisher, wait_for


def run(coro):
    """Run on a fresh loop in its own thread: the e2e tests' Playwright keeps a loop running on this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(120)


def test_viewers_receive_frames_from_one_shared_encoder(tmp_path):
    """Four aiortc viewers decode the publisher's picture while exactly one video and one audio encoder exist."""
    events = []

    async def scenario():
        live = LiveMedia(1, str(tmp_path), lambda kind, data: events.append((kind, data)))
        before = dict(fanout.ENCODERS_ALIVE)
        pub = await start_publisher(live.publish)
        assert await wait_for(lambda: live.video is not None and live.video.frames_in > 3)
        viewers = [Viewer() for _ in range(4)]
        for i, v in enumerate(viewers):
            await v.connect(lambda offer, i=i: live.watch(f"v{i}", offer))
        assert await wait_for(lambda: all(v.video_frames >= 10 and v.audio_frames >= 10 for v in viewers), 20)
        counts = {k: fanout.ENCODERS_ALIVE[k] - before[k] for k in before}
        sizes = {v.size for v in viewers}
        await live.stop()
        await pub.close()
        for v in viewers:
            await v.close()
        return counts, sizes, {k: fanout.ENCODERS_ALIVE[k] - before[k] for k in before}

    counts, sizes, after = run(scenario())
    assert counts == {"video": 1, "audio": 1}
    assert sizes == {(640, 480)}
    assert after == {"video": 0, "audio": 0}
    kinds = [k for k, _ in events]
    assert "publishing" in kinds and "recording" in kinds


def test_publisher_drop_ends_viewers_and_closes_recording(tmp_path):
    """When the publisher's peer closes, viewers' tracks end, the drop is reported and both files are valid."""
    events = []

    async def scenario():
        live = LiveMedia(2, str(tmp_path), lambda kind, data: events.append((kind, data)))
        pub = await start_publisher(live.publish)
        assert await wait_for(lambda: live.video is not None and live.video.frames_in > 3)
        v = Viewer()
        await v.connect(lambda offer: live.watch("v", offer))
        assert await wait_for(lambda: v.video_frames >= 30, 20)
        await pub.close()
        ended = await wait_for(lambda: any(k == "recording" for k, _ in events), 40)
        viewer_told = await wait_for(lambda: v.ended.is_set(), 10)
        await live.stop()
        await v.close()
        return ended, viewer_told

    ended, viewer_told = run(scenario())
    assert ended and viewer_told
    kinds = [k for k, _ in events]
    assert kinds.index("publisher_dropped") >= 0
    rec = dict(events)["recording"]
    files = {f["kind"]: f for f in rec["files"]}
    with av.open(files["video"]["path"]) as c:
        frames = sum(1 for _ in c.decode(video=0))
    assert frames >= 20
    with wave.open(files["audio"]["path"]) as w:
        assert w.getnframes() / w.getframerate() > 0.5
    assert os.path.getsize(files["video"]["path"]) > 1000


def test_late_joiner_gets_a_picture_from_the_next_keyframe(tmp_path):
    """A viewer joining two seconds in starts at a keyframe (its first packet) within about a second."""

    async def scenario():
        live = LiveMedia(3, None, lambda kind, data: None)
        pub = await start_publisher(live.publish)
        early = Viewer()
        await early.connect(lambda offer: live.watch("early", offer))
        await asyncio.sleep(2.0)
        late = Viewer()
        t0 = asyncio.get_running_loop().time()
        await late.connect(lambda offer: live.watch("late", offer))
        got = await wait_for(lambda: late.video_frames >= 5, 10)
        import time

        delay = (late.first_video_at or time.monotonic()) - t0 if late.first_video_at else None
        keyframes = live.video.keyframes
        on_key = (early.started_on_keyframe(), late.started_on_keyframe())
        await live.stop()
        await pub.close()
        await early.close()
        await late.close()
        return got, early.video_frames, keyframes, delay, on_key

    got, early_frames, keyframes, delay, on_key = run(scenario())
    assert got and early_frames > 30
    assert on_key == (True, True)  # the first packet each viewer got begins a keyframe
    assert delay is not None and delay < 5.0  # keyframe on join (or the 1.5 s periodic one), not "never"
    assert keyframes >= 2  # the first one, and the one the late joiner asked for (or the periodic one)


def test_bad_offers_are_refused_clearly():
    """Malformed SDP, a missing publisher and a wrong payload each give a MediaError, not a crash."""

    async def scenario():
        live = LiveMedia(4, None, lambda kind, data: None)
        errors = []
        for offer in (None, {"type": "offer"}, {"type": "offer", "sdp": "garbage"}):
            try:
                await live.publish(offer)
            except MediaError as e:
                errors.append(str(e))
        try:
            await live.watch("v", {"type": "offer", "sdp": "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"})
        except MediaError as e:
            errors.append(str(e))
        await live.stop()
        return errors

    errors = run(scenario())
    assert len(errors) == 4
    assert "not live" in errors[-1]
