"""Analysis of a camera seen by the server (the trainee on a video call, the presenter of a livestream):
is a face there (OpenCV's frontal Haar cascade), is the picture too dark, is the face off-centre.

Three layers, so each caller takes what it needs:
- ``analyse_frame(frame)``: one frame -> FrameAnalysis (pure, thread-safe; ~10 ms on a 240-px-wide copy).
- ``CameraMonitor``: turns samples into the trainee's current hint (settled over a second, so it does not
  flicker) and into rate-limited notes worth recording: a note when the hint changes and a periodic summary
  (face-present ratio, too-dark and off-centre shares, mean brightness), never one per frame.
- ``watch_track(track, ...)``: on the media loop, drains an incoming aiortc video track (frames nobody reads
  pile up) and samples it at a low rate (2 fps by default); detection runs in a worker thread so the loop
  keeps serving packets. Returns the final summary when the track ends.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

log = logging.getLogger(__name__)

CASCADE = "haarcascade_frontalface_default.xml"
ANALYSIS_WIDTH = 240  # frames are shrunk to this width before detection: 7x fewer pixels than 640
DARK_BRIGHTNESS = 60.0  # mean luma (0..255) below which the picture is too dark
OFF_CENTRE_X = 0.35  # face centre further than this share of the half-width from the middle
OFF_CENTRE_Y = 0.5
HINTS = ("ok", "no_face", "too_dark", "off_centre")

_local = threading.local()


def _cascade() -> cv2.CascadeClassifier:
    """One classifier per thread: detectMultiScale keeps scratch state, so threads do not share one."""
    c = getattr(_local, "cascade", None)
    if c is None:
        c = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
        if c.empty():
            raise RuntimeError(f"cannot load {CASCADE} from {cv2.data.haarcascades}")
        _local.cascade = c
    return c


@dataclass(frozen=True)
class FrameAnalysis:
    """One sampled frame: ``face`` found (``box`` x, y, w, h in the frame's pixels), mean ``brightness``,
    ``offset`` of the face centre from the frame centre (-1..1 per axis), and the derived flags."""

    face: bool
    brightness: float
    box: tuple[int, int, int, int] | None = None
    offset: tuple[float, float] | None = None
    dark: bool = False
    off_centre: bool = False

    @property
    def hint(self) -> str:
        """What the trainee should fix first: too dark, then no face, then off-centre; else ok."""
        if self.dark:
            return "too_dark"
        if not self.face:
            return "no_face"
        if self.off_centre:
            return "off_centre"
        return "ok"


def analyse_frame(frame: np.ndarray) -> FrameAnalysis:
    """Analyse one frame (BGR HxWx3 or grey HxW, uint8)."""
    gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    brightness = float(gray.mean())
    scale = ANALYSIS_WIDTH / w if w > ANALYSIS_WIDTH else 1.0
    small = cv2.resize(gray, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else gray
    # Equalising lets a dim but visible face still be found; "too dark" is judged on the raw brightness.
    small = cv2.equalizeHist(small)
    min_side = max(24, int(0.15 * small.shape[1]))  # a face under 15% of the width is too far away anyway
    faces = _cascade().detectMultiScale(small, scaleFactor=1.2, minNeighbors=4, minSize=(min_side, min_side))
    dark = brightness < DARK_BRIGHTNESS
    if len(faces) == 0:
        return FrameAnalysis(False, round(brightness, 1), dark=dark)
    x, y, fw, fh = max(faces, key=lambda f: f[2] * f[3])
    box = tuple(int(round(v / scale)) for v in (x, y, fw, fh))
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    offset = (round((cx - w / 2) / (w / 2), 3), round((cy - h / 2) / (h / 2), 3))
    off = abs(offset[0]) > OFF_CENTRE_X or abs(offset[1]) > OFF_CENTRE_Y
    return FrameAnalysis(True, round(brightness, 1), box, offset, dark, off)


@dataclass(frozen=True)
class CameraNote:
    """Something worth recording: ``kind`` "hint" (the settled hint changed) or "summary" (periodic)."""

    kind: str
    at: float
    data: dict


class CameraMonitor:
    """Aggregates samples of one camera. ``feed`` returns the notes to record (usually none).

    The hint shown to the trainee changes only after ``settle_samples`` samples in a row agree, and a summary
    note is due every ``summary_every`` seconds.
    """

    def __init__(self, *, summary_every: float = 30.0, settle_samples: int = 2):
        self.summary_every = summary_every
        self.settle_samples = max(1, settle_samples)
        self.samples = 0
        self.with_face = 0
        self.dark = 0
        self.off_centre = 0
        self._brightness_sum = 0.0
        self.hint: str | None = None  # the settled hint (None before the first settles)
        self._candidate: str | None = None
        self._candidate_runs = 0
        self.started_at: float | None = None
        self.last_at: float | None = None
        self._last_summary_at: float | None = None

    def feed(self, a: FrameAnalysis, at: float) -> list[CameraNote]:
        """Count one sample taken at ``at`` (seconds, any monotonic origin)."""
        if self.started_at is None:
            self.started_at = self._last_summary_at = at
        self.last_at = at
        self.samples += 1
        self.with_face += a.face
        self.dark += a.dark
        self.off_centre += a.off_centre
        self._brightness_sum += a.brightness
        notes = []
        hint = a.hint
        if hint == self._candidate:
            self._candidate_runs += 1
        else:
            self._candidate, self._candidate_runs = hint, 1
        if self._candidate_runs >= self.settle_samples and hint != self.hint:
            previous, self.hint = self.hint, hint
            notes.append(CameraNote("hint", at, {"hint": hint, "previous": previous, **self._sample_data(a)}))
        if at - self._last_summary_at >= self.summary_every:
            self._last_summary_at = at
            notes.append(CameraNote("summary", at, self.summary()))
        return notes

    @staticmethod
    def _sample_data(a: FrameAnalysis) -> dict:
        return {"brightness": a.brightness, "offset": list(a.offset) if a.offset else None}

    def summary(self, final: bool = False) -> dict:
        """The figures so far (JSON-able): samples, face-present ratio, dark and off-centre ratios, mean
        brightness, seconds covered, and the current hint."""
        n = self.samples
        return {
            "samples": n,
            "face_present_ratio": round(self.with_face / n, 3) if n else None,
            "dark_ratio": round(self.dark / n, 3) if n else None,
            "off_centre_ratio": round(self.off_centre / n, 3) if n else None,
            "mean_brightness": round(self._brightness_sum / n, 1) if n else None,
            "seconds": round((self.last_at - self.started_at), 1) if n else 0.0,
            "hint": self.hint,
            "final": final,
        }


async def watch_track(
    track,
    on_notes: Callable[[list[CameraNote], FrameAnalysis], None],
    *,
    rate: float = 2.0,
    monitor: CameraMonitor | None = None,
    now: Callable[[], float] = time.monotonic,
    on_frame: Callable[[object], None] | None = None,
) -> dict:
    """Read every frame of an incoming video ``track`` until it ends; analyse ``rate`` frames a second in a
    worker thread and call ``on_notes(notes, analysis)`` after each sample (on the loop, so it must be quick:
    hand DB writes to a thread). ``on_frame(frame)``, if given, sees every frame (a video call records and
    relays the same camera). Returns the monitor's final summary."""
    from aiortc.mediastreams import MediaStreamError

    monitor = monitor or CameraMonitor()
    loop = asyncio.get_running_loop()
    interval = 1.0 / rate
    next_at = 0.0
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            break
        if on_frame is not None:
            try:
                on_frame(frame)
            except Exception:
                log.exception("camera frame callback failed")
        t = now()
        if t < next_at:
            continue
        next_at = t + interval
        try:
            gray = frame.to_ndarray(format="gray")
            analysis = await loop.run_in_executor(None, analyse_frame, gray)
        except Exception:  # one bad frame must not end the watch
            log.exception("camera frame analysis failed")
            continue
        try:
            on_notes(monitor.feed(analysis, t), analysis)
        except Exception:
            log.exception("camera notes callback failed")
    return monitor.summary(final=True)
