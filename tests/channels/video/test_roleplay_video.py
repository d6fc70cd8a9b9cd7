"""Role-play video calls through the server, with aiortc peers on both sides in-process: a person dials a
video line on the caller's /voice socket with their camera, the trainee answers with theirs, and the media
worker relays each camera to the other; both cameras are recorded and served to those who may see the
contact; a caller without a camera goes on with sound only and the desk is told."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from extensions import socketio
from media.face_analysis import analyse_frame
from media.video_recorder import webm_info
from tests.channels.video.test_video_calls import VideoClient
from tests.channels.voice.conftest import agent_sockets, contact_status, events_of, login, wait_for
from tests.media.faces import face_frame

CALLER_BGR = (40, 160, 220)  # the caller's camera: an orange picture, nothing like the trainee's grey backdrop


def _caller_picture() -> np.ndarray:
    return np.full((480, 640, 3), CALLER_BGR, np.uint8)


async def _make(image):
    return VideoClient(image)


def _dial(app, browsers, image):
    """A person dials the video line and sends their offer while waiting: (socket, who, peer)."""
    caller = socketio.test_client(app, namespace="/voice", flask_test_client=app.test_client())
    dial = caller.emit(
        "dial", {"name": "Ms Lin", "queue": "video.general", "lang": "en"}, namespace="/voice", callback=True
    )
    assert dial["ok"], dial
    who = {"contact_id": dial["contact_id"], "token": dial["token"]}
    client = browsers.run(_make(image))
    res = caller.emit("caller_offer", {**who, "sdp": browsers.run(client.offer())}, namespace="/voice", callback=True)
    assert res["ok"], res
    assert "m=video" in res["sdp"]
    browsers.run(client.accept(res["sdp"]))
    return caller, who, client


def _answer(browsers, voice, cid, image):
    client = browsers.run(_make(image))
    res = voice.emit(
        "answer", {"contact_id": cid, "sdp": browsers.run(client.offer())}, namespace="/voice", callback=True
    )
    assert res["ok"], res
    browsers.run(client.accept(res["sdp"]))
    return client


def _mean_bgr(frame) -> np.ndarray:
    return frame.to_ndarray(format="bgr24").reshape(-1, 3).mean(axis=0)


def test_roleplay_video_relays_both_cameras_and_records_them(voice_app, make_user, browsers):
    """The trainee sees the caller's camera and the caller sees the trainee's face, both hear each other; after
    hang-up both cameras are in the recording (offsets into the audio, files of the call's length), served to
    the agent and to a grader (with range requests, for seeking) and refused to another trainee; the contact
    and review pages play them."""
    app = voice_app
    make_user("agent1")
    make_user("other")
    make_user("qa", role="grader")
    desk, voice, http = agent_sockets(app, "agent1")
    caller, who, caller_pc = _dial(app, browsers, _caller_picture())
    cid = who["contact_id"]
    wait_for(lambda: contact_status(app, cid) == "active")
    agent_pc = _answer(browsers, voice, cid, face_frame())

    # The caller's orange picture (VP8 starts at a low bitrate: the first frames are only close to it).
    wait_for(
        lambda: len(agent_pc.frames) >= 3 and np.allclose(_mean_bgr(agent_pc.frames[-1]), CALLER_BGR, atol=12),
        timeout=20,
    )
    wait_for(lambda: len(caller_pc.frames) >= 3, timeout=20)
    assert analyse_frame(caller_pc.frames[-1].to_ndarray(format="bgr24")).face
    wait_for(lambda: agent_pc.audio_frames > 50 and caller_pc.audio_frames > 50, timeout=10)
    wait_for(lambda: len(events_of(app, cid, "video.recording")) == 2, timeout=20)
    time.sleep(2.0)  # a little more of the call on camera

    res = voice.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)
    assert res["ok"], res
    ended = wait_for(lambda: events_of(app, cid, "call.ended"))
    seconds = ended[0]["data"]["seconds"]
    recs = {e["data"]["leg"]: e["data"] for e in events_of(app, cid, "video.recording")}
    assert set(recs) == {"agent", "customer"}
    for leg, data in recs.items():
        info = webm_info(Path(app.config["RECORDINGS_DIR"]) / data["path"])
        assert abs(info["seconds"] - (seconds - data["offset"])) < 0.6, (leg, info, seconds, data)
        assert info["frames"] >= 20

    r = http.get(f"/contacts/{cid}/recording/customer.webm")
    assert r.status_code == 200 and r.mimetype == "video/webm" and r.data[:4] == b"\x1a\x45\xdf\xa3"
    part = http.get(f"/contacts/{cid}/recording/agent.webm", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.data) == 100
    assert http.get(f"/contacts/{cid}/recording/lead.webm").status_code == 404
    assert login(app, "other").get(f"/contacts/{cid}/recording/agent.webm").status_code == 403
    assert login(app, "qa").get(f"/contacts/{cid}/recording/agent.webm").status_code == 200
    page = http.get(f"/contacts/{cid}").get_data(as_text=True)
    assert 'id="recording-video-customer"' in page and 'id="recording-video-agent"' in page
    assert f'data-offset="{recs["agent"]["offset"]}"' in page and "recording_sync.js" in page
    review = login(app, "qa").get(f"/review/contacts/{cid}").get_data(as_text=True)
    assert f"/contacts/{cid}/recording/customer.webm" in review
    for pc in (agent_pc, caller_pc):
        browsers.run(pc.close())


def test_caller_without_a_camera_goes_on_with_sound_and_the_desk_is_told(voice_app, make_user, browsers):
    """A caller whose camera is refused offers to receive video only and says why: the desk gets
    video.customer_camera_unavailable, the caller still sees the trainee, the trainee gets no picture, and only
    the trainee's camera is recorded. A stranger without the call's token cannot speak for it."""
    app = voice_app
    make_user("agent1")
    desk, voice, http = agent_sockets(app, "agent1")
    caller, who, caller_pc = _dial(app, browsers, None)
    cid = who["contact_id"]
    res = caller.emit(
        "caller_camera_unavailable", {**who, "reason": "permission_denied", "detail": "NotAllowedError"},
        namespace="/voice", callback=True,
    )  # fmt: skip
    assert res["ok"], res
    stranger = socketio.test_client(app, namespace="/voice", flask_test_client=app.test_client())
    bad = stranger.emit(
        "caller_camera_unavailable", {"contact_id": cid, "token": "nope", "reason": "no_device"},
        namespace="/voice", callback=True,
    )  # fmt: skip
    assert not bad["ok"] and bad["error"] == "unknown call"
    bad_reason = caller.emit("caller_camera_unavailable", {**who, "reason": "bored"}, namespace="/voice", callback=True)
    assert not bad_reason["ok"] and "reason must be one of" in bad_reason["error"]
    missing = events_of(app, cid, "video.customer_camera_unavailable")
    assert len(missing) == 1 and missing[0]["data"]["reason"] == "permission_denied"
    assert missing[0]["actor"] == "customer"

    wait_for(lambda: contact_status(app, cid) == "active")
    agent_pc = _answer(browsers, voice, cid, face_frame())
    wait_for(lambda: len(caller_pc.frames) >= 3, timeout=20)
    wait_for(lambda: agent_pc.audio_frames > 50, timeout=10)
    wait_for(lambda: events_of(app, cid, "video.recording"), timeout=20)
    assert agent_pc.frames == []
    voice.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)
    wait_for(lambda: events_of(app, cid, "call.ended"))
    assert [e["data"]["leg"] for e in events_of(app, cid, "video.recording")] == ["agent"]
    for pc in (agent_pc, caller_pc):
        browsers.run(pc.close())


def test_voice_line_offer_with_video_is_still_refused(voice_app, browsers):
    """A caller on a voice line cannot smuggle a camera in: the offer with video is refused, clearly."""
    app = voice_app
    caller = socketio.test_client(app, namespace="/voice", flask_test_client=app.test_client())
    dial = caller.emit(
        "dial", {"name": "Mr Wu", "queue": "voice.general", "lang": "en"}, namespace="/voice", callback=True
    )
    client = browsers.run(_make(_caller_picture()))
    who = {"contact_id": dial["contact_id"], "token": dial["token"]}
    res = caller.emit("caller_offer", {**who, "sdp": browsers.run(client.offer())}, namespace="/voice", callback=True)
    assert not res["ok"] and "audio only" in res["error"]
    browsers.run(client.close())
