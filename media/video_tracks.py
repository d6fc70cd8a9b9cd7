"""CustomerVideoTrack: the simulated customer's camera, an aiortc VideoStreamTrack producing the frames of a
CustomerVideoRenderer at a modest rate (15 fps by default: VP8 at 480p costs about half as much as at 30).

It lives on the media loop like every aiortc object; the call changes what it shows through the renderer's
``speaking`` and ``prop_visible`` flags (plain attributes, set on the loop).
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time

from aiortc import VideoStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from .video_render import CustomerVideoRenderer, VideoScene

log = logging.getLogger(__name__)

VIDEO_CLOCK_RATE = 90000  # RTP's video clock
DEFAULT_FPS = 15


class CustomerVideoTrack(VideoStreamTrack):
    """Frames of ``renderer`` (or of a renderer built for ``scene``), ``fps`` a second, paced in real time.
    ``frames_sent`` counts what was produced (tests and the bench read it)."""

    def __init__(
        self, renderer: CustomerVideoRenderer | None = None, *, scene: VideoScene | None = None, fps: int = DEFAULT_FPS
    ):
        super().__init__()
        if renderer is None:
            renderer = CustomerVideoRenderer(scene or VideoScene())
        if not 1 <= int(fps) <= 30:
            raise ValueError(f"fps must be 1..30, not {fps!r}")
        self.renderer = renderer
        self.fps = int(fps)
        self.frames_sent = 0
        self.speaking_source = None  # callable() -> bool: is the customer's voice sounding now (moves the mouth)
        self.on_frame = None  # callable(frame): sees every frame sent (the call's video recording)
        self._step = VIDEO_CLOCK_RATE // self.fps
        self._time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        self._start: float | None = None
        self._pts = 0

    async def next_timestamp(self) -> tuple[int, fractions.Fraction]:
        """Our own pacing: aiortc's VideoStreamTrack always paces at 30 fps."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
            self._pts = 0
        else:
            self._pts += self._step
            wait = self._start + self._pts / VIDEO_CLOCK_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        return self._pts, self._time_base

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        if self.speaking_source is not None:
            self.renderer.speaking = bool(self.speaking_source())
        frame = VideoFrame.from_ndarray(self.renderer.frame(pts / VIDEO_CLOCK_RATE), format="bgr24")
        frame.pts = pts
        frame.time_base = time_base
        self.frames_sent += 1
        if self.on_frame is not None:
            try:
                self.on_frame(frame)
            except Exception:  # the recording must never stop the customer's camera
                log.exception("customer video frame callback failed")
        return frame
