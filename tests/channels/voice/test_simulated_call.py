"""A simulated caller on a call (voicesim's VoiceCustomer, espeak-ng speech, webrtcvad turns) against an aiortc
trainee: it speaks after the trainee's greeting, falls silent on hold, reacts to a desk action, and hangs up
when satisfied."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from media.rtc_client import RtcClient, ToneTrack
from media.worker import MediaWorker
from scenarios.schema import Scenario
from simulator.call_customer import SimulatedCallCustomer
from simulator.voice_customer import VoiceCustomer

SCENARIO = {
    "id": "test-voice-parcel",
    "title": "Parcel not arrived",
    "level": "L5",
    "channel": "voice",
    "queue": "voice.general",
    "skills": ["L5/3.2.1"],
    "customer": {"name": "Ms Li", "type": "rational", "emotion": "calm", "patience": 300},
    "opening": ["Hello, my parcel has not arrived yet."],
    "goals": ["verified"],
    "rules": [{"on": "verify_identity", "say": ["Yes, that is my account."], "goal": "verified"}],
    "satisfied_say": ["Thank you, goodbye."],
    "voice": {"silence_seconds": 30},
}


def test_simulated_caller_speaks_holds_reacts_and_hangs_up(tmp_path):
    """After the trainee greets (1.2 s of speech, then silence) the caller says its opening, which the trainee
    hears; on hold it says nothing; a verified CRM check satisfies it, and after the trainee's goodbye (marked as
    said: recognition is off here) it hangs up."""
    events = []
    scenario = Scenario.model_validate(SCENARIO)

    async def factory(worker, session, spec):
        return SimulatedCallCustomer(worker, session, VoiceCustomer(scenario, "en", seed=1), "en")

    async def scenario_run():
        worker = MediaWorker(tmp_path / "rec", events.append, customer_factory=factory)
        await worker.handle({"op": "open_call", "call_id": "s1", "customer": {"kind": "simulated"}})
        mic = ToneTrack(150, voice=True, speaking=False)
        trainee = RtcClient(mic)
        reply = await worker.handle({"op": "offer", "call_id": "s1", "leg": "agent", "sdp": await trainee.offer()})
        await trainee.accept(reply["sdp"])
        await trainee.wait_connected()
        await asyncio.sleep(0.5)
        mic.speaking = True  # "Hello, Kefu Mall customer service, how can I help?"
        await asyncio.sleep(1.2)
        mic.speaking = False
        start = time.monotonic()
        while not any(e["type"] == "utterance" for e in events) and time.monotonic() - start < 10:
            await asyncio.sleep(0.05)
        n = len(trainee.levels)
        await asyncio.sleep(2.5)
        heard_opening = np.array(trainee.levels[n:])
        await worker.handle({"op": "hold", "call_id": "s1"})
        said_before_hold = sum(e["type"] == "utterance" for e in events)
        await asyncio.sleep(1.0)
        said_on_hold = sum(e["type"] == "utterance" for e in events) - said_before_hold
        await worker.handle({"op": "resume", "call_id": "s1"})
        await worker.handle(
            {"op": "desk_action", "call_id": "s1", "kind": "crm.verify", "detail": {"result": "verified"}}
        )
        start = time.monotonic()
        while not any(e.get("text") == "Thank you, goodbye." for e in events) and time.monotonic() - start < 20:
            await asyncio.sleep(0.1)
        # every goal met: the caller waits for the trainee's goodbye (here marked as said: recognition is off)
        await worker.handle({"op": "quick_phrase", "call_id": "s1", "move": "closing"})
        start = time.monotonic()
        while not any(e["type"] == "customer_hangup" for e in events) and time.monotonic() - start < 20:
            await asyncio.sleep(0.1)
        done = await worker.handle({"op": "hangup", "call_id": "s1"})
        await trainee.close()
        return heard_opening, said_on_hold, done

    heard_opening, said_on_hold, done = asyncio.run(asyncio.wait_for(scenario_run(), 90))
    said = [e for e in events if e["type"] == "utterance"]
    assert said[0]["move"] == "opening" and said[0]["text"] == "Hello, my parcel has not arrived yet."
    assert said[0]["offset"] > 1.5  # after the greeting, on the recording's timeline
    assert (heard_opening > -40).sum() > 30, "the trainee hears the caller's synthesised speech"
    assert said_on_hold == 0
    texts = [e["text"] for e in said]
    assert "Yes, that is my account." in texts and "Thank you, goodbye." in texts
    hang = [e for e in events if e["type"] == "customer_hangup"]
    assert hang and hang[0]["reason"] == "customer_satisfied"
    states = [e["state"] for e in events if e["type"] == "customer_state"]
    assert states and states[-1]["finished"] == "satisfied"
    assert done["ok"] and done["seconds"] > 4
