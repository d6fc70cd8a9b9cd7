"""Synthetic call legs for the media tests: a voiced harmonic complex where a leg speaks, digital silence
elsewhere, so the true talk intervals are known exactly."""

from __future__ import annotations

import numpy as np

SR = 48000


def voiced(seconds: float, f0: float = 140.0, amplitude: int = 9000) -> np.ndarray:
    """A buzzy vowel-like tone (24 harmonics of ``f0``) that webrtcvad classes as speech."""
    t = np.arange(int(round(seconds * SR))) / SR
    s = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 25))
    return (s / np.abs(s).max() * amplitude).astype(np.int16)


def leg(duration: float, talk: list[tuple[float, float]], f0: float = 140.0) -> np.ndarray:
    """``duration`` seconds of int16 PCM at 48 kHz speaking during each (start, end) of ``talk``."""
    pcm = np.zeros(int(round(duration * SR)), np.int16)
    for start, end in talk:
        chunk = voiced(end - start, f0)
        at = int(round(start * SR))
        pcm[at : at + chunk.size] = chunk
    return pcm
