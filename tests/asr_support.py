"""Speech recognition for tests: the packaged Whisper model and a language-understanding Reader, each loaded
once per test session (both take seconds to load), and espeak speech at the recognisers' 16 kHz."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

PACKS = Path(__file__).resolve().parent.parent / "scenarios" / "packs"


@cache
def whisper():
    """The packaged recogniser, its model loaded."""
    from media.asr import WhisperRecogniser

    rec = WhisperRecogniser()
    rec.warm()
    return rec


@cache
def pack(lang: str):
    from scenarios.loader import load_pack

    return load_pack(PACKS / lang)


@cache
def reader(lang: str):
    """A Reader on the shipped pack and model of ``lang`` (no app or database needed)."""
    from understanding.embedding import get_embedder
    from understanding.reader import Reader
    from understanding.store import load_model_file

    return Reader(pack(lang).info, load_model_file(PACKS / lang), get_embedder("use"))


def spoken(text: str, lang: str, emotion: int = 0) -> np.ndarray:
    """``text`` as espeak speech, int16 mono at 16 kHz."""
    from media import tts
    from media.audio import to_16k

    return to_16k(np.asarray(tts.synthesise(text, lang, emotion)))
