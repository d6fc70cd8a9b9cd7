"""Voice calls end to end: a role-play caller and a trainee, both aiortc peers, through /voice, the ACD, the
media worker, the recording and the call metrics."""

from __future__ import annotations

import wave

from extensions import socketio
from media.rtc_client import ToneTrack

from .conftest import agent_sockets, connect, contact_status, events_of, heard_since, login, wait_for


def test_answered_call_carries_audio_both_ways_records_and_measures(call, browsers):
    """The trainee answers; each side hears the other; hang-up records call.ended and call.metrics, the
    contact goes to wrap-up and the stereo recording (the call's length) is served to the trainee and plays on
    the review page."""
    app, cid = call["app"], call["cid"]
    agent_track = ToneTrack(150, voice=True, speaking=True)
    agent_pc = connect(browsers, call["voice"], "answer", {"contact_id": cid}, agent_track)
    wait_for(lambda: events_of(app, cid, "call.recording"))
    call["caller_pc"].track.speaking = True
    n_agent, n_caller = len(agent_pc.levels), len(call["caller_pc"].levels)
    import time

    time.sleep(2.0)
    wait_for(lambda: (heard_since(agent_pc, n_agent) > -30).sum() > 40, timeout=10)  # the trainee hears the caller
    wait_for(lambda: (heard_since(call["caller_pc"], n_caller) > -30).sum() > 40, timeout=10)  # and vice versa
    res = call["voice"].emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)
    assert res["ok"], res
    assert contact_status(app, cid) == "wrap_up"
    types = [e["type"] for e in events_of(app, cid)]
    for t in ("call.answered", "call.connected", "call.recording", "call.ended", "call.metrics", "contact.ended"):
        assert t in types, t
    ended = events_of(app, cid, "call.ended")[0]["data"]
    metrics = events_of(app, cid, "call.metrics")[0]["data"]
    assert metrics["legs"]["agent"]["talk_time"] > 1.0
    assert metrics["legs"]["customer"]["talk_time"] > 1.0
    assert abs(metrics["duration"] - ended["seconds"]) < 0.1
    page = call["http"].get(f"/contacts/{cid}")
    assert page.status_code == 200
    assert f'src="/contacts/{cid}/recording/call.wav"'.encode() in page.data
    assert b'id="call-metrics"' in page.data and b"Talk-to-listen ratio" in page.data
    review = call["http"].get(f"/review/contacts/{cid}")  # the grader's page plays it too, seekable by evidence
    assert review.status_code == 200 and f'src="/contacts/{cid}/recording/call.wav"'.encode() in review.data
    assert b'id="recording-audio"' in review.data and b'data-ts="' in review.data
    wav = call["http"].get(f"/contacts/{cid}/recording/call.wav")
    assert wav.status_code == 200 and wav.mimetype == "audio/wav"
    import io

    with wave.open(io.BytesIO(wav.data)) as w:
        assert w.getnchannels() == 2
        assert abs(w.getnframes() / w.getframerate() - ended["seconds"]) < 0.05
    browsers.run(agent_pc.close())


def test_recording_is_refused_to_another_trainee(call, browsers, make_user):
    """Another trainee gets 403 for the recording; an unknown leg name is 404."""
    app, cid = call["app"], call["cid"]
    agent_pc = connect(browsers, call["voice"], "answer", {"contact_id": cid}, ToneTrack(150, voice=True))
    wait_for(lambda: events_of(app, cid, "call.recording"))
    call["voice"].emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)
    make_user("other")
    assert login(app, "other").get(f"/contacts/{cid}/recording/call.wav").status_code == 403
    assert call["http"].get(f"/contacts/{cid}/recording/..%2Fsecret.wav").status_code == 404
    assert call["http"].get(f"/contacts/{cid}/recording/agent.wav").status_code == 200
    browsers.run(agent_pc.close())


def quiet_for(pc, since, below, frames=25):
    """The last ``frames`` (0.5 s) received since frame ``since`` are all below ``below`` dBov."""
    got = heard_since(pc, since)
    return len(got) > frames + 10 and got[-frames:].max() < below


def test_hold_mute_and_their_events(call, browsers):
    """Hold: the caller hears the hold tone, not the trainee; resume brings the trainee back; mute silences the
    trainee for the caller. Each change is a recorded event; a second hold is refused."""
    import time

    app, cid, voice = call["app"], call["cid"], call["voice"]
    agent_pc = connect(browsers, voice, "answer", {"contact_id": cid}, ToneTrack(150, voice=True, amplitude=0.5))
    wait_for(lambda: events_of(app, cid, "call.recording"))
    assert voice.emit("hold", {"contact_id": cid}, namespace="/voice", callback=True)["ok"]
    again = voice.emit("hold", {"contact_id": cid}, namespace="/voice", callback=True)
    assert not again["ok"] and "already on hold" in again["error"]
    n = len(call["caller_pc"].levels)
    time.sleep(1.2)
    # the hold tone is soft (about -31 dBov beeps, then silence); the trainee's voice (peaks near -16) is gone
    wait_for(
        lambda: len(heard_since(call["caller_pc"], n)) > 50 and heard_since(call["caller_pc"], n)[-25:].max() < -25
    )
    held = heard_since(call["caller_pc"], n)
    assert ((held > -40) & (held < -25)).sum() >= 5, "the hold tone is heard"
    assert voice.emit("resume", {"contact_id": cid}, namespace="/voice", callback=True)["ok"]
    n = len(call["caller_pc"].levels)
    wait_for(lambda: (heard_since(call["caller_pc"], n) > -25).sum() > 15, timeout=8)
    assert voice.emit("mute", {"contact_id": cid, "muted": True}, namespace="/voice", callback=True)["ok"]
    n = len(call["caller_pc"].levels)
    wait_for(
        lambda: len(heard_since(call["caller_pc"], n)) > 30 and heard_since(call["caller_pc"], n)[-25:].max() < -60
    )
    types = [e["type"] for e in events_of(app, cid)]
    assert types.count("call.held") == 1 and "call.resumed" in types and "call.muted" in types
    told = [m["args"][0] for m in call["caller"].get_received("/voice") if m["name"] == "event"]
    assert [t["event"] for t in told if t["event"] in ("call.held", "call.resumed")] == ["call.held", "call.resumed"]
    assert all(t["contact_id"] == cid and t["type"] == "call_state" for t in told)
    voice.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)
    metrics = events_of(app, cid, "call.metrics")[0]["data"]
    held_ts = events_of(app, cid, "call.held")[0]["ts"]
    resumed_ts = events_of(app, cid, "call.resumed")[0]["ts"]
    assert metrics["hold"]["count"] == 1 and abs(metrics["hold"]["total"] - (resumed_ts - held_ts)) < 0.05
    browsers.run(agent_pc.close())


def test_caller_hang_up_ends_the_call_for_the_trainee(call, browsers):
    """The caller hangs up: the call ends with reason customer_hung_up and the trainee's desk is told."""
    app, cid = call["app"], call["cid"]
    agent_pc = connect(browsers, call["voice"], "answer", {"contact_id": cid}, ToneTrack(150, voice=True))
    wait_for(lambda: events_of(app, cid, "call.recording"))
    assert call["desk"].emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)["ok"]
    call["desk"].get_received("/desk")
    who = {"contact_id": cid, "token": call["token"]}
    res = call["caller"].emit("caller_hang_up", who, namespace="/voice", callback=True)
    assert res["ok"] and res["status"] == "wrap_up"
    assert events_of(app, cid, "call.ended")[0]["data"]["reason"] == "customer_hung_up"
    seen = [m["args"][0] for m in call["desk"].get_received("/desk") if m["name"] == "event"]
    assert any(e.get("event", {}).get("type") == "call.ended" for e in seen)
    browsers.run(agent_pc.close())


def test_controls_are_refused_to_others(call, make_user):
    """Another trainee cannot answer or hang up this call; a caller with a wrong token cannot send an offer."""
    app, cid = call["app"], call["cid"]
    make_user("agent2")
    _, voice2, _ = agent_sockets(app, "agent2")
    for ev in ("answer", "hold", "hang_up"):
        res = voice2.emit(ev, {"contact_id": cid, "sdp": "v=0"}, namespace="/voice", callback=True)
        assert not res["ok"] and "not on your desk" in res["error"]
    stranger = socketio.test_client(app, namespace="/voice", flask_test_client=app.test_client())
    bad = {"contact_id": cid, "token": "nope", "sdp": "v=0"}
    res = stranger.emit("caller_offer", bad, namespace="/voice", callback=True)
    assert not res["ok"] and res["error"] == "unknown call"
    res = stranger.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)
    assert not res["ok"] and "login required" in res["error"]


def test_malformed_answer_sdp_is_refused_and_the_call_stays(call):
    """A malformed SDP from the trainee is refused with a clear message; the call is still active."""
    res = call["voice"].emit("answer", {"contact_id": call["cid"], "sdp": "not sdp"}, namespace="/voice", callback=True)
    assert not res["ok"] and "not SDP" in res["error"]
    assert contact_status(call["app"], call["cid"]) == "active"


def test_transfer_parks_the_caller_and_the_next_agent_answers(call, browsers, make_user):
    """A transfer to a named agent: the caller waits on hold, agent2 gets the call and is heard by the caller;
    the recording goes on in the same files."""

    app, cid = call["app"], call["cid"]
    make_user("agent2")
    desk2, voice2, _ = agent_sockets(app, "agent2")
    agent_pc = connect(browsers, call["voice"], "answer", {"contact_id": cid}, ToneTrack(150, voice=True))
    wait_for(lambda: events_of(app, cid, "call.recording"))
    res = call["voice"].emit(
        "transfer",
        {"contact_id": cid, "target_kind": "agent", "target": "agent2", "note": "billing question"},
        namespace="/voice",
        callback=True,
    )
    assert res["ok"], res
    wait_for(lambda: contact_status(app, cid) == "active")
    pc2 = connect(browsers, voice2, "answer", {"contact_id": cid}, ToneTrack(120, voice=True, amplitude=0.5))
    n = len(call["caller_pc"].levels)
    wait_for(lambda: (heard_since(call["caller_pc"], n) > -25).sum() > 15, timeout=8)
    voice2.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)
    types = [e["type"] for e in events_of(app, cid)]
    assert types.count("call.answered") == 2 and "transfer" in types
    assert types.count("call.recording") == 1
    held = events_of(app, cid, "call.held")
    assert held[0]["data"]["reason"] == "transfer"
    browsers.run(agent_pc.close())
    browsers.run(pc2.close())


def test_ending_the_contact_from_the_chat_desk_hangs_up_the_call(call, browsers):
    """The desk's generic End button on a call (not Hang up): the media is hung up too, the recording is
    finished and call.ended/call.metrics follow."""
    app, cid = call["app"], call["cid"]
    agent_pc = connect(browsers, call["voice"], "answer", {"contact_id": cid}, ToneTrack(150, voice=True))
    wait_for(lambda: events_of(app, cid, "call.recording"))
    res = call["desk"].emit("end", {"contact_id": cid}, namespace="/desk", callback=True)
    assert res["ok"], res
    ended = wait_for(lambda: events_of(app, cid, "call.ended"))
    assert ended[0]["data"]["reason"] == "agent_ended"
    wait_for(lambda: events_of(app, cid, "call.metrics"))
    worker = app.extensions["kefu_media_worker"]
    assert str(cid) not in worker.calls and len(worker.peers) == 0
    browsers.run(agent_pc.close())


def test_a_caller_on_a_new_socket_rejoins_the_call_and_is_told_it_ended(call, browsers):
    """The caller's page comes back on a new socket (its web process died): caller_rejoin puts it back in the
    call's room with the state so far, so the hang-up reaches it; a wrong token is refused."""
    app, cid = call["app"], call["cid"]
    agent_pc = connect(browsers, call["voice"], "answer", {"contact_id": cid}, ToneTrack(150, voice=True))
    wait_for(lambda: events_of(app, cid, "call.recording"))
    again = socketio.test_client(app, namespace="/voice", flask_test_client=app.test_client())
    bad = again.emit("caller_rejoin", {"contact_id": cid, "token": "nope"}, namespace="/voice", callback=True)
    assert not bad["ok"] and bad["error"] == "unknown call"
    who = {"contact_id": cid, "token": call["token"]}
    res = again.emit("caller_rejoin", who, namespace="/voice", callback=True)
    assert res["ok"] and res["status"] == "active" and res["state"]["answered"] and not res["state"]["ended"]
    again.get_received("/voice")
    assert call["voice"].emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)["ok"]
    told = [m["args"][0] for m in again.get_received("/voice") if m["name"] == "event"]
    assert any(t["event"] == "call.ended" and t["contact_id"] == cid for t in told), told
    res = again.emit("caller_rejoin", who, namespace="/voice", callback=True)
    assert res["ok"] and res["state"]["ended"] and res["status"] == "wrap_up"
    browsers.run(agent_pc.close())
