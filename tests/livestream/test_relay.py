"""The relay between media workers on its own (two real UDP endpoints on loopback): frames arrive whole and
in order, a keyframe larger than a datagram is split and rebuilt, a lost part gates the viewers, strangers
without the token are ignored, and the end reaches the relay."""

from __future__ import annotations

import asyncio

from livestream.relay import MAX_DATAGRAM, RelayEndpoint, RelaySink, RelaySource, frame_datagrams
from livestream.rtpout import EncodedFrame

from .test_fanout import run


def _frame(n: int, size: int, keyframe=False) -> EncodedFrame:
    payloads = [bytes([n % 256]) * min(1300, size - i) for i in range(0, size, 1300)]
    return EncodedFrame("video", 3000 * n, payloads, keyframe)


def test_frames_cross_the_relay_whole_and_a_lost_part_gates_viewers():
    """Subscribe, receive small and split frames intact; a dropped part is noticed as a loss; the end is told."""

    async def scenario():
        owner = await RelayEndpoint.open(b"secret")
        other = await RelayEndpoint.open(b"secret")
        live = {"on": True}
        keyframe_requests = []
        source = RelaySource(owner, 7, lambda: live["on"], lambda: keyframe_requests.append(1))
        got, lost, ended = [], [], []
        sink = RelaySink(other, 7, owner.address, got.append, lambda: lost.append(1), lambda: ended.append(1))
        assert await sink.subscribe()
        sent = [_frame(1, 4000, keyframe=True), _frame(2, 3000), _frame(3, 150_000, keyframe=True)]
        for f in sent:
            source.forward(f)
        for _ in range(50):
            if len(got) == 3:
                break
            await asyncio.sleep(0.02)
        parts = len(frame_datagrams(7, sent[2], 1))
        # A split frame one of whose parts never arrives: the next frame shows the gap.
        datagrams = frame_datagrams(7, _frame(4, 150_000), 4)
        for d in datagrams[1:]:
            owner.sendto(d, other.address)
        source.frame_no["video"] = 4
        source.forward(_frame(5, 2000))
        for _ in range(50):
            if lost:
                break
            await asyncio.sleep(0.02)
        source.end()
        for _ in range(50):
            if ended:
                break
            await asyncio.sleep(0.02)
        result = (got, parts, lost, ended, keyframe_requests)
        sink.close()
        source.close()
        owner.close()
        other.close()
        return sent, result

    sent, (got, parts, lost, ended, keyframe_requests) = run(scenario())
    assert parts >= 3 and all(len(d) <= MAX_DATAGRAM for d in frame_datagrams(7, sent[2], 1))
    assert got[:3] == sent  # the same payloads, timestamps and keyframe flags, in order
    assert len(got) == 4 and got[3].timestamp == 15000  # frame 4 never completed; frame 5 came through
    assert lost == [1] and ended
    assert keyframe_requests  # a new subscriber asks for a keyframe, so its viewers start soon


def test_a_subscription_without_the_token_gets_nothing():
    """A process that does not know the app's secret cannot pull a stream from a worker."""

    async def scenario():
        owner = await RelayEndpoint.open(b"secret")
        stranger = await RelayEndpoint.open(b"other secret")
        source = RelaySource(owner, 9, lambda: True, lambda: None)
        got = []
        sink = RelaySink(stranger, 9, owner.address, got.append, lambda: None, lambda: None)
        answered = await sink.subscribe(timeout=1.0)
        source.forward(_frame(1, 2000, keyframe=True))
        await asyncio.sleep(0.2)
        result = (answered, got, len(source.subscribers), owner.bad)
        sink.close()
        source.close()
        owner.close()
        stranger.close()
        return result

    answered, got, subscribers, bad = run(scenario())
    assert not answered and got == [] and subscribers == 0 and bad >= 1
