"""Call monitoring legs (media/monitor.py) with aiortc peers on both sides, in-process: a lead's distinct tone
reaches the trainee only when whispering, both parties when barging, nobody when listening."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from media.audio import ClipPlayer
from media.monitor import install, monitor_routes
from media.rtc_client import RtcClient, ToneTrack
from media.worker import MediaWorker

SR = 48000
AGENT_HZ, CUSTOMER_HZ, LEAD_HZ = 440.0, 660.0, 1250.0
# A routed 0.3-amplitude tone measures 0.1-0.3 here (less when a loaded machine drops frames); an unrouted one
# measures under 0.002 (codec noise). The thresholds sit well apart from both.
HEARD, SILENT = 0.02, 0.005


def tone(seconds: float, freq: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def amplitude_at(pcm: np.ndarray, freq: float) -> float:
    """The amplitude (share of full scale) of the ``freq`` Hz component in ``pcm`` (Hann-windowed FFT, the
    strongest bin within 10 Hz)."""
    x = pcm.astype(np.float64) / 32768
    if x.size < SR // 10:
        return 0.0
    w = np.hanning(x.size)
    spec = np.abs(np.fft.rfft(x * w)) * 2 / w.sum()
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    band = (freqs > freq - 10) & (freqs < freq + 10)
    return float(spec[band].max())


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


class Ear:
    """The simulated customer's ear: every 20 ms frame routed to the customer leg."""

    def __init__(self):
        self.frames: list[np.ndarray] = []

    def __call__(self, pcm, at):
        self.frames.append(pcm.copy())

    def take(self) -> np.ndarray:
        out = np.concatenate(self.frames) if self.frames else np.zeros(0, np.int16)
        self.frames = []
        return out


def _take(client: RtcClient) -> np.ndarray:
    out = np.concatenate(client.audio) if client.audio else np.zeros(0, np.int16)
    client.audio.clear()
    return out


async def _join(worker, call_id, leg, client):
    reply = await worker.handle({"op": "offer", "call_id": call_id, "leg": leg, "sdp": await client.offer()})
    assert reply["ok"], reply
    await client.accept(reply["sdp"])
    await client.wait_connected()


async def _settle_and_hear(seconds, agent, lead, ear):
    """Let the new routes settle (the jitter buffers and codec hold ~100 ms), drop that, then listen."""
    await asyncio.sleep(0.4)
    _take(agent), _take(lead), ear.take()
    await asyncio.sleep(seconds)
    return _take(agent), _take(lead), ear.take()


def test_route_table_for_each_mode():
    """The mixer routes: leads hear both parties; whisper adds the lead to the agent only; barge to both."""
    assert monitor_routes({"lead:7": "listen"}) == {
        "agent": ["customer"],
        "customer": ["agent"],
        "lead:7": ["agent", "customer"],
    }
    r = monitor_routes({"lead:7": "whisper"})
    assert r["agent"] == ["customer", "lead:7"] and r["customer"] == ["agent"]
    r = monitor_routes({"lead:7": "barge", "lead:8": "whisper"})
    assert r["agent"] == ["customer", "lead:7", "lead:8"] and r["customer"] == ["agent", "lead:7"]
    assert monitor_routes({}) == {"agent": ["customer"], "customer": ["agent"]}


def test_whisper_reaches_the_trainee_leg_only(tmp_path):
    """Over real WebRTC legs: listening, the lead hears both parties and nobody hears the lead's tone;
    whispering, the trainee hears it and the customer does not; barging, both do; stop restores the call."""
    events = []

    async def scenario():
        worker = install(MediaWorker(tmp_path / "recordings", events.append))
        await worker.handle({"op": "open_call", "call_id": "c1", "contact_id": 1})
        player, ear = ClipPlayer(), Ear()
        player.enqueue(tone(30, CUSTOMER_HZ))
        worker.calls["c1"].add_local_leg("customer", player, sink=ear)
        agent = RtcClient(ToneTrack(freq=AGENT_HZ), keep_audio=True)
        lead = RtcClient(ToneTrack(freq=LEAD_HZ), keep_audio=True)
        await _join(worker, "c1", "agent", agent)

        early = await worker.handle({"op": "monitor", "call_id": "c1", "leg": "lead:7", "mode": "listen"})
        await _join(worker, "c1", "lead:7", lead)
        heard = {}
        for mode in ("listen", "whisper", "barge"):
            reply = await worker.handle({"op": "monitor", "call_id": "c1", "leg": "lead:7", "mode": mode})
            assert reply["ok"], reply
            heard[mode] = await _settle_and_hear(1.5, agent, lead, ear)
        stop = await worker.handle({"op": "monitor", "call_id": "c1", "leg": "lead:7", "mode": "stop"})
        heard["stop"] = await _settle_and_hear(1.0, agent, lead, ear)
        routes = {d: worker.calls["c1"].route_of(d) for d in ("agent", "customer")}
        legs = sorted(worker.calls["c1"].legs)
        done = await worker.handle({"op": "hangup", "call_id": "c1"})
        await agent.close()
        await lead.close()
        return early, heard, stop, routes, legs, done

    early, heard, stop, routes, legs, done = run(scenario())
    assert not early["ok"] and "send its offer first" in early["error"]

    a, lead, cust = heard["listen"]
    assert amplitude_at(lead, AGENT_HZ) > HEARD and amplitude_at(lead, CUSTOMER_HZ) > HEARD, "the lead hears both"
    assert amplitude_at(a, LEAD_HZ) < SILENT and amplitude_at(cust, LEAD_HZ) < SILENT, "listening is silent"
    assert amplitude_at(a, CUSTOMER_HZ) > HEARD and amplitude_at(cust, AGENT_HZ) > HEARD, "the call goes on"

    a, lead, cust = heard["whisper"]
    assert amplitude_at(a, LEAD_HZ) > HEARD, "whisper: the trainee hears the lead"
    assert amplitude_at(cust, LEAD_HZ) < SILENT, "whisper: the customer does not"
    assert amplitude_at(cust, AGENT_HZ) > HEARD and amplitude_at(a, CUSTOMER_HZ) > HEARD

    a, lead, cust = heard["barge"]
    assert amplitude_at(a, LEAD_HZ) > HEARD and amplitude_at(cust, LEAD_HZ) > HEARD, "barge: both hear the lead"

    a, lead, cust = heard["stop"]
    assert stop["ok"] and amplitude_at(a, LEAD_HZ) < SILENT and amplitude_at(cust, LEAD_HZ) < SILENT
    assert routes == {"agent": ["customer"], "customer": ["agent"]} and legs == ["agent", "customer"]
    assert done["ok"] and "lead:7" in done["files"]["legs"], "the lead's leg is in the call's recording"


@pytest.mark.parametrize(
    "req,message",
    [
        ({"leg": "agent", "mode": "listen"}, "lead:<id>"),
        ({"leg": "lead:x", "mode": "listen"}, "lead:<id>"),
        ({"leg": "lead:7", "mode": "shout"}, "listen, whisper, barge or stop"),
        ({"leg": "lead:7", "mode": "whisper", "call_id": "nope"}, "no call"),
    ],
)
def test_bad_monitor_requests_are_refused(tmp_path, req, message):
    """Malformed monitor requests get a clear error and change no route."""

    async def scenario():
        worker = install(MediaWorker(tmp_path / "recordings", [].append))
        await worker.handle({"op": "open_call", "call_id": "c1"})
        reply = await worker.handle({"op": "monitor", "call_id": "c1", **req})
        routes = {d: worker.calls["c1"].route_of(d) for d in ("agent", "customer")}
        await worker.shutdown()
        return reply, routes

    reply, routes = run(scenario())
    assert reply["ok"] is False and message in reply["error"]
    assert routes == {"agent": ["customer"], "customer": ["agent"]}
