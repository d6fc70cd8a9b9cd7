"""Simulated video calls end to end: the ACD gives the trainee a video practice call, the trainee (an aiortc
peer sending a face and a voice) answers through /voice; the customer's camera shows the ID card, the
simulated customer speaks and hears the ID decision, the server records the trainee's camera hints and the
final figures at hang-up; both cameras are recorded, across a transfer and up to a crash."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from contacts.models import Contact
from extensions import db
from media.face_analysis import analyse_frame
from media.rtc_client import ToneTrack
from media.video_recorder import webm_info
from scenarios.loader import load_pack_into_db
from tests.channels.voice.conftest import agent_sockets, contact_status, events_of, wait_for
from tests.media.faces import face_frame
from tests.media.test_video_tracks import StillTrack


class VideoClient:
    """A trainee's browser on a video call: microphone and camera out; the customer's audio and video in."""

    def __init__(self, image=None):
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(ToneTrack(150, voice=True, speaking=False))  # silent: the caller speaks first
        if image is not None:
            self.pc.addTrack(StillTrack(image))
        else:
            self.pc.addTransceiver("video", direction="recvonly")
        self.frames = []
        self.audio_frames = 0
        self._tasks = []
        self.pc.on("track", lambda t: self._tasks.append(asyncio.ensure_future(self._read(t))))

    async def _read(self, track):
        try:
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    self.frames = [*self.frames[-4:], frame]
                else:
                    self.audio_frames += 1
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def offer(self):
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, sdp):
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def close(self):
        for t in self._tasks:
            t.cancel()
        await self.pc.close()


def _practice_call(app, make_user, scenario_id):
    with app.app_context():
        load_pack_into_db("scenarios/packs/en")
    make_user("vagent", level="L4")
    desk, voice, http = agent_sockets(app, "vagent")
    r = http.post("/api/video/practice", json={"scenario_id": scenario_id})
    assert r.status_code == 201, r.get_json()
    cid = r.get_json()["contact"]["id"]
    wait_for(lambda: contact_status(app, cid) == "active")
    return cid, desk, voice, http


def _answer(browsers, voice, cid, image):
    client = browsers.run(_make(image))
    sdp = browsers.run(client.offer())
    res = voice.emit("answer", {"contact_id": cid, "sdp": sdp}, namespace="/voice", callback=True)
    assert res["ok"], res
    assert "m=video" in res["sdp"]
    browsers.run(client.accept(res["sdp"]))
    return client


async def _make(image):
    return VideoClient(image)


def test_simulated_video_call_with_id_check(voice_app, make_user, browsers):
    """The trainee sees the card and hears the customer; the server sees the trainee's face (hint ok); the
    refusal is recorded and the customer reacts to it by voice; hang-up records the final camera summary."""
    app = voice_app
    cid, desk, voice, http = _practice_call(app, make_user, "en-video-refund-other-card")
    client = _answer(browsers, voice, cid, face_frame())
    wait_for(lambda: len(client.frames) >= 3, timeout=20)
    img = client.frames[-1].to_ndarray(format="bgr24")
    assert img.shape == (480, 640, 3) and analyse_frame(img).face
    wait_for(lambda: events_of(app, cid, "call.connected"), timeout=20)
    wait_for(lambda: [e for e in events_of(app, cid, "video.camera_hint") if e["data"]["hint"] == "ok"], timeout=20)
    wait_for(lambda: events_of(app, cid, "call.utterance"), timeout=30)  # the customer's opening, by voice
    r = http.post(
        f"/api/video/contacts/{cid}/id-verification",
        json={"decision": "refused", "reason": "The card is not in the account holder's name."},
    )
    assert r.status_code == 200, r.get_json()
    wait_for(
        lambda: [e for e in events_of(app, cid, "call.utterance") if "supposed to do" in (e["text"] or "")],
        timeout=30,
    )
    res = voice.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)
    assert res["ok"], res
    final = wait_for(lambda: [e for e in events_of(app, cid, "video.camera_summary") if e["data"]["final"]])
    assert final[0]["data"]["face_present_ratio"] >= 0.8 and final[0]["data"]["samples"] >= 4
    assert contact_status(app, cid) == "wrap_up"
    assert client.audio_frames > 50
    browsers.run(client.close())


def test_voice_only_trainee_still_sees_the_customer(voice_app, make_user, browsers):
    """Without a camera the trainee's browser offers to receive video only: the call connects, the customer's
    camera arrives, and no camera figures are recorded (the browser reports the missing camera itself)."""
    app = voice_app
    cid, desk, voice, http = _practice_call(app, make_user, "en-video-purifier-guidance")
    r = http.post(f"/api/video/contacts/{cid}/camera-unavailable", json={"reason": "permission_denied"})
    assert r.status_code == 200
    client = _answer(browsers, voice, cid, None)
    wait_for(lambda: len(client.frames) >= 3, timeout=20)
    voice.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)
    assert not events_of(app, cid, "video.camera_hint")
    assert events_of(app, cid, "video.camera_unavailable")[0]["data"]["reason"] == "permission_denied"
    browsers.run(client.close())


def test_restart_mid_video_call_closes_it_and_keeps_what_was_recorded(voice_app, make_user, browsers):
    """The media worker dies mid video call: at the next start the call is ended (server_restart), the contact
    goes to wrap-up, and the camera hints recorded before the crash stay in the recording."""
    from channels.voice.recovery import recover_interrupted_calls
    from extensions import db, media_loop

    app = voice_app
    cid, desk, voice, http = _practice_call(app, make_user, "en-video-phone-change-id")
    client = _answer(browsers, voice, cid, face_frame())
    wait_for(lambda: events_of(app, cid, "video.camera_hint"), timeout=20)
    wait_for(lambda: len(events_of(app, cid, "video.recording")) == 2, timeout=20)
    time.sleep(3.0)  # a few seconds of video: its clusters (1 s each) reach the disk
    worker = app.extensions["kefu_media_worker"]

    async def crash():  # the worker vanishes: nothing is closed, the video files have no trailer
        worker.calls.pop(str(cid))
        worker.clock.remove(str(cid))
        worker.video_calls.pop(str(cid), None)
        await worker.peers.close_session(str(cid))

    media_loop.submit(crash()).result(10)
    time.sleep(0.3)  # a frame still in an encoder thread lands
    with app.app_context():
        closed = recover_interrupted_calls()
        db.session.remove()
    assert closed == [cid] and contact_status(app, cid) == "wrap_up"
    assert events_of(app, cid, "call.ended")[0]["data"]["reason"] == "server_restart"
    assert events_of(app, cid, "video.camera_hint")[0]["data"]["hint"] == "ok"
    for rec in events_of(app, cid, "video.recording"):  # repaired: whole, with a duration, playable to the cut
        info = webm_info(Path(app.config["RECORDINGS_DIR"]) / rec["data"]["path"])
        assert info["frames"] >= 15 and info["duration"] is not None, (rec, info)
    browsers.run(client.close())


def test_ending_a_video_contact_from_the_desk_hangs_up_its_media(voice_app, make_user, browsers):
    """The chat desk's End on a live video call (not the call bar's hang-up) still hangs up the media: the call
    is ended on the worker and recorded as ended."""
    app = voice_app
    cid, desk, voice, http = _practice_call(app, make_user, "en-video-purifier-guidance")
    client = _answer(browsers, voice, cid, face_frame())
    wait_for(lambda: events_of(app, cid, "call.connected"), timeout=20)
    res = desk.emit("end", {"contact_id": cid}, namespace="/desk", callback=True)
    assert res["ok"], res
    wait_for(lambda: events_of(app, cid, "call.ended"), timeout=20)
    worker = app.extensions["kefu_media_worker"]
    assert str(cid) not in worker.calls and str(cid) not in worker.video_calls
    browsers.run(client.close())


def test_transfer_keeps_the_video_call_and_the_receiver_gets_its_video(voice_app, make_user, browsers):
    """A video call transferred to a named agent with a note: the customer waits on hold, the receiver answers
    the same call with their camera and sees the customer's; one audio recording, and each camera's file goes
    on across the transfer (the agent's file covers both trainees, black while nobody held the call); the camera
    figures are each trainee's own."""
    app = voice_app
    cid, desk, voice, http = _practice_call(app, make_user, "en-video-purifier-guidance")
    client = _answer(browsers, voice, cid, face_frame())
    wait_for(lambda: len(client.frames) >= 3, timeout=20)
    wait_for(lambda: len(events_of(app, cid, "video.recording")) == 2, timeout=20)
    # The sender's camera has been judged (its hint settles after two samples, half a second apart) before the
    # transfer: otherwise the only hint would be the receiver's and the sender's summary would have one sample.
    wait_for(lambda: events_of(app, cid, "video.camera_hint"), timeout=20)
    receiver = make_user("vagent2", level="L4")
    desk2, voice2, _ = agent_sockets(app, "vagent2")
    res = voice.emit(
        "transfer",
        {"contact_id": cid, "target_kind": "agent", "target": "vagent2", "note": "wants to see the filter"},
        namespace="/voice",
        callback=True,
    )
    assert res["ok"], res
    wait_for(lambda: _agent_of(app, cid) == receiver and contact_status(app, cid) == "active")
    client2 = _answer(browsers, voice2, cid, face_frame(x=280))
    wait_for(lambda: len(client2.frames) >= 3, timeout=20)
    img = client2.frames[-1].to_ndarray(format="bgr24")
    assert img.shape == (480, 640, 3) and img.std() > 10  # the customer's rendered camera, not a blank
    wait_for(lambda: [e for e in events_of(app, cid, "call.connected") if e["data"]["leg"] == "agent"][1:], timeout=20)
    # The receiver's camera is judged afresh: its own hint (ok: a face) settles again.
    wait_for(lambda: [e["data"]["hint"] for e in events_of(app, cid, "video.camera_hint")] == ["ok", "ok"], timeout=20)
    res = voice2.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)
    assert res["ok"], res
    types = [e["type"] for e in events_of(app, cid)]
    assert types.count("call.answered") == 2 and "transfer" in types and types.count("call.recording") == 1
    assert events_of(app, cid, "call.held")[0]["data"]["reason"] == "transfer"
    assert events_of(app, cid, "transfer")[0]["text"] == "wants to see the filter"
    recs = events_of(app, cid, "video.recording")
    assert sorted(r["data"]["leg"] for r in recs) == ["agent", "customer"]  # the files went on
    seconds = events_of(app, cid, "call.ended")[0]["data"]["seconds"]
    agent = next(r["data"] for r in recs if r["data"]["leg"] == "agent")
    info = webm_info(Path(app.config["RECORDINGS_DIR"]) / agent["path"])
    assert abs(info["seconds"] - (seconds - agent["offset"])) < 0.6, (info, seconds, agent)
    # The camera figures are each trainee's own: a summary for the sender at the transfer, the final one for the
    # receiver alone (fewer samples than the whole call's).
    wait_for(lambda: len(events_of(app, cid, "video.camera_summary")) >= 2)
    summaries = [e["data"] for e in events_of(app, cid, "video.camera_summary")]
    assert len(summaries) == 2, summaries
    handed, final = summaries
    assert not handed["final"] and handed["samples"] >= 2 and handed["face_present_ratio"] == 1.0
    assert final["final"] and final["samples"] >= 2 and final["seconds"] < seconds - handed["seconds"] + 0.5
    worker = app.extensions["kefu_media_worker"]
    assert str(cid) not in worker.video_calls and len(worker.peers) == 0
    browsers.run(client.close())
    browsers.run(client2.close())


def _agent_of(app, cid):
    from contacts.models import Contact
    from extensions import db

    with app.app_context():
        agent = db.session.get(Contact, cid).agent_id
        db.session.remove()
    return agent


def test_the_callers_wait_before_the_answer_carries_into_the_call(voice_app, make_user, browsers):
    """A simulated caller answered two and a half minutes after dialling starts the call with that wait's
    patience spent (and annoyed), not fresh: the first recorded customer state says so."""
    app = voice_app
    cid, desk, voice, http = _practice_call(app, make_user, "en-video-purifier-guidance")
    with app.app_context():
        contact = db.session.get(Contact, cid)
        contact.created_at -= 150  # dialled 150 s ago: in the queue, then ringing on the desk
        db.session.commit()
    client = _answer(browsers, voice, cid, face_frame())
    state = wait_for(lambda: events_of(app, cid, "customer.state"), timeout=20)[0]["data"]
    assert state["patience_left"] <= state["patience_budget"] - 150, state
    assert state["emotion"] >= 1, state
    voice.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)
    browsers.run(client.close())
