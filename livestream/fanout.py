"""Encode-once fan-out of a published stream to many viewers.

aiortc's ``RTCRtpSender`` encodes for itself whenever its track returns ``av.Frame``s, so ``MediaRelay`` costs
one encode per viewer (DESIGN.md: a core holds 4-6 viewers at 480p). Here the publisher's video is decoded once
(by its receiver) and encoded once by one ``SharedVideoEncoder``; audio likewise by one ``SharedAudioEncoder``
(Opus). Their ``av.Packet``s go to sinks: the recorder, and ``LiveMedia``, which packetises each frame once and
sends it to every viewer (``livestream.rtpout``) and to the other media workers (``livestream.relay``).

Viewers' keyframe requests (a viewer joined or connected, a viewer's PLI/FIR) reach the shared encoder, which
grants at most one a second and forces one every ``KEYFRAME_SECONDS`` anyway; a viewer's stream starts at a
keyframe, so a late joiner starts cleanly at the next one.

What a packet costs per viewer is what decides the audience one core holds, so the shared encoders make few
packets: video at most ``max_fps`` frames a second (frames the camera sends faster are skipped before
encoding) and ``bitrate``; audio in ``frame_ms`` Opus frames (60 ms: a third of the packets of 20 ms frames).

Everything here runs on the media loop; nothing imports Flask.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

log = logging.getLogger(__name__)

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_RATE = 48000
KEYFRAME_SECONDS = 1.5
KEYFRAME_REQUEST_MIN_SECONDS = 1.0
# Defaults of the app's LIVESTREAM_VIDEO_KBPS / _VIDEO_FPS / _AUDIO_FRAME_MS (bench/README.md livestream_fanout).
VIDEO_BITRATE = 700_000
VIDEO_MAX_FPS = 20
AUDIO_FRAME_MS = 60

# How many encoders exist right now, by kind: the tests assert it does not grow with the audience.
ENCODERS_ALIVE: dict[str, int] = {"video": 0, "audio": 0}


class _SharedEncoder:
    """Reads one decoded source track, encodes each frame once, and hands the packets to every sink."""

    kind = ""

    def __init__(self, source: MediaStreamTrack) -> None:
        self.source = source
        self.sinks: set[Callable[[av.Packet | None], None]] = set()
        self.frame_taps: list[Callable[[av.Frame], None]] = []  # see decoded frames (recorder, analysis)
        self.frames_in = 0
        self.packets_made = 0
        self.ended = asyncio.Event()
        self._task: asyncio.Task | None = None
        ENCODERS_ALIVE[self.kind] += 1
        self._counted = True

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def add_sink(self, sink: Callable[[av.Packet | None], None]) -> None:
        self.sinks.add(sink)

    def remove_sink(self, sink: Callable[[av.Packet | None], None]) -> None:
        self.sinks.discard(sink)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    frame = await self.source.recv()
                except MediaStreamError:
                    break
                self.frames_in += 1
                for tap in list(self.frame_taps):
                    try:
                        tap(frame)
                    except Exception:  # a failing tap must not stop the broadcast
                        log.exception("frame tap failed")
                packets = await self._encode(loop, frame)
                for packet in packets:
                    self.packets_made += 1
                    for sink in list(self.sinks):
                        try:
                            sink(packet)
                        except Exception:  # one failing sink (a viewer, the relay) must not stop the others
                            log.exception("%s sink failed", self.kind)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("%s encoder stopped", self.kind)
        finally:
            for sink in list(self.sinks):
                sink(None)
            self._uncount()
            self.ended.set()

    async def _encode(self, loop, frame) -> list[av.Packet]:
        """Encode one decoded frame into packets (each kind's encoder says how)."""
        raise NotImplementedError  # the base is never used on its own: video and audio override this

    def _uncount(self) -> None:
        if self._counted:
            ENCODERS_ALIVE[self.kind] -= 1
            self._counted = False

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._uncount()


class SharedVideoEncoder(_SharedEncoder):
    """One VP8 encoder for the whole audience, with a keyframe every ``KEYFRAME_SECONDS`` and forwarded
    keyframe requests at most once a second."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, bitrate: int = VIDEO_BITRATE, max_fps: float = VIDEO_MAX_FPS) -> None:
        super().__init__(source)
        self.bitrate = bitrate
        self.interval = 1.0 / max_fps if max_fps else 0.0
        self._next_t: float | None = None  # the source time (seconds) from which the next frame is encoded
        self.frames_skipped = 0
        self.codec: av.VideoCodecContext | None = None
        self.size: tuple[int, int] | None = None
        self.keyframes = 0
        self._last_keyframe = -1e9
        self._last_request = -1e9
        self._requested = False

    def request_keyframe(self) -> bool:
        """Ask for the next frame to be a keyframe; ignored within a second of the last request granted."""
        now = time.monotonic()
        if now - self._last_request < KEYFRAME_REQUEST_MIN_SECONDS:
            return False
        self._last_request = now
        self._requested = True
        return True

    def _open(self, width: int, height: int) -> None:
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height = width, height
        codec.pix_fmt = "yuv420p"
        codec.bit_rate = self.bitrate
        codec.time_base = VIDEO_TIME_BASE
        codec.gop_size = 3000  # keyframes are forced by time, not by frame count (the frame rate varies)
        codec.qmin, codec.qmax = 2, 56
        codec.thread_count = 1
        # The same real-time settings aiortc's own Vp8Encoder uses.
        codec.options = {
            "bufsize": str(self.bitrate),
            "cpu-used": "-6",
            "deadline": "realtime",
            "lag-in-frames": "0",
            "minrate": str(self.bitrate),
            "maxrate": str(self.bitrate),
            "noise-sensitivity": "4",
            "overshoot-pct": "15",
            "partitions": "0",
            "static-thresh": "1",
            "undershoot-pct": "100",
        }
        self.codec = codec
        self.size = (width, height)
        self._last_keyframe = -1e9

    def _encode_sync(self, frame: av.VideoFrame, keyframe: bool) -> list[av.Packet]:
        if self.codec is None or self.size != (frame.width, frame.height):
            self._open(frame.width, frame.height)  # a new size starts a new stream, with a keyframe
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        pts, time_base = frame.pts, frame.time_base
        frame.pict_type = av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        frame.pts = int(pts * time_base / VIDEO_TIME_BASE) if pts is not None and time_base else None
        frame.time_base = VIDEO_TIME_BASE
        out = []
        for packet in self.codec.encode(frame):
            packet.pts = frame.pts
            packet.time_base = VIDEO_TIME_BASE
            out.append(packet)
        return out

    def _due(self, frame: av.VideoFrame) -> bool:
        """Keep at most ``max_fps`` frames a second of the camera's (by its own timestamps)."""
        if not self.interval or frame.pts is None or not frame.time_base:
            return True
        t = float(frame.pts * frame.time_base)
        due = self._next_t
        # Early by more than a tenth of an interval: skip. (Over a second early: the clock jumped; start over.)
        if due is not None and due - 1.0 < t < due - self.interval / 10:
            self.frames_skipped += 1
            return False
        behind = due is None or t < due - 1.0 or t - due > self.interval
        self._next_t = t + self.interval if behind else due + self.interval
        return True

    async def _encode(self, loop, frame) -> list[av.Packet]:
        if not self._due(frame):
            return []
        now = time.monotonic()
        keyframe = self._requested or now - self._last_keyframe >= KEYFRAME_SECONDS
        self._requested = False
        # libvpx releases the GIL: encode in a worker thread so the loop keeps serving every viewer meanwhile.
        packets = await loop.run_in_executor(None, self._encode_sync, frame, keyframe)
        if any(p.is_keyframe for p in packets):
            self._last_keyframe = now
            self.keyframes += 1
        return packets


class SharedAudioEncoder(_SharedEncoder):
    """One Opus encoder for the whole audience (stereo 48 kHz as aiortc's own encoder), in ``frame_ms`` frames
    (20, 40 or 60: RFC 7587 allows up to 120 ms a packet, and browsers' decoders take them)."""

    kind = "audio"

    def __init__(self, source: MediaStreamTrack, frame_ms: int = AUDIO_FRAME_MS) -> None:
        super().__init__(source)
        if frame_ms not in (10, 20, 40, 60):
            raise ValueError(f"an Opus frame is 10, 20, 40 or 60 ms, not {frame_ms}")
        self.frame_ms = frame_ms
        self.codec = av.CodecContext.create("libopus", "w")
        self.codec.bit_rate = 64000
        self.codec.sample_rate = AUDIO_RATE
        self.codec.layout = "stereo"
        self.codec.format = "s16"
        self.codec.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.codec.options = {"frame_duration": str(frame_ms)}
        samples = AUDIO_RATE * frame_ms // 1000
        self.resampler = av.AudioResampler(format="s16", layout="stereo", rate=AUDIO_RATE, frame_size=samples)

    async def _encode(self, loop, frame) -> list[av.Packet]:
        # 0.3 ms per frame (DESIGN.md): cheaper inline than a hop to a worker thread.
        out = []
        for f in self.resampler.resample(frame):
            for packet in self.codec.encode(f):
                packet.time_base = fractions.Fraction(1, AUDIO_RATE)
                out.append(packet)
        return out
