"""Opus encoding for the server's outgoing audio: one encoder set-up, and clips encoded once.

Every outgoing leg sends Opus it encodes itself (``media.audio.PcmOutTrack``). Encoding is the largest single
cost of a simulated call on the media loop (libopus at 32 kbit/s, complexity 10: ~0.3-0.45 ms of CPU per
20 ms frame of speech on this machine). The simulated customer's speech is made of clips that repeat: TTS
returns the same read-only array for a line it has said before (``media.tts`` caches them), and a class runs
the same scenarios. ``clip_packets`` encodes a clip once, off the media loop, and keeps the packets as long as
the clip itself lives, so the track only forwards them while the clip plays unmixed.

A clip's packets come from a fresh encoder: packet i carries frame i (libopus's 6.5 ms look-ahead shifts the
sound by that much; the clip's padded last frame and the TTS's trailing silence absorb it). The decoder at
the other end takes the switch between these packets and the track's own encoder as it takes any other
stream: Opus frames decode on their own.
"""

from __future__ import annotations

import fractions
import threading
import weakref

import av
import numpy as np

SAMPLE_RATE = 48000
FRAME_SAMPLES = 960
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
BIT_RATE = 32000
DTX_PAYLOAD = b"\xf8\xff\xfe"  # an empty Opus frame (sent while an encoder is still priming)

# Re-entrant: a clip's weakref callback (``_forget``) runs wherever the clip is freed, which may be inside a
# garbage collection that started while this thread held the lock.
_lock = threading.RLock()
_clips: dict[int, tuple[weakref.ref, list[bytes]]] = {}  # id(clip) -> (the clip, its packets)


def new_encoder() -> av.CodecContext:
    """A mono 48 kHz libopus encoder for speech (VoIP mode, 32 kbit/s)."""
    codec = av.CodecContext.create("libopus", "w")
    codec.bit_rate = BIT_RATE
    codec.format = "s16"
    codec.layout = "mono"
    codec.sample_rate = SAMPLE_RATE
    codec.time_base = TIME_BASE
    codec.options = {"application": "voip"}
    return codec


def encode_frame(codec: av.CodecContext, pcm: np.ndarray, pts: int) -> bytes:
    """One 20 ms frame of int16 mono PCM -> one Opus payload (empty if the encoder gave none)."""
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = TIME_BASE
    packets = codec.encode(frame)
    return bytes(packets[0]) if packets else b""


def clip_packets(frames: list[np.ndarray], clip: np.ndarray | None = None) -> list[bytes]:
    """The Opus payloads of a clip's 20 ms ``frames``, one per frame. With ``clip`` (the read-only array the
    frames were cut from) the result is kept while that array lives and reused for it: a line said again,
    on this call or another, is not encoded again. Blocking (tens of ms for a long line): call it off the
    media loop."""
    if clip is not None and not clip.flags.writeable:
        key = id(clip)
        with _lock:
            hit = _clips.get(key)
        if hit is not None and hit[0]() is clip:
            return hit[1]
    codec = new_encoder()
    packets = [encode_frame(codec, f, i * FRAME_SAMPLES) or DTX_PAYLOAD for i, f in enumerate(frames)]
    if clip is not None and not clip.flags.writeable:
        ref = weakref.ref(clip, lambda _ref, k=key: _forget(k, _ref))
        with _lock:
            _clips[key] = (ref, packets)
    return packets


def _forget(key: int, ref: weakref.ref) -> None:
    with _lock:
        hit = _clips.get(key)
        if hit is not None and hit[0] is ref:
            del _clips[key]


def cached_clips() -> int:
    """How many clips have their packets kept (tests and stats)."""
    with _lock:
        return len(_clips)
