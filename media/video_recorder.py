"""Video recording of a call: each party's camera to its own VP8 WebM file (video only), on the same 20 ms
media tick as the audio recording, so the grader's player can line the pictures up with ``call.wav``.

Why this shape:
- One file per leg, video only: ``MediaRecorder`` writing audio and video into one WebM can lose the video
  (DESIGN.md facts); the audio is already recorded as WAV.
- Small and slow on purpose (320x240, 10 fps, ~150 kbit/s, libvpx in real-time mode): a recording is for
  review, and encoding costs a few per cent of a core per call instead of the 17 % of a live 480p stream.
- Frames are sampled on the media tick, not as they arrive: every 5th tick (100 ms) each leg's latest frame is
  written with the slot's index as its timestamp. A file is therefore constant-rate and wall-clock long, frame
  *n* is at ``offset + n / fps`` seconds of the audio recording, and a camera that stalls or leaves (a transfer's
  wait) shows as a held picture, then black, instead of shifting everything after it.
- Encoding runs on one thread per leg (``concurrency.thread_pool_executor``), never on the media loop; a leg
  that falls behind drops slots (counted) rather than piling up frames in memory.
- A cut-off file stays usable: clusters are closed every second and flushed, so a process that dies mid-call
  leaves a WebM playable up to about then; ``repair_webm`` (run at the next start) rewrites it with its
  duration and cues, which browsers need to seek.
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import logging
import os
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from av import VideoFrame
from av.video.reformatter import VideoReformatter

from concurrency import thread_pool_executor

from .video_relay import private_copy

log = logging.getLogger(__name__)

RECORD_WIDTH, RECORD_HEIGHT = 320, 240
RECORD_FPS = 10
TICKS_PER_FRAME = 5  # 20 ms media ticks per recorded frame: 10 fps
STALE_TICKS = 50  # a camera silent for 1 s is recorded black from then on
BIT_RATE = 150_000
KEYFRAME_EVERY = 20  # frames (2 s): a seek lands close, and a cut-off file loses little
MAX_PENDING = 20  # frames waiting for a leg's encoder (2 s) before slots are dropped
MUXER_OPTIONS = {"cluster_time_limit": "1000", "flush_packets": "1"}


def _leg_file(leg: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in leg)
    return f"{safe}-video.webm"


class WebmWriter:
    """One camera to a VP8 WebM, video only. ``write(frame, index)`` puts ``frame`` (any size and pixel
    format; None for black) at slot ``index`` (1/fps units from the file's start). Not thread-safe: one
    thread writes."""

    def __init__(self, path, *, width: int = RECORD_WIDTH, height: int = RECORD_HEIGHT, fps: int = RECORD_FPS):
        self.path = Path(path)
        self.width, self.height, self.fps = width, height, fps
        self.frames = 0
        self.last_index = -1
        self._time_base = fractions.Fraction(1, fps)  # frame timestamps count slots
        self._container = av.open(str(self.path), mode="w", format="webm", options=dict(MUXER_OPTIONS))
        try:
            stream = self._container.add_stream("libvpx", rate=fps)
            ctx = stream.codec_context
            ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
            ctx.bit_rate = BIT_RATE
            ctx.time_base = self._time_base
            ctx.gop_size = KEYFRAME_EVERY
            ctx.thread_count = 1
            # Real-time mode at the fastest speed, no look-ahead: each frame is out (and on disk) at once.
            ctx.options = {"deadline": "realtime", "cpu-used": "16", "lag-in-frames": "0", "static-thresh": "100"}
        except Exception:
            self._container.close()
            raise
        self._stream = stream
        self._scaler = VideoReformatter()
        self._black = VideoFrame.from_ndarray(np.zeros((height, width, 3), dtype=np.uint8), format="bgr24").reformat(
            format="yuv420p"
        )
        self.closed = False

    def _fit(self, frame: VideoFrame | None) -> VideoFrame:
        if frame is None:
            return self._black
        # Our own copy and our own single-threaded scaler: the frame itself is shared with other threads.
        return self._scaler.reformat(private_copy(frame), self.width, self.height, "yuv420p", threads=1)

    def write(self, frame: VideoFrame | None, index: int) -> None:
        if self.closed or index <= self.last_index:
            return
        out = self._fit(frame)
        out.pts = index
        out.time_base = self._time_base
        for packet in self._stream.encode(out):
            self._container.mux(packet)
        self.frames += 1
        self.last_index = index

    @property
    def seconds(self) -> float:
        return (self.last_index + 1) / self.fps

    def close(self) -> None:
        """Flush the encoder and write the trailer (duration and cues); idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()


class _Leg:
    """One leg's state on the media loop: its latest frame, its writer (opened with the first frame) and the
    thread that encodes for it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.latest: VideoFrame | None = None
        self.latest_tick = -1
        self.start_slot: int | None = None  # audio frame index of the file's first frame
        self.writer: WebmWriter | None = None
        self.executor = None
        self.pending: collections.deque = collections.deque()
        self.dropped = 0
        self.failed: str | None = None


class CallVideoRecorder:
    """A call's cameras to ``directory/<leg>-video.webm``.

    On the media loop: ``feed(leg, frame)`` for every incoming or rendered frame (cheap: it keeps a
    reference); ``tick(audio_index)`` once per media tick with the index of the audio frame just recorded
    (the CallRecorder's ``frames - 1``). ``on_started(leg, path, offset)`` is called when a leg's file begins,
    ``offset`` in seconds from the audio recording's start. A leg with ``max_pending`` frames waiting for its
    encoder skips slots (counted as ``dropped``). ``await close()`` finishes every file.
    """

    def __init__(
        self,
        directory,
        *,
        on_started: Callable[[str, Path, float], None] | None = None,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.directory = Path(directory)
        self.on_started = on_started
        self.max_pending = max_pending
        self.legs: dict[str, _Leg] = {}
        self.ticks = 0
        self.closed = False

    def feed(self, leg: str, frame: VideoFrame) -> None:
        if self.closed:
            return
        state = self.legs.get(leg)
        if state is None:
            state = self.legs[leg] = _Leg(leg)
        state.latest = frame
        state.latest_tick = self.ticks

    def tick(self, audio_index: int) -> None:
        if self.closed:
            return
        self.ticks += 1
        if audio_index < 0 or audio_index % TICKS_PER_FRAME:
            return
        for state in self.legs.values():
            if state.latest is None or state.failed:
                continue
            if state.writer is None and state.start_slot is None:
                self._open(state, audio_index)
            fresh = self.ticks - state.latest_tick <= STALE_TICKS
            index = (audio_index - state.start_slot) // TICKS_PER_FRAME
            while state.pending and state.pending[0].done():
                state.pending.popleft()
            if len(state.pending) >= self.max_pending:
                state.dropped += 1
                continue
            state.pending.append(state.executor.submit(self._write, state, state.latest if fresh else None, index))

    def _open(self, state: _Leg, audio_index: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        state.start_slot = audio_index
        state.executor = thread_pool_executor(1, thread_name_prefix=f"video-rec-{state.name}")
        path = self.directory / _leg_file(state.name)
        state.pending.append(state.executor.submit(self._create, state, path))
        if self.on_started is not None:
            try:
                self.on_started(state.name, path, round(audio_index * 0.02, 3))
            except Exception:
                log.exception("video recording start callback failed")

    @staticmethod
    def _create(state: _Leg, path: Path) -> None:
        try:
            state.writer = WebmWriter(path)
        except Exception as e:
            state.failed = f"could not open {path.name}: {e}"
            log.exception("video recording of leg %s could not start", state.name)

    @staticmethod
    def _write(state: _Leg, frame: VideoFrame | None, index: int) -> None:
        if state.writer is None or state.failed:
            return
        try:
            state.writer.write(frame, index)
        except Exception as e:  # a bad frame or a full disk: stop this leg, keep what is written
            state.failed = f"writing failed: {e}"
            log.exception("video recording of leg %s failed", state.name)
            CallVideoRecorder._finish(state)

    @staticmethod
    def _finish(state: _Leg) -> None:
        if state.writer is not None:
            try:
                state.writer.close()
            except Exception:
                log.exception("closing the video recording of leg %s failed", state.name)

    async def close(self, relative_to=None) -> dict:
        """Write what is queued, close every file and return ``files()``. Idempotent."""
        if not self.closed:
            self.closed = True
            loop = asyncio.get_running_loop()
            waits = []
            for state in self.legs.values():
                if state.executor is not None:
                    waits.append(asyncio.wrap_future(state.executor.submit(self._finish, state), loop=loop))
            if waits:
                await asyncio.gather(*waits, return_exceptions=True)
            for state in self.legs.values():
                if state.executor is not None:
                    state.executor.shutdown(wait=False)
                state.latest = None
        return self.files(relative_to)

    def files(self, relative_to=None) -> dict:
        """``{leg: {"path", "offset", "frames", "seconds", "dropped", "error"}}`` for every leg that has a file."""
        out = {}
        for name, state in self.legs.items():
            if state.start_slot is None:
                continue
            path = self.directory / _leg_file(name)
            w = state.writer
            out[name] = {
                "path": str(path.relative_to(relative_to)) if relative_to else str(path),
                "offset": round(state.start_slot * 0.02, 3),
                "frames": w.frames if w else 0,
                "seconds": round(w.seconds, 2) if w else 0.0,
                "dropped": state.dropped,
                "error": state.failed,
            }
        return out


def webm_info(path) -> dict:
    """Frames, duration (seconds) and size of a recorded WebM, by reading its packets."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames, last = 0, None
        for packet in c.demux(stream):
            if packet.pts is None:
                continue
            frames += 1
            last = packet.pts if last is None else max(last, packet.pts)
        tb = stream.time_base
        duration = float(c.duration / av.time_base) if c.duration else None
        end = float((last or 0) * tb) + (1 / RECORD_FPS if frames else 0.0)
        return {
            "frames": frames,
            "seconds": round(end, 3),
            "duration": duration,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
        }


def repair_webm(path) -> float | None:
    """Make a WebM whose writer died mid-call complete again: copy every whole frame it holds into a new file
    (which gets the duration and the cues a browser needs to seek) and put it in place. Returns the seconds
    kept, or None when nothing could be read (the file is left as it was)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".repair")
    try:
        src = av.open(str(path))
    except (OSError, av.error.FFmpegError):
        return None
    kept, last = 0, None
    try:
        if not src.streams.video:
            return None
        stream = src.streams.video[0]
        with av.open(str(tmp), mode="w", format="webm") as dst:
            out = dst.add_stream_from_template(stream)
            try:
                for packet in src.demux(stream):
                    if packet.pts is None:
                        continue
                    packet.stream = out
                    dst.mux(packet)
                    kept += 1
                    last = packet.pts
            except (av.error.FFmpegError, EOFError):  # the cut-off tail
                pass
        tb = stream.time_base
    except (OSError, av.error.FFmpegError):
        log.exception("repairing %s failed", path)
        tmp.unlink(missing_ok=True)
        return None
    finally:
        src.close()
    if not kept:
        tmp.unlink(missing_ok=True)
        return None
    os.replace(tmp, path)
    return round(float(last * tb) + 1 / RECORD_FPS, 3)
