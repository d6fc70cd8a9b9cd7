"""Relaying a person's camera through the server to the other party of a video call (role-play: the customer
in a second browser and the trainee see each other).

aiortc decodes every incoming track (DESIGN.md), so a relay is decode -> re-encode; ``RelayVideoTrack`` keeps
the cost bounded by sending at most ``fps`` frames a second, whatever the camera sends. Its source can come
and go (the trainee's peer is replaced after a transfer, the customer may join before the agent answers):
``push(frame)`` hands it the latest frame of whoever is the source now; with nothing new it simply waits.
Lives on the media loop only.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Callable

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

log = logging.getLogger(__name__)

VIDEO_CLOCK_RATE = 90000
DEFAULT_RELAY_FPS = 15


PLANE_FORMATS = ("yuv420p", "bgr24", "rgb24", "gray")  # copied plane by plane, without swscale


def private_copy(frame: VideoFrame) -> VideoFrame:
    """A new frame with its own pixels. One frame is often used by several threads at once (the loop's camera
    analysis, aiortc's encoder threads, the recorder's): PyAV scales a frame with a scaler kept on the frame
    and changes the frame's fields while it does, and two threads scaling the same frame have hung in swscale.
    Reading the planes is safe, so each user copies the frame first and scales its own copy."""
    name = frame.format.name
    if name in PLANE_FORMATS:
        return VideoFrame.from_ndarray(frame.to_ndarray(), format=name)
    return VideoFrame.from_ndarray(frame.to_ndarray(format="bgr24"), format="bgr24")  # decoders give yuv420p


class RelayVideoTrack(MediaStreamTrack):
    """An outgoing video track fed from elsewhere: ``push(frame)`` keeps the latest frame; ``recv`` returns
    each new frame at most ``fps`` times a second, restamped on this track's own clock (sources change, their
    timestamps do not continue). ``frames_sent`` counts what went out."""

    kind = "video"

    def __init__(self, fps: int = DEFAULT_RELAY_FPS) -> None:
        super().__init__()
        if not 1 <= int(fps) <= 30:
            raise ValueError(f"fps must be 1..30, not {fps!r}")
        self.fps = int(fps)
        self.frames_sent = 0
        self.frames_pushed = 0
        self._latest: VideoFrame | None = None
        self._fresh = asyncio.Event()
        self._start: float | None = None
        self._next_at = 0.0
        self._time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)

    def push(self, frame: VideoFrame) -> None:
        self._latest = frame
        self.frames_pushed += 1
        self._fresh.set()

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        wait = self._next_at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        await self._fresh.wait()
        self._fresh.clear()
        if self.readyState != "live" or self._latest is None:
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        self._next_at = now + 1.0 / self.fps
        frame = private_copy(self._latest)  # the source frame is shared with the recorder's thread
        frame.pts = int((now - self._start) * VIDEO_CLOCK_RATE)
        frame.time_base = self._time_base
        self.frames_sent += 1
        return frame

    def stop(self) -> None:
        super().stop()
        self._fresh.set()  # a recv waiting for a frame ends now


async def read_frames(track, on_frame: Callable[[VideoFrame], None]) -> int:
    """Read every frame of an incoming video ``track`` until it ends (frames nobody reads pile up in
    memory), handing each to ``on_frame`` (on the loop: it must be quick). Returns how many were read."""
    n = 0
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return n
        n += 1
        try:
            on_frame(frame)
        except Exception:
            log.exception("video frame callback failed")
