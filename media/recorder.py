"""Call recording: each leg to its own mono WAV, plus one stereo WAV (left agent, right customer) for playback.

WAV, not webm/Ogg: writing PCM costs almost nothing (DESIGN.md facts) and a WAV cut off mid-call is still a
WAV once its header sizes are right. The header is rewritten every second while recording, so a server that
dies mid-call leaves files playable up to the last second; ``repair_wav`` fixes the rest at the next start.

All legs are written on the same media tick, so sample n of every file is the same moment of the call: the
grader's timeline lines up with ``started_at`` (sandbox clock) plus n / rate.
"""

from __future__ import annotations

import os
import struct
import wave
from pathlib import Path

import numpy as np

from .audio import FRAME_SAMPLES, RECORD_RATE, SILENCE_16K, to_16k

HEADER_BYTES = 44
FLUSH_EVERY_FRAMES = 50  # 1 s of 20 ms frames


def _header(channels: int, rate: int, data_bytes: int) -> bytes:
    block = channels * 2
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        channels,
        rate,
        rate * block,
        block,
        16,
        b"data",
        data_bytes,
    )


class WavWriter:
    """A 16-bit PCM WAV written incrementally with its header kept valid (``sync``)."""

    def __init__(self, path: str | os.PathLike, channels: int = 1, rate: int = RECORD_RATE) -> None:
        self.path = Path(path)
        self.channels = channels
        self.rate = rate
        self.data_bytes = 0
        self._file = open(self.path, "wb")  # noqa: SIM115  (kept open for the call's length)
        self._file.write(_header(channels, rate, 0))
        # On disk at once: a process killed before its first sync (or before the buffer fills) leaves a valid,
        # empty WAV rather than a file with no header, which repair_wav could not read back.
        self._file.flush()

    def write(self, samples: np.ndarray) -> None:
        """``samples``: int16, shape (n,) for mono or (n, channels) interleaved."""
        data = samples
        if data.dtype != "<i2" or not data.flags.c_contiguous:
            data = np.ascontiguousarray(samples, "<i2")
        self._file.write(data)  # the array's own buffer, no bytes copy
        self.data_bytes += data.nbytes

    def sync(self) -> None:
        """Rewrite the header's sizes and flush, so the file on disk is a complete WAV up to now."""
        f = self._file
        if f.closed:
            return
        f.seek(4)
        f.write(struct.pack("<I", 36 + self.data_bytes))
        f.seek(40)
        f.write(struct.pack("<I", self.data_bytes))
        f.seek(0, os.SEEK_END)
        f.flush()

    @property
    def seconds(self) -> float:
        return self.data_bytes / (2 * self.channels * self.rate)

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()


def repair_wav(path: str | os.PathLike, channels: int | None = None, rate: int = RECORD_RATE) -> float | None:
    """Make a WAV whose writer died mid-call valid again: set the header's sizes from the file's length (a
    half-written last sample is cut off). Returns the duration in seconds, or None when it is not our WAV.

    ``channels``: what the file was opened with, when the caller knows it. A file cut off inside its header (a
    writer killed as it opened the file) is then written as a valid WAV of no samples, instead of left unreadable.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size < HEADER_BYTES and channels is not None:
            with open(path, "wb") as f:
                f.write(_header(channels, rate, 0))
            return 0.0
        with open(path, "r+b") as f:
            head = f.read(HEADER_BYTES)
            if len(head) < HEADER_BYTES or head[:4] != b"RIFF" or head[8:12] != b"WAVE" or head[36:40] != b"data":
                return None
            channels, rate = struct.unpack("<HI", head[22:28])
            block = 2 * channels
            data = (size - HEADER_BYTES) // block * block
            f.truncate(HEADER_BYTES + data)
            f.seek(4)
            f.write(struct.pack("<I", 36 + data))
            f.seek(40)
            f.write(struct.pack("<I", data))
    except OSError:
        return None
    return data / (block * rate)


def wav_seconds(path: str | os.PathLike) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


class CallRecorder:
    """Records a call's legs from the media tick: ``write({leg: pcm48_frame})`` once per 20 ms.

    Files go to ``directory``: ``<leg>.wav`` per leg (mono, 16 kHz) and ``call.wav`` (stereo: agent left,
    customer right). Legs added later (a lead barging in) get their own file from the moment they join;
    ``offsets`` says where each file starts, in seconds from the call's start.

    Each tick is written as it comes (a crash keeps what was written; ``repair_wav`` fixes the header), using
    the 16 kHz frames the media tick has already made (``write(frames, low)``) and one reused stereo buffer.
    """

    STEREO = ("agent", "customer")

    def __init__(self, directory: str | os.PathLike, legs: list[str], started_at: float) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.started_at = started_at
        self.frames = 0
        self.legs: dict[str, WavWriter] = {}
        self.offsets: dict[str, float] = {}
        self.stereo = WavWriter(self.directory / "call.wav", channels=2)
        self._stereo_frame = np.zeros((FRAME_SAMPLES // 3, 2), dtype="<i2")  # one tick, interleaved, reused
        self.closed = False
        for leg in legs:
            self.add_leg(leg)

    def add_leg(self, leg: str) -> None:
        if leg in self.legs or self.closed:
            return
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in leg)
        self.legs[leg] = WavWriter(self.directory / f"{safe}.wav")
        self.offsets[leg] = self.frames * 0.02

    def write(self, frames: dict[str, np.ndarray], low: dict[str, np.ndarray] | None = None) -> None:
        """Record one tick: ``frames`` at 48 kHz by leg; ``low`` may carry legs already brought to 16 kHz."""
        if self.closed:
            return
        low = low or {}
        stereo = self._stereo_frame
        stereo.fill(0)
        for leg, writer in self.legs.items():
            pcm = low.get(leg)
            if pcm is None:
                pcm48 = frames.get(leg)
                pcm = to_16k(pcm48) if pcm48 is not None else SILENCE_16K
            writer.write(pcm)
            if leg in self.STEREO:
                stereo[:, self.STEREO.index(leg)] = pcm
        self.stereo.write(stereo)
        self.frames += 1
        if self.frames % FLUSH_EVERY_FRAMES == 0:
            self.sync()

    def sync(self) -> None:
        for writer in (*self.legs.values(), self.stereo):
            writer.sync()

    @property
    def seconds(self) -> float:
        return self.frames * 0.02

    def files(self, relative_to: str | os.PathLike | None = None) -> dict:
        """{"stereo": path, "legs": {leg: {"path", "offset"}}}, paths relative to ``relative_to`` if given."""

        def rel(p: Path) -> str:
            return str(p.relative_to(relative_to)) if relative_to else str(p)

        return {
            "stereo": rel(self.stereo.path),
            "legs": {leg: {"path": rel(w.path), "offset": round(self.offsets[leg], 3)} for leg, w in self.legs.items()},
            "sample_rate": RECORD_RATE,
        }

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for writer in (*self.legs.values(), self.stereo):
            writer.close()
