"""A video call through the media worker with aiortc on both sides, in-process: the trainee receives the
customer's rendered camera (the ID card), the server analyses the trainee's camera and reports hints and a
final summary at hang-up, both cameras are recorded to WebM in step with the audio; offers with bad SDP are
refused."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from channels.video.media_ops import install
from media.face_analysis import analyse_frame
from media.rtc_client import ToneTrack
from media.video_recorder import webm_info
from media.worker import MediaWorker
from tests.media.faces import empty_frame, face_frame
from tests.media.test_video_tracks import StillTrack

CARD = {"id_card": {"name": "Emily Carter", "id_number": "X20481137", "birth": "1990-03-14"}}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def _trainee(image, with_camera=True):
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(ToneTrack())
    if with_camera:
        pc.addTrack(StillTrack(image))
    else:
        pc.addTransceiver("video", direction="recvonly")  # no camera: still sees the customer
    got: asyncio.Queue = asyncio.Queue()
    pc.on("track", lambda t: got.put_nowait(t) if t.kind == "video" else None)
    await pc.setLocalDescription(await pc.createOffer())
    return pc, got


async def _call(tmp_path, image, seconds, with_camera=True):
    events: list[dict] = []
    worker = MediaWorker(tmp_path / "rec", events.append)
    install(worker, fps=10)
    assert (await worker.handle({"op": "open_call", "call_id": "v1"}))["ok"]
    pc, got = await _trainee(image, with_camera)
    reply = await worker.handle(
        {"op": "video_offer", "call_id": "v1", "sdp": pc.localDescription.sdp, "scene": CARD, "lang": "en"}
    )
    assert reply["ok"] and reply["video"], reply
    await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
    remote = await asyncio.wait_for(got.get(), 10)
    frames = [await asyncio.wait_for(remote.recv(), 10) for _ in range(8)]
    await asyncio.sleep(seconds)
    hung = await worker.handle({"op": "hangup", "call_id": "v1"})
    await pc.close()
    await asyncio.sleep(0.2)
    return events, frames, hung


def test_video_call_customer_camera_and_trainee_analysis(tmp_path):
    """The trainee sees the customer with the ID card; the server samples the trainee's face, settles on the
    ok hint and reports a final summary with a high face-present ratio when the call hangs up."""
    events, frames, hung = run(_call(tmp_path, face_frame(), 3.0))
    img = frames[-1].to_ndarray(format="bgr24")
    assert img.shape == (480, 640, 3) and analyse_frame(img).face
    assert hung["ok"] and hung["known"]
    hints = [e for e in events if e["type"] == "camera_hint"]
    assert [h["hint"] for h in hints] == ["ok"] and hints[0]["call_id"] == "v1"
    finals = [e for e in events if e["type"] == "camera_summary" and e["summary"]["final"]]
    assert len(finals) == 1
    s = finals[0]["summary"]
    assert s["samples"] >= 4 and s["face_present_ratio"] >= 0.8
    assert any(e["type"] == "leg_connected" for e in events)


def test_empty_seat_is_reported(tmp_path):
    """Nobody in front of the trainee's camera: the no_face hint and a zero face-present ratio."""
    events, _, _ = run(_call(tmp_path, empty_frame(), 2.5))
    assert [e["hint"] for e in events if e["type"] == "camera_hint"] == ["no_face"]
    final = next(e for e in events if e["type"] == "camera_summary")
    assert final["summary"]["face_present_ratio"] == 0.0


def test_voice_only_fallback_still_sees_the_customer(tmp_path):
    """A trainee without a camera offers to receive video only: the call connects, the customer's camera
    arrives, and no camera figures are invented."""
    events, frames, _ = run(_call(tmp_path, None, 1.0, with_camera=False))
    assert len(frames) == 8
    assert not [e for e in events if e["type"] in ("camera_hint", "camera_summary")]


def test_both_cameras_are_recorded_in_step_with_the_audio(tmp_path):
    """The trainee's camera and the customer's rendered one go to 320x240 WebM files beside the WAVs; each is
    reported with its offset into the audio recording, has about 10 frames a second, and ends with the call
    (its offset plus its length is the audio's length, within half a second). The trainee's file shows the
    face."""
    events, _, hung = run(_call(tmp_path, face_frame(), 4.0))
    video = hung["video"]
    assert set(video) == {"agent", "customer"}, hung
    started = {e["leg"]: e for e in events if e["type"] == "video_recording"}
    assert set(started) == {"agent", "customer"}
    for leg, f in video.items():
        assert started[leg]["path"] == f["path"] == f"v1/{leg}-video.webm"
        assert started[leg]["offset"] == f["offset"] and 0 <= f["offset"] < 2.0
        info = webm_info(tmp_path / "rec" / f["path"])
        assert (info["width"], info["height"]) == (320, 240)
        expected = hung["seconds"] - f["offset"]
        assert abs(info["seconds"] - expected) < 0.5, (leg, info, expected)
        assert info["frames"] >= 0.9 * expected * 10 and f["dropped"] == 0, (leg, info)
    import av

    with av.open(str(tmp_path / "rec" / video["agent"]["path"])) as c:
        last = list(c.decode(video=0))[-1].to_ndarray(format="bgr24")
    assert analyse_frame(last).face


@pytest.mark.parametrize("sdp, message", [("", "no SDP"), ("v=0\r\nnonsense", "no media section")])
def test_bad_offer_is_refused(tmp_path, sdp, message):
    """Malformed SDP gets a clear error and the call stays usable."""

    async def go():
        worker = MediaWorker(tmp_path / "rec", [].append)
        install(worker)
        await worker.handle({"op": "open_call", "call_id": "v2"})
        reply = await worker.handle({"op": "video_offer", "call_id": "v2", "sdp": sdp, "scene": CARD})
        unknown = await worker.handle({"op": "video_offer", "call_id": "nope", "sdp": sdp})
        lead = await worker.handle({"op": "video_offer", "call_id": "v2", "leg": "lead:1", "sdp": sdp})
        person = await worker.handle({"op": "video_offer", "call_id": "v2", "leg": "customer", "sdp": sdp})
        await worker.shutdown()
        return reply, unknown, lead, person

    reply, unknown, lead, person = run(go())
    assert not reply["ok"] and message in reply["error"]
    assert not unknown["ok"] and "no call" in unknown["error"]
    assert not lead["ok"] and "agent's and the customer's" in lead["error"]
    # The agent's offer rendered a simulated customer here: nobody else may show up as the customer.
    assert not person["ok"] and "simulated" in person["error"]
