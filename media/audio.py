"""PCM helpers and the outgoing audio track.

Everything inside a call is mono int16 at 48 kHz in 20 ms frames (960 samples): what Opus and the browser use,
and what ``media.tts`` synthesises. Recordings are written at 16 kHz (``to_16k``), enough for voice and a third
of the disk.

``PcmOutTrack`` sends Opus packets it encodes itself (mono, one encoder per track) instead of raw frames: aiortc
then only packetises them and skips its pure-Python audio level (279 us per stereo frame, DESIGN.md facts);
silence goes out as one cached packet, so a quiet leg costs almost nothing.
"""

from __future__ import annotations

import asyncio
import fractions

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .opus import DTX_PAYLOAD, encode_frame, new_encoder

SAMPLE_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
RECORD_RATE = 16000
SILENCE = np.zeros(FRAME_SAMPLES, dtype=np.int16)
SILENCE_16K = np.zeros(FRAME_SAMPLES // 3, dtype=np.int16)
SILENCE.flags.writeable = False  # shared by every silent leg: nobody may write into it
SILENCE_16K.flags.writeable = False
_MIN_DBOV = -127


def level_dbov(pcm: np.ndarray) -> int:
    """RFC 6465 audio level of int16 samples in dBov (0 loudest, -127 silence), vectorised."""
    if pcm.size == 0:
        return _MIN_DBOV
    x = pcm.astype(np.float32)
    rms = float(np.sqrt(np.dot(x, x) / pcm.size)) / 32767.0
    if rms <= 0.0:
        return _MIN_DBOV
    return int(round(max(_MIN_DBOV, min(0.0, 20.0 * np.log10(rms)))))


def frame_to_mono(frame: av.AudioFrame) -> np.ndarray:
    """A decoded frame (s16 packed, mono or stereo, 48 kHz as aiortc's Opus decoder gives) as mono int16."""
    channels = frame.layout.nb_channels
    if channels == 2 and frame.sample_rate == SAMPLE_RATE and frame.format.name == "s16":
        # aiortc's Opus decoder always gives this (stereo, packed): average the pair in integers straight
        # from the frame's buffer, a third of what to_ndarray and a float mean cost, on every incoming frame
        # of every call.
        pair = np.frombuffer(frame.planes[0], np.int16, count=2 * frame.samples).reshape(-1, 2)
        mono = pair[:, 0].astype(np.int32)
        mono += pair[:, 1]
        mono >>= 1
        return mono.astype(np.int16)
    arr = frame.to_ndarray()
    if frame.format.is_planar:
        arr = arr.mean(axis=0) if arr.shape[0] > 1 else arr[0]
    elif channels > 1:
        arr = arr.reshape(-1, channels).mean(axis=1)
    else:
        arr = arr.reshape(-1)
    if frame.sample_rate != SAMPLE_RATE:
        arr = resample(arr.astype(np.int16), frame.sample_rate, SAMPLE_RATE)
    return arr.astype(np.int16, copy=False)


def resample(pcm: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample mono int16 by linear interpolation (speech; no phase-exact filter needed)."""
    if src_rate == dst_rate or pcm.size == 0:
        return pcm.astype(np.int16, copy=False)
    n_out = int(round(pcm.size * dst_rate / src_rate))
    xp = np.arange(pcm.size, dtype=np.float64)
    x = np.linspace(0, pcm.size - 1, n_out)
    return np.interp(x, xp, pcm.astype(np.float64)).astype(np.int16)


def to_16k(pcm48: np.ndarray) -> np.ndarray:
    """48 kHz -> 16 kHz by averaging each 3 samples (a box low-pass before decimating: no aliasing squeal).
    Integer arithmetic: it runs for every leg of every call on each 20 ms tick."""
    if pcm48 is SILENCE:
        return SILENCE_16K
    n = pcm48.size - pcm48.size % 3
    acc = pcm48[0:n:3].astype(np.int32)
    acc += pcm48[1:n:3]
    acc += pcm48[2:n:3]
    acc //= 3
    return acc.astype(np.int16)


def mix(frames: list[np.ndarray]) -> np.ndarray:
    """Sum mono frames with clipping; one frame is returned as is."""
    if not frames:
        return SILENCE
    if len(frames) == 1:
        return frames[0]
    acc = np.sum([f.astype(np.int32) for f in frames], axis=0)
    return np.clip(acc, -32768, 32767).astype(np.int16)


def split_frames(pcm: np.ndarray) -> list[np.ndarray]:
    """Cut a clip into 20 ms frames, the last one padded with silence."""
    pcm = np.asarray(pcm, dtype=np.int16).reshape(-1)
    pad = (-pcm.size) % FRAME_SAMPLES
    if pad:
        pcm = np.concatenate([pcm, np.zeros(pad, dtype=np.int16)])
    return [pcm[i : i + FRAME_SAMPLES] for i in range(0, pcm.size, FRAME_SAMPLES)]


class ClipPlayer:
    """A source of 20 ms frames: queued PCM clips in order, silence when nothing is queued.

    ``next_frame()`` is called once per media tick. ``playing`` says whether a clip is sounding now (the
    simulated customer is speaking); ``clear()`` stops at once (the customer is cut off, or put on hold).
    """

    def __init__(self) -> None:
        self._frames: list[np.ndarray] = []
        self._packets: list[bytes | None] = []  # each frame's Opus payload, when the clip came encoded
        self._pos = 0
        self.packet: bytes | None = None  # the Opus payload of the frame ``next_frame`` returned last, if any
        self.on_clip_end = None  # callable() when the queue runs dry after a clip

    def enqueue(self, pcm: np.ndarray, packets: list[bytes] | None = None) -> float:
        """Queue a clip, with its frames' Opus payloads if it has them (``media.opus.clip_packets``: one per
        20 ms frame); returns its length in seconds."""
        frames = split_frames(pcm)
        if packets is not None and len(packets) != len(frames):
            raise ValueError(f"a clip of {len(frames)} frames came with {len(packets)} Opus packets")
        self._frames.extend(frames)
        self._packets.extend(packets if packets is not None else [None] * len(frames))
        return len(frames) * FRAME_SECONDS

    def clear(self) -> None:
        self._frames.clear()
        self._packets.clear()
        self._pos = 0

    @property
    def playing(self) -> bool:
        return self._pos < len(self._frames)

    @property
    def remaining_seconds(self) -> float:
        return (len(self._frames) - self._pos) * FRAME_SECONDS

    def next_frame(self) -> np.ndarray:
        if self._pos >= len(self._frames):
            self.packet = None
            return SILENCE
        frame = self._frames[self._pos]
        self.packet = self._packets[self._pos]
        self._pos += 1
        if self._pos >= len(self._frames):
            self.clear()
            if self.on_clip_end is not None:
                self.on_clip_end()
        return frame


class PcmOutTrack(MediaStreamTrack):
    """An outgoing mono audio track fed one 20 ms PCM frame per media tick (``push``), sent as Opus packets.

    The media clock paces it: ``recv`` waits for the next pushed frame. A consumer that falls behind loses the
    oldest frames (bounded queue), so latency never grows. A frame pushed with its Opus payload (a clip
    encoded once, ``media.opus.clip_packets``) is sent as that payload, not encoded again.
    """

    kind = "audio"
    QUEUE_FRAMES = 5
    HANGOVER_FRAMES = 5  # keep encoding zeros a little after sound, so the decoder fades out cleanly

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[tuple[np.ndarray, bytes | None] | None] = asyncio.Queue(self.QUEUE_FRAMES)
        self._pts = 0
        self._codec = new_encoder()
        self._silence_payload: bytes | None = None
        self._quiet_frames = self.HANGOVER_FRAMES
        self._last: np.ndarray = SILENCE
        self.frames_encoded = 0  # frames this track's own encoder encoded (the rest: cached or ready packets)
        self.frames_forwarded = 0  # frames sent as the ready payload pushed with them

    @property
    def level(self) -> int:
        """Audio level (dBov) of the last frame sent, for meters: computed when asked, not per frame."""
        return level_dbov(self._last)

    def push(self, pcm: np.ndarray, packet: bytes | None = None) -> None:
        if self.readyState != "live":
            return
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait((pcm, packet))

    def stop(self) -> None:
        if self.readyState == "live":
            try:
                self._queue.put_nowait(None)
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self._queue.put_nowait(None)
        super().stop()

    def _encode(self, pcm: np.ndarray) -> bytes:
        self.frames_encoded += 1
        return encode_frame(self._codec, pcm, self._pts)

    async def recv(self) -> av.Packet:
        if self.readyState != "live" and self._queue.empty():
            raise MediaStreamError
        item = await self._queue.get()
        if item is None:
            raise MediaStreamError
        pcm, ready = item
        self._last = pcm
        if ready is not None:
            self._quiet_frames = 0  # after the clip, the hangover zeros come from our own encoder
            self.frames_forwarded += 1
            payload = ready
        else:
            # Digital silence (a silent leg's mix is the shared SILENCE frame itself) goes out as the cached
            # silence packet after the hangover; anything else is encoded.
            if pcm is SILENCE or not pcm.any():
                self._quiet_frames += 1
            else:
                self._quiet_frames = 0
            if self._quiet_frames > self.HANGOVER_FRAMES:
                if self._silence_payload is None:
                    self._silence_payload = self._encode(SILENCE)
                payload = self._silence_payload
            else:
                payload = self._encode(pcm)
        packet = av.Packet(payload or DTX_PAYLOAD)  # an Opus DTX frame if the encoder was still priming
        packet.pts = self._pts
        packet.time_base = TIME_BASE
        self._pts += FRAME_SAMPLES
        return packet
