"""aiortc publisher and viewer peers for the livestream tests and the bench (real WebRTC, in-process)."""

from __future__ import annotations

import asyncio
import fractions
import time

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack

from media.video_render import draw_face


class MovingPicture(VideoStreamTrack):
    """640x480 frames of a presenter: a face (the video helper's ``draw_face``, which Haar detects) and a moving
    bar, so the encoder has real work to do every frame."""

    def __init__(self, width=640, height=480):
        super().__init__()
        self.width, self.height = width, height
        self.n = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        img = np.full((self.height, self.width, 3), 90, np.uint8)
        x = (self.n * 8) % self.width
        img[:, x : x + 40] = (40, 200, 240)
        draw_face(img, self.width // 2, self.height // 2, self.height // 6)
        self.n += 1
        frame = av.VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class Tone(MediaStreamTrack):
    """A 440 Hz tone at about -12 dBFS, paced 20 ms frames of 48 kHz mono."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self.t = 0
        self.start: float | None = None

    async def recv(self):
        if self.start is None:
            self.start = time.time()
        wait = self.start + self.t / 48000 - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        n = 960
        t = (np.arange(n) + self.t) / 48000
        pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16).reshape(1, -1)
        out = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        out.sample_rate, out.pts, out.time_base = 48000, self.t, fractions.Fraction(1, 48000)
        self.t += n
        return out


async def offer_of(pc: RTCPeerConnection) -> dict:
    await pc.setLocalDescription(await pc.createOffer())
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


async def start_publisher(publish) -> RTCPeerConnection:
    """A presenter: camera and microphone sent to ``publish(offer) -> answer``."""
    pc = RTCPeerConnection()
    pc.addTrack(MovingPicture())
    pc.addTrack(Tone())
    answer = await publish(await offer_of(pc))
    await pc.setRemoteDescription(RTCSessionDescription(**answer))
    return pc


class Viewer:
    """A receive-only viewer that counts the frames it decodes (and when the first one came)."""

    def __init__(self):
        self.pc = RTCPeerConnection()
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        self.video_frames = 0
        self.audio_frames = 0
        self.first_video_at: float | None = None
        self.size = None
        self.ended = asyncio.Event()
        self._tasks = []
        self.first_video_payload: bytes | None = None  # the first VP8 RTP payload that arrived
        self.video_rtp_packets = 0
        for t in self.pc.getTransceivers():
            if t.kind == "video":
                self._spy(t.receiver)

        @self.pc.on("track")
        def on_track(track):
            self._tasks.append(asyncio.ensure_future(self._read(track)))

    def _spy(self, receiver):
        """Keep the first video payload as it came off the wire (did the stream start at a keyframe?)."""
        own = receiver._handle_rtp_packet

        async def handle(packet, arrival_time_ms):
            self.video_rtp_packets += 1
            if self.first_video_payload is None:
                self.first_video_payload = packet.payload
            await own(packet, arrival_time_ms)

        receiver._handle_rtp_packet = handle

    def started_on_keyframe(self) -> bool:
        """The first VP8 payload begins a frame (S bit) whose P bit says keyframe (RFC 6386 9.1: 0 = key)."""
        from aiortc.codecs.vpx import VpxPayloadDescriptor

        if not self.first_video_payload:
            return False
        descriptor, data = VpxPayloadDescriptor.parse(self.first_video_payload)
        return descriptor.partition_start == 1 and (data[0] & 0x01) == 0

    async def _read(self, track):
        try:
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    self.video_frames += 1
                    self.size = (frame.width, frame.height)
                    if self.first_video_at is None:
                        self.first_video_at = time.monotonic()
                else:
                    self.audio_frames += 1
        except MediaStreamError:
            self.ended.set()

    async def connect(self, watch) -> None:
        answer = await watch(await offer_of(self.pc))
        await self.pc.setRemoteDescription(RTCSessionDescription(**answer))

    async def close(self):
        for t in self._tasks:
            t.cancel()
        await self.pc.close()


async def wait_for(cond, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await asyncio.sleep(step)
    return cond()
