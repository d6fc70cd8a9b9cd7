"""A practice call through the whole app with speech recognition on: the trainee speaks (espeak over real
aiortc), the caller hears and reacts, both legs are transcribed after the call into ``call.transcript``, and the
voice rubric grades what was said from it (the forbidden-wording gate fails a rude call). With recognition off
the call falls back to Mark as said and the recording says so."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from extensions import db, socketio
from media import tts
from media.rtc_client import SpeechTrack

from .conftest import agent_sockets, connect, contact_status, events_of, wait_for

ROOT = Path(__file__).resolve().parents[3]
SCENARIO = "en-voice-late-delivery"


def _practice_call(app, make_user, browsers):
    with app.app_context():
        from scenarios.loader import load_pack_into_db

        load_pack_into_db(ROOT / "scenarios" / "packs" / "en")
        db.session.remove()
    make_user("agent1", level="L4")
    desk, voice, http = agent_sockets(app, "agent1")
    res = http.post("/api/voice/practice", json={"scenario_id": SCENARIO})
    assert res.status_code == 201, res.json
    cid = res.json["contact"]["id"]
    wait_for(lambda: any(e["type"] == "assignment" for e in events_of(app, cid)))
    mic = SpeechTrack()
    pc = connect(browsers, voice, "answer", {"contact_id": cid}, mic)
    wait_for(lambda: events_of(app, cid, "call.recording"))
    return cid, voice, mic, pc, http


def _say(app, cid, mic, text):
    """The trainee says ``text``; returns once the caller has answered and finished speaking."""
    n = len(events_of(app, cid, "call.utterance"))
    time.sleep(mic.say(tts.synthesise(text, "en")) + 0.2)
    said = wait_for(lambda: events_of(app, cid, "call.utterance")[n:], timeout=25)
    started = events_of(app, cid, "call.recording")[0]["data"]["started_at"]
    last = said[-1]["data"]
    time.sleep(max(0.0, started + last["offset"] + last["seconds"] + 0.6 - time.time()))


def _hang_up_and_wrap(app, cid, voice):
    from contacts.actions import do_wrap_up_contact
    from contacts.models import Contact
    from grading.actions import current_scorecard

    assert voice.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)["ok"]
    with app.app_context():
        from accounts.models import User

        agent = db.session.scalar(select(User).where(User.username == "agent1"))
        do_wrap_up_contact(db.session.get(Contact, cid), agent, "ENQ_DELIVERY")
        db.session.remove()
    assert app.extensions["kefu_transcripts"].wait_idle(180)
    assert app.extensions["kefu_grading"].wait_idle(60)
    with app.app_context():
        card = current_scorecard(cid)
        data = dict(card.data) if card else None
        db.session.remove()
    return data


@pytest.mark.app_config(KEFU_ASR="local")
def test_a_rude_spoken_call_is_heard_transcribed_and_fails_the_gate(voice_app, make_user, browsers, whisper):
    """The caller hears the greeting and then "calm down, that's not my problem" (it gets angrier, and the
    recording says recognition was used; the desk shows no Mark as said); after the call both legs are in the
    transcript with times, shown on the contact page and found by the contacts search, and the scorecard passes
    the greeting but fails the forbidden-wording gate, quoting the line with its time."""
    app = voice_app
    cid, voice, mic, pc, http = _practice_call(app, make_user, browsers)
    assert 'id="call-phrases" hidden' in http.get("/desk").get_data(as_text=True)  # the caller hears: no buttons
    _say(app, cid, mic, "Hello, thank you for calling customer service, how can I help you?")
    _say(app, cid, mic, "Calm down, that's not my problem.")
    card = _hang_up_and_wrap(app, cid, voice)
    browsers.run(pc.close())

    hearing = events_of(app, cid, "call.hearing")
    assert hearing and hearing[0]["data"]["mode"] == "recognition" and "whisper" in hearing[0]["data"]["engine"]
    heard = events_of(app, cid, "call.heard")
    assert len(heard) >= 2 and "help you" in (heard[0]["text"] or "")
    rude = next(h for h in heard if "problem" in (h["text"] or "").lower())
    assert {"dismissal", "forbidden"} & set(rude["data"]["acts"])
    assert rude["data"]["emotion"][1] > rude["data"]["emotion"][0] or rude["data"]["emotion"][0] == 3

    (transcript,) = events_of(app, cid, "call.transcript")
    segs = transcript["data"]["segments"]
    assert transcript["data"]["status"] == "done" and transcript["data"]["problems"] == []
    assert {s["speaker"] for s in segs} == {"agent", "customer"}
    assert all(s["start"] < s["end"] for s in segs) and [s["start"] for s in segs] == sorted(s["start"] for s in segs)
    agent_lines = [s for s in segs if s["speaker"] == "agent"]
    assert "help you" in agent_lines[0]["text"] and "problem" in agent_lines[-1]["text"].lower()

    items = {i["id"]: i for i in card["items"]}
    assert items["greeting"]["status"] == "pass"
    gate = items["no-forbidden-wording"]
    assert gate["status"] == "fail" and card["gated"] and not card["passed"]
    quoted = gate["evidence"][0]
    assert "problem" in quoted["quote"].lower() and "agent at" in quoted["note"]
    started = events_of(app, cid, "call.recording")[0]["data"]["started_at"]
    assert abs(quoted["ts"] - (started + agent_lines[-1]["start"])) < 0.01

    page = http.get(f"/contacts/{cid}").get_data(as_text=True)
    assert 'id="call-transcript"' in page and f'data-at="{agent_lines[-1]["start"]}"' in page
    assert f'href="/contacts/{cid}"' in http.get("/contacts?q=problem").get_data(as_text=True)
    assert f'href="/contacts/{cid}"' not in http.get("/contacts?q=zebra crossing").get_data(as_text=True)


def test_with_recognition_off_the_call_falls_back_to_mark_as_said(voice_app, make_user, browsers):
    """KEFU_ASR=off (the test default): the desk offers Mark as said, the recording says it was used and why, a
    marked quick phrase
    still reaches the caller, no turn is recognised, and the transcript says it was not made (spoken items N/A)."""
    app = voice_app
    cid, voice, mic, pc, http = _practice_call(app, make_user, browsers)
    assert 'id="call-phrases" hidden' not in http.get("/desk").get_data(as_text=True)
    _say(app, cid, mic, "Hello, thank you for calling customer service, how can I help you?")
    n = len(events_of(app, cid, "call.utterance"))
    assert voice.emit("quick_phrase", {"contact_id": cid, "move": "ask_order"}, namespace="/voice", callback=True)["ok"]
    said = wait_for(lambda: events_of(app, cid, "call.utterance")[n:], timeout=20)
    assert any("2 5 0 5" in (u["text"] or "") for u in said)  # the order number, from the marked phrase
    card = _hang_up_and_wrap(app, cid, voice)
    browsers.run(pc.close())
    hearing = events_of(app, cid, "call.hearing")[0]["data"]
    assert hearing["mode"] == "mark_as_said" and hearing["reason"] == "KEFU_ASR=off"
    assert events_of(app, cid, "call.heard") == []
    assert events_of(app, cid, "call.transcript")[0]["data"]["status"] == "off"
    items = {i["id"]: i for i in card["items"]}
    assert items["greeting"]["status"] == "na" and "KEFU_ASR=off" in items["greeting"]["note"]


@pytest.mark.app_config(KEFU_ASR="local")
def test_a_role_play_call_is_transcribed_by_speaker(voice_app, make_user, browsers, whisper):
    """A person calls (role-play, no simulated caller and no live hearing): after the call the transcript has
    the trainee's and the caller's words, each on their own speaker, in time order."""
    app = voice_app
    make_user("agent1")
    desk, voice, http = agent_sockets(app, "agent1")
    caller = socketio.test_client(app, namespace="/voice", flask_test_client=app.test_client())
    who = {"name": "Ms Wang", "queue": "voice.general", "lang": "en"}
    dial = caller.emit("dial", who, namespace="/voice", callback=True)
    assert dial["ok"], dial
    cid = dial["contact_id"]
    wait_for(lambda: contact_status(app, cid) == "active")
    caller_mic, agent_mic = SpeechTrack(), SpeechTrack()
    caller_pc = connect(browsers, caller, "caller_offer", {"contact_id": cid, "token": dial["token"]}, caller_mic)
    agent_pc = connect(browsers, voice, "answer", {"contact_id": cid}, agent_mic)
    wait_for(lambda: events_of(app, cid, "call.recording"))
    time.sleep(agent_mic.say(tts.synthesise("Hello, customer service, how can I help you?", "en")) + 0.8)
    time.sleep(caller_mic.say(tts.synthesise("Thank you for calling, have a nice day, goodbye.", "en")) + 0.8)
    assert voice.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)["ok"]
    assert app.extensions["kefu_transcripts"].wait_idle(120)
    browsers.run(agent_pc.close())
    browsers.run(caller_pc.close())
    assert events_of(app, cid, "call.hearing") == []  # nobody simulated, nothing heard live
    (tr,) = events_of(app, cid, "call.transcript")
    segs = tr["data"]["segments"]
    assert [s["speaker"] for s in segs] == ["agent", "customer"], segs
    assert "help you" in segs[0]["text"] and "bye" in segs[1]["text"].lower()
    assert segs[0]["end"] <= segs[1]["start"]
    assert "agent: " in tr["text"] and "customer: " in tr["text"]


@pytest.mark.app_config(KEFU_ASR="local")
def test_a_damaged_leg_is_reported_and_the_other_still_transcribed(app, tmp_path, whisper):
    """A leg file that cannot be read is named in the transcript's problems; the other leg is transcribed."""
    import wave

    import numpy as np

    from channels.voice.transcripts import transcribe_call
    from tests.asr_support import spoken

    app.config["RECORDINGS_DIR"] = str(tmp_path)
    (tmp_path / "9").mkdir()
    (tmp_path / "9" / "agent.wav").write_bytes(b"RIFF\x00\x00not a wav at all")
    speech = np.concatenate([np.zeros(8000, np.int16), spoken("Thank you for calling, goodbye.", "en")])
    with wave.open(str(tmp_path / "9" / "customer.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(speech.tobytes())
    files = {"legs": {"agent": {"path": "9/agent.wav", "offset": 0.0}, "customer": {"path": "9/customer.wav"}}}
    data = transcribe_call(app, files, "en")
    assert data["status"] == "done"
    assert len(data["problems"]) == 1 and data["problems"][0].startswith("agent: the recorded file could not be read")
    assert [s["speaker"] for s in data["segments"]] == ["customer"] and "bye" in data["segments"][0]["text"].lower()
