"""The customer's video over real WebRTC (aiortc on both sides, in-process): frames arrive, decoded, showing
what the renderer drew; and the server's camera watch measures a trainee's face on an incoming track."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest
from aiortc import RTCPeerConnection, VideoStreamTrack
from av import VideoFrame

from media.face_analysis import CameraMonitor, analyse_frame, watch_track
from media.video_render import CustomerVideoRenderer, IdCardProp, VideoScene
from media.video_tracks import CustomerVideoTrack

from .faces import empty_frame, face_frame


async def _connect(sender: RTCPeerConnection, receiver: RTCPeerConnection) -> None:
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)


class StillTrack(VideoStreamTrack):
    """A camera showing one fixed picture (a trainee's webcam, in these tests)."""

    def __init__(self, image: np.ndarray):
        super().__init__()
        self.image = image

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(self.image, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


def test_fps_is_validated():
    """A track refuses a frame rate outside 1..30."""
    with pytest.raises(ValueError):
        CustomerVideoTrack(fps=0)


def test_track_paces_frames_at_its_rate():
    """Read straight from the track, 10 frames at 20 fps take about half a second and carry 90 kHz pts."""

    async def run():
        track = CustomerVideoTrack(fps=20)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        frames = [await track.recv() for _ in range(10)]
        return loop.time() - t0, frames

    elapsed, frames = asyncio.run(run())
    assert 0.38 < elapsed < 1.0
    assert [f.pts for f in frames[:3]] == [0, 4500, 9000] and frames[0].width == 640


def test_customer_video_arrives_over_webrtc():
    """A trainee peer receives the customer's card scene: decoded 640x480 frames in which the face is found
    and the picture matches the renderer's (PSNR over 20 dB after VP8)."""
    scene = VideoScene("en", IdCardProp("Emily Carter", "X20481137", "1990-03-14"))

    async def run():
        server, trainee = RTCPeerConnection(), RTCPeerConnection()
        track = CustomerVideoTrack(scene=scene, fps=15)
        server.addTrack(track)
        got: asyncio.Future = asyncio.get_running_loop().create_future()
        trainee.on("track", lambda t: got.set_result(t) if not got.done() else None)
        await _connect(server, trainee)
        remote = await asyncio.wait_for(got, 10)
        frames = []
        while len(frames) < 25:
            frames.append(await asyncio.wait_for(remote.recv(), 10))
        sent = track.frames_sent
        await server.close()
        await trainee.close()
        return frames, sent

    frames, sent = asyncio.run(run())
    last = frames[-1]
    img = last.to_ndarray(format="bgr24")
    assert img.shape == (480, 640, 3) and sent >= 25
    assert analyse_frame(img).face
    expected = CustomerVideoRenderer(scene).frame(last.pts * float(last.time_base))
    assert cv2.PSNR(img, expected) > 20


def _watch(image: np.ndarray, seconds: float) -> tuple[dict, list]:
    """Send ``image`` as a trainee's camera to a server peer that watches it; return the summary and notes."""

    async def run():
        trainee, server = RTCPeerConnection(), RTCPeerConnection()
        trainee.addTrack(StillTrack(image))
        notes = []
        watch: dict = {}
        server.on(
            "track",
            lambda t: watch.setdefault(
                "task",
                asyncio.ensure_future(
                    watch_track(t, lambda ns, a: notes.extend(ns), rate=4, monitor=CameraMonitor(summary_every=1.0))
                ),
            ),
        )
        await _connect(trainee, server)
        await asyncio.sleep(seconds)
        await trainee.close()
        await server.close()  # ends the remote track: the watch returns its final summary
        return await asyncio.wait_for(watch["task"], 10), notes

    return asyncio.run(run())


def test_server_watch_finds_the_trainees_face():
    """A trainee facing the camera: samples at 4 fps, face present in nearly all, a settled ok hint, and
    periodic summary notes."""
    summary, notes = _watch(face_frame(), 3.0)
    assert summary["final"] and summary["samples"] >= 6
    assert summary["face_present_ratio"] >= 0.8 and summary["hint"] == "ok"
    assert [n.data["hint"] for n in notes if n.kind == "hint"] == ["ok"]
    assert 1 <= sum(n.kind == "summary" for n in notes) <= 3


def test_server_watch_notices_an_empty_seat():
    """Nobody in front of the camera: face-present ratio 0 and the no_face hint."""
    summary, notes = _watch(empty_frame(), 2.0)
    assert summary["samples"] >= 4 and summary["face_present_ratio"] == 0.0
    assert [n.data["hint"] for n in notes if n.kind == "hint"] == ["no_face"]
