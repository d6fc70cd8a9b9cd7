"""Calls through the media worker with aiortc on both sides, in-process: connect, audio both ways, recording."""

from __future__ import annotations

import asyncio
import wave

import numpy as np
import pytest

from concurrency import media_event_loop
from media.audio import ClipPlayer
from media.recorder import wav_seconds
from media.rtc_client import RtcClient, ToneTrack
from media.worker import MediaWorker


def tone(seconds: float, freq: float = 660.0) -> np.ndarray:
    t = np.arange(int(seconds * 48000)) / 48000
    return (0.4 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def run(coro, loop_factory=None):
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(asyncio.wait_for(coro, 60))


def make_worker(tmp_path, events, **kw):
    return MediaWorker(tmp_path / "recordings", events.append, **kw)


async def open_with_local_customer(worker, call_id="c1"):
    """A call whose customer is a server-side clip player (what the simulator plugs in)."""
    await worker.handle({"op": "open_call", "call_id": call_id})
    player = ClipPlayer()
    worker.calls[call_id].add_local_leg("customer", player)
    return player


def wav_rms(path, channel=None):
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        if w.getnchannels() == 2:
            data = data.reshape(-1, 2)[:, channel]
    return data


@pytest.mark.parametrize("uvloop", [False, True], ids=["asyncio", "uvloop"])
def test_call_connects_audio_flows_both_ways_and_is_recorded(tmp_path, uvloop):
    """The trainee connects, hears the customer's clip, and each leg's audio lands in its own WAV whose
    length matches the time the call was up; on asyncio's loop and on uvloop's (media worker processes)."""
    events = []

    async def scenario():
        worker = make_worker(tmp_path, events)
        player = await open_with_local_customer(worker)
        client = RtcClient(ToneTrack(freq=440), keep_audio=True)
        reply = await worker.handle({"op": "offer", "call_id": "c1", "leg": "agent", "sdp": await client.offer()})
        assert reply["ok"], reply
        assert "a=candidate" in reply["sdp"]  # answered after gathering: candidates inside
        await client.accept(reply["sdp"])
        await client.wait_connected()
        for _ in range(100):
            if any(e["type"] == "recording_started" for e in events):
                break
            await asyncio.sleep(0.02)
        player.enqueue(tone(1.0))
        await asyncio.sleep(2.5)
        up = worker.calls["c1"].recorder.seconds
        done = await worker.handle({"op": "hangup", "call_id": "c1"})
        await client.close()
        assert type(asyncio.get_running_loop()).__module__.startswith("uvloop" if uvloop else "asyncio")
        return client, done, up

    client, done, up = run(scenario(), (lambda: media_event_loop(uvloop=True)) if uvloop else None)
    assert done["ok"] and done["files"]
    types = [e["type"] for e in events]
    assert "recording_started" in types and "leg_connected" in types
    heard = np.array(client.levels)
    assert (heard > -30).sum() >= 30, "the trainee heard the customer's 1 s clip"
    root = tmp_path / "recordings"
    agent = wav_rms(root / done["files"]["legs"]["agent"]["path"])
    customer = wav_rms(root / done["files"]["legs"]["customer"]["path"])
    assert np.abs(agent).max() > 3000, "the agent's tone is recorded"
    assert np.abs(customer).max() > 3000, "the customer's clip is recorded"
    # ~1.0 s of the customer clip at 16 kHz above a low threshold (a box decimator keeps 660 Hz)
    loud = (np.abs(customer.astype(np.int32)) > 2000).sum() / 16000
    assert 0.6 < loud < 1.1
    for path in (done["files"]["stereo"], done["files"]["legs"]["agent"]["path"]):
        assert abs(wav_seconds(root / path) - done["seconds"]) < 0.05
    assert abs(done["seconds"] - up) < 0.2
    assert 2.3 < done["seconds"] < 3.5


@pytest.mark.parametrize(
    "sdp,message",
    [
        ("", "no SDP"),
        ("hello", "not SDP"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "no media"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n", "ICE"),
        (12345, "no SDP"),
    ],
)
def test_malformed_sdp_is_refused_with_a_clear_error(tmp_path, sdp, message):
    """A malformed offer gets a SignallingError message back, and no peer or leg is left behind."""

    async def scenario():
        worker = make_worker(tmp_path, [])
        await open_with_local_customer(worker)
        reply = await worker.handle({"op": "offer", "call_id": "c1", "leg": "agent", "sdp": sdp})
        left = (len(worker.peers), "agent" in worker.calls["c1"].legs)
        await worker.shutdown()
        return reply, left

    reply, left = run(scenario())
    assert reply["ok"] is False and message in reply["error"]
    assert left == (0, False)


def test_video_in_an_audio_call_is_refused(tmp_path):
    """An offer with a video section is refused for a voice call, naming what it has."""

    async def scenario():
        from aiortc import RTCPeerConnection

        pc = RTCPeerConnection()
        pc.addTransceiver("audio")
        pc.addTransceiver("video")
        await pc.setLocalDescription(await pc.createOffer())
        worker = make_worker(tmp_path, [])
        await open_with_local_customer(worker)
        reply = await worker.handle({"op": "offer", "call_id": "c1", "leg": "agent", "sdp": pc.localDescription.sdp})
        await pc.close()
        await worker.shutdown()
        return reply

    reply = run(scenario())
    assert not reply["ok"] and "video" in reply["error"]


def test_peer_that_never_connects_times_out(tmp_path):
    """An offer whose browser goes away before connecting ends in a leg_failed event naming the timeout, and
    the peer is closed."""
    events = []

    async def scenario():
        worker = make_worker(tmp_path, events, connect_timeout=1.5)
        await open_with_local_customer(worker)
        client = RtcClient()
        sdp = await client.offer()
        await client.close()  # the browser vanished: nobody answers the server's ICE checks
        reply = await worker.handle({"op": "offer", "call_id": "c1", "leg": "agent", "sdp": sdp})
        for _ in range(150):
            if any(e["type"] == "leg_failed" for e in events):
                break
            await asyncio.sleep(0.05)
        peers = len(worker.peers)
        await worker.shutdown()
        return reply, peers

    reply, peers = run(scenario())
    assert reply["ok"]
    failed = [e for e in events if e["type"] == "leg_failed"]
    assert failed and failed[0]["leg"] == "agent" and failed[0]["reason"] in ("timeout", "failed")
    assert peers == 0


def test_hang_up_mid_negotiation(tmp_path):
    """Hanging up while an offer is being answered leaves no call, peer or clock running, and the late answer
    does not crash anything."""

    async def scenario():
        worker = make_worker(tmp_path, [])
        await open_with_local_customer(worker)
        client = RtcClient()
        sdp = await client.offer()
        offer = asyncio.ensure_future(worker.handle({"op": "offer", "call_id": "c1", "leg": "agent", "sdp": sdp}))
        await asyncio.sleep(0)
        hang = await worker.handle({"op": "hangup", "call_id": "c1"})
        answered = await offer
        await asyncio.sleep(0.2)
        await client.close()
        again = await worker.handle({"op": "hangup", "call_id": "c1"})
        return hang, answered, again, len(worker.calls), len(worker.peers), worker.clock.sessions

    hang, answered, again, calls, peers, sessions = run(scenario())
    assert hang["ok"] and again["ok"] and again["known"] is False
    assert answered["ok"] in (True, False)
    assert calls == 0 and peers == 0 and not sessions
