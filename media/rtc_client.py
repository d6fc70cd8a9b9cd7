"""aiortc peers playing the trainee's (or a role-play customer's) browser in tests and benches: send a tone,
synthesised speech or silence, count and keep what they receive."""

from __future__ import annotations

import asyncio
import fractions
import math
import time

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from media.audio import frame_to_mono, level_dbov

RATE = 48000
SAMPLES = 960


def voice_like(n: int, start: int, f0: float = 150.0, amplitude: float = 0.3) -> np.ndarray:
    """A speech-like buzz: harmonics of a gliding pitch around ``f0`` with a 4 Hz syllable envelope, which
    webrtcvad takes for speech (a pure tone above ~600 Hz it does not)."""
    t = (np.arange(n) + start) / RATE
    pitch = f0 + 0.2 * f0 * np.sin(2 * math.pi * 3 * t)
    phase = 2 * math.pi * (f0 * t - 0.2 * f0 / (2 * math.pi * 3) * np.cos(2 * math.pi * 3 * t))
    del pitch
    x = sum(np.sin(k * phase) / k for k in range(1, 12)) / 2.0
    env = 0.55 + 0.45 * np.sin(2 * math.pi * 4 * t)
    return (amplitude * 32767 * np.clip(x * env, -1, 1)).astype(np.int16)


class ToneTrack(MediaStreamTrack):
    """A microphone that sounds while ``speaking`` and is silent otherwise, paced in real time like a
    browser's capture: a pure tone at ``freq`` Hz, or with ``voice=True`` a speech-like buzz at pitch ``freq``
    (which voice activity detection takes for talk)."""

    kind = "audio"

    def __init__(self, freq: float = 440.0, amplitude: float = 0.3, speaking: bool = True, voice: bool = False) -> None:
        super().__init__()
        self.freq = freq
        self.amplitude = amplitude
        self.speaking = speaking
        self.voice = voice
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._pts / RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if self.speaking:
            if self.voice:
                pcm = voice_like(SAMPLES, self._pts, self.freq, self.amplitude)
            else:
                t = (np.arange(SAMPLES) + self._pts) / RATE
                pcm = (self.amplitude * 32767 * np.sin(2 * math.pi * self.freq * t)).astype(np.int16)
        else:
            pcm = np.zeros(SAMPLES, dtype=np.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += SAMPLES
        return frame


class SpeechTrack(MediaStreamTrack):
    """A microphone that plays the clips given to ``say`` (int16 mono at 48 kHz, e.g. ``media.tts`` speech)
    one after the other, in real time like a browser's capture, and silence in between."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: list[np.ndarray] = []
        self._pts = 0
        self._start: float | None = None

    def say(self, pcm: np.ndarray) -> float:
        """Queue a clip; returns its length in seconds."""
        self._queue.append(np.asarray(pcm, dtype=np.int16))
        return len(pcm) / RATE

    @property
    def speaking(self) -> bool:
        return bool(self._queue)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._pts / RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        pcm = np.zeros(SAMPLES, dtype=np.int16)
        filled = 0
        while self._queue and filled < SAMPLES:
            clip = self._queue[0]
            take = min(SAMPLES - filled, clip.size)
            pcm[filled : filled + take] = clip[:take]
            filled += take
            if take == clip.size:
                self._queue.pop(0)
            else:
                self._queue[0] = clip[take:]
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += SAMPLES
        return frame


class RtcClient:
    """One browser-like peer: ``offer()`` gives the SDP after ICE gathering, ``accept(answer)`` applies the
    answer; received audio levels are kept in ``levels`` (one per frame)."""

    def __init__(self, track: MediaStreamTrack | None = None, keep_audio: bool = False) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.track = track or ToneTrack()
        self.pc.addTrack(self.track)
        self.levels: list[int] = []
        self.audio: list[np.ndarray] = []
        self.keep_audio = keep_audio
        self._reader: asyncio.Task | None = None

        @self.pc.on("track")
        def _on_track(track):
            self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track) -> None:
        try:
            while True:
                frame = await track.recv()
                pcm = frame_to_mono(frame)
                self.levels.append(level_dbov(pcm))
                if self.keep_audio:
                    self.audio.append(pcm)
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def wait_connected(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.pc.connectionState != "connected":
            if time.monotonic() > deadline:
                raise TimeoutError(f"client stayed {self.pc.connectionState}")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.pc.close()
