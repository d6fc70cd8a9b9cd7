"""Voice activity and turn detection on a call leg (webrtcvad, 30 ms frames at 16 kHz).

``TurnDetector`` turns a stream of PCM chunks into ``speech_start`` / ``speech_end`` events with hysteresis:
speech starts after ``start_speech_ms`` of voiced frames in a row (a click or a breath does not open a turn),
and ends only after ``end_silence_ms`` of unvoiced frames in a row (a pause between words or to think does not
end it). Event times are the sandbox times of the audio itself: a start is stamped at its first voiced frame,
an end at the end of the last voiced frame, not when the hysteresis finally decided.

``speech_segments`` is the same logic over a whole recorded leg (used by ``media.call_metrics``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import webrtcvad

VAD_RATE = 16000
FRAME_MS = 30
FRAME_SAMPLES = VAD_RATE * FRAME_MS // 1000  # 480
FRAME_S = FRAME_MS / 1000
# webrtcvad keeps saying "speech" for a few frames after speech stops (its hangover). A frame also needs some
# energy, at least LEVEL_FLOOR of the leg's running speech level (-20 dB) and ABS_FLOOR, so those tail frames
# (and line noise the VAD takes for speech) are not counted as talk.
ABS_FLOOR = 60.0
LEVEL_FLOOR = 0.1


@dataclass(frozen=True)
class TurnEvent:
    """A change in whether this leg is speaking, at sandbox time ``at`` (seconds)."""

    kind: Literal["speech_start", "speech_end"]
    at: float


def to_vad_rate(pcm: np.ndarray, sample_rate: int) -> np.ndarray:
    """int16 mono at ``sample_rate`` -> int16 mono at 16 kHz. 48 kHz (WebRTC) is averaged in threes, which
    is also a crude low-pass; other rates are linearly interpolated."""
    pcm = np.asarray(pcm)
    if pcm.ndim != 1:
        raise ValueError("pcm must be mono (a 1-D array)")
    if sample_rate == VAD_RATE:
        return pcm.astype(np.int16, copy=False)
    if sample_rate == 3 * VAD_RATE:
        n = pcm.size // 3 * 3
        return pcm[:n].astype(np.int32).reshape(-1, 3).mean(axis=1).astype(np.int16)
    from .tts import resample

    return resample(pcm.astype(np.int16, copy=False), sample_rate, VAD_RATE)


class TurnDetector:
    """Detects when one leg starts and stops speaking.

    ``sample_rate`` is the rate of the PCM given to ``feed`` (48 kHz from WebRTC); ``mode`` is webrtcvad's
    aggressiveness 0..3. Feed contiguous chunks; ``at`` is the sandbox time of a chunk's first sample. When
    a chunk arrives later than the audio so far accounts for (a gap in the stream), the gap counts as silence.
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        mode: int = 2,
        end_silence_ms: int = 700,
        start_speech_ms: int = 90,
    ):
        if sample_rate <= 0:
            raise ValueError("sample_rate must be positive")
        self.sample_rate = sample_rate
        self.vad = webrtcvad.Vad(mode)
        self.end_frames = max(1, round(end_silence_ms / FRAME_MS))
        self.start_frames = max(1, round(start_speech_ms / FRAME_MS))
        self._src = np.zeros(0, np.int16)  # input samples not yet converted (a multiple of 3 at 48 kHz)
        self._buf = np.zeros(0, np.int16)  # 16 kHz samples not yet framed
        self._t: float | None = None  # sandbox time of the next unframed 16 kHz sample
        self.speaking = False
        self._voiced_run = 0
        self._silent_run = 0
        self._run_start = 0.0  # first frame of the current voiced run
        self._last_voiced_end = 0.0
        self._level = 0.0  # running RMS of voiced frames

    def feed(self, pcm: np.ndarray, at: float) -> list[TurnEvent]:
        """Add a chunk of int16 mono PCM whose first sample is at sandbox time ``at``; return the turn
        events it completes."""
        pcm = np.asarray(pcm)
        if pcm.dtype != np.int16:
            raise ValueError(f"pcm must be int16, not {pcm.dtype}")
        events: list[TurnEvent] = []
        expected = self._expected_time()
        if expected is None:
            self._t = at
        elif at - expected > FRAME_S:
            events += self._silence_until(at)
        if self.sample_rate == VAD_RATE:  # the media tick's 16 kHz frames: no conversion, one copy
            self._buf = np.concatenate([self._buf, pcm.reshape(-1)]) if self._buf.size else pcm.reshape(-1)
        else:
            self._src = np.concatenate([self._src, pcm.reshape(-1)])
            step = 3 if self.sample_rate == 3 * VAD_RATE else 1
            usable = self._src.size // step * step
            if usable:
                self._buf = np.concatenate([self._buf, to_vad_rate(self._src[:usable], self.sample_rate)])
                self._src = self._src[usable:]
        n_frames = self._buf.size // FRAME_SAMPLES
        for i in range(n_frames):
            frame = self._buf[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
            events += self._frame(self._voiced(frame))
        self._buf = self._buf[n_frames * FRAME_SAMPLES :]
        return events

    def pause(self) -> tuple[float, float] | None:
        """Within a turn, after some silence: (seconds of silence so far, sandbox time the speech stopped);
        None outside a turn or while voiced. Lets a listener start work before the turn is declared over."""
        if not self.speaking or self._silent_run == 0:
            return None
        return self._silent_run * FRAME_S, round(self._last_voiced_end, 3)

    def close(self, at: float | None = None) -> list[TurnEvent]:
        """The leg ended (hang-up): a turn still open ends at its last voiced frame."""
        if self.speaking:
            self.speaking = False
            self._voiced_run = self._silent_run = 0
            return [TurnEvent("speech_end", round(self._last_voiced_end, 3))]
        return []

    # -- internals --------------------------------------------------------------------------------------

    def _expected_time(self) -> float | None:
        if self._t is None:
            return None
        pending = self._buf.size / VAD_RATE + self._src.size / self.sample_rate
        return self._t + pending

    def _silence_until(self, at: float) -> list[TurnEvent]:
        """A gap in the stream: frame what is buffered, then count whole silent frames up to ``at``."""
        events: list[TurnEvent] = []
        pad = (-self._buf.size) % FRAME_SAMPLES
        if self._buf.size:
            frame = np.concatenate([self._buf, np.zeros(pad, np.int16)])
            events += self._frame(self._voiced(frame))
        self._buf = np.zeros(0, np.int16)
        self._src = np.zeros(0, np.int16)
        while self._t is not None and self._t + FRAME_S <= at:
            events += self._frame(False)
        self._t = at
        return events

    def _voiced(self, frame: np.ndarray) -> bool:
        x = frame.astype(np.float32)
        rms = float(np.sqrt(np.dot(x, x) / x.size))
        if rms < max(ABS_FLOOR, LEVEL_FLOOR * self._level) or not self.vad.is_speech(frame.tobytes(), VAD_RATE):
            return False
        self._level = rms if self._level == 0 else 0.9 * self._level + 0.1 * rms
        return True

    def _frame(self, voiced: bool) -> list[TurnEvent]:
        t0 = self._t
        self._t = t0 + FRAME_S
        if voiced:
            if self._voiced_run == 0:
                self._run_start = t0
            self._voiced_run += 1
            self._silent_run = 0
            self._last_voiced_end = t0 + FRAME_S
            if not self.speaking and self._voiced_run >= self.start_frames:
                self.speaking = True
                return [TurnEvent("speech_start", round(self._run_start, 3))]
            return []
        self._voiced_run = 0
        self._silent_run += 1
        if self.speaking and self._silent_run >= self.end_frames:
            self.speaking = False
            return [TurnEvent("speech_end", round(self._last_voiced_end, 3))]
        return []


def speech_segments(
    pcm: np.ndarray,
    sample_rate: int,
    *,
    mode: int = 2,
    end_silence_ms: int = 700,
    start_speech_ms: int = 90,
    offset: float = 0.0,
) -> list[tuple[float, float]]:
    """The (start, end) seconds of each turn of speech in a whole recorded leg, ``offset`` added."""
    det = TurnDetector(sample_rate, mode, end_silence_ms, start_speech_ms)
    events = det.feed(np.asarray(pcm, dtype=np.int16), offset)
    events += det.close()
    segments: list[tuple[float, float]] = []
    start: float | None = None
    for ev in events:
        if ev.kind == "speech_start":
            start = ev.at
        elif start is not None:
            segments.append((start, ev.at))
            start = None
    return segments
