"""Pluggable offline speech recognition for call legs. Optional: the sandbox works fully without it.

A recogniser adapter turns a leg's PCM into ``Recognised`` phrases with times; the call pipeline may add them
to the recording (e.g. as transcript events) where an adapter is available. ``ASR_ADAPTERS`` is the typed
registry (explicit list); ``available_recognisers()`` says which adapters can run here and, for those that
cannot, why. Nothing is ever made up: without an available adapter ``make_recogniser`` returns None.

Adapters:
- ``vosk``: needs the ``vosk`` package (not in requirements: install it yourself) and a Vosk model folder named
  by ``KEFU_ASR_MODEL_<LANG>`` (e.g. ``KEFU_ASR_MODEL_ZH_CN``) or ``KEFU_ASR_MODEL``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .vad import to_vad_rate


@dataclass(frozen=True)
class Recognised:
    """A recognised phrase: its text and the call times (seconds) of its first and last word."""

    text: str
    start: float
    end: float


class BaseRecogniser(ABC):
    """A streaming recogniser for one leg in one language. ``feed`` takes int16 mono PCM at the rate given to
    the constructor and returns the phrases it completed; ``finish`` flushes the last one. Times are call
    seconds: ``offset`` (when the leg's first sample was heard) plus the position in the stream."""

    name: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def unavailable_reason(cls, lang: str) -> str | None:
        """None when this adapter can run here for ``lang``, else a sentence saying what is missing."""

    @abstractmethod
    def feed(self, pcm: np.ndarray) -> list[Recognised]:
        """Add audio; return phrases that ended in it."""

    @abstractmethod
    def finish(self) -> list[Recognised]:
        """The stream ended: return the last phrase, if any."""


def model_path(lang: str) -> str | None:
    """The model folder for ``lang`` from the environment (``KEFU_ASR_MODEL_<LANG>``, else ``KEFU_ASR_MODEL``)."""
    return os.environ.get(f"KEFU_ASR_MODEL_{lang.upper()}") or os.environ.get("KEFU_ASR_MODEL") or None


class VoskRecogniser(BaseRecogniser):
    """Vosk (Kaldi) offline recognition at 16 kHz with word times. Models are loaded once per path."""

    name = "vosk"
    RATE = 16000
    _models: ClassVar[dict[str, object]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def unavailable_reason(cls, lang: str) -> str | None:
        if importlib.util.find_spec("vosk") is None:
            return "the vosk package is not installed"
        path = model_path(lang)
        if not path:
            return f"no model: set KEFU_ASR_MODEL_{lang.upper()} or KEFU_ASR_MODEL to a Vosk model folder"
        if not os.path.isdir(path):
            return f"the Vosk model folder {path!r} does not exist"
        return None

    def __init__(self, lang: str, sample_rate: int = 48000, offset: float = 0.0):
        reason = self.unavailable_reason(lang)
        if reason:
            raise RuntimeError(f"vosk recogniser unavailable: {reason}")
        import vosk

        path = model_path(lang)
        with self._lock:
            model = self._models.get(path)
            if model is None:
                model = self._models[path] = vosk.Model(path)
        self.sample_rate = sample_rate
        self.offset = offset
        self._rec = vosk.KaldiRecognizer(model, self.RATE)
        self._rec.SetWords(True)

    def feed(self, pcm: np.ndarray) -> list[Recognised]:
        data = to_vad_rate(np.asarray(pcm, dtype=np.int16), self.sample_rate).tobytes()
        if self._rec.AcceptWaveform(data):
            return self._parse(self._rec.Result())
        return []

    def finish(self) -> list[Recognised]:
        return self._parse(self._rec.FinalResult())

    def _parse(self, raw: str) -> list[Recognised]:
        result = json.loads(raw or "{}")
        words = result.get("result") or []
        text = (result.get("text") or "").strip()
        if not text or not words:
            return []
        return [Recognised(text, self.offset + float(words[0]["start"]), self.offset + float(words[-1]["end"]))]


ASR_ADAPTERS: dict[str, type[BaseRecogniser]] = {cls.name: cls for cls in (VoskRecogniser,)}


def available_recognisers(lang: str) -> dict[str, str | None]:
    """Adapter name -> None when it can run for ``lang`` here, else why not."""
    return {name: cls.unavailable_reason(lang) for name, cls in ASR_ADAPTERS.items()}


def make_recogniser(lang: str, sample_rate: int = 48000, offset: float = 0.0) -> BaseRecogniser | None:
    """A recogniser from the first available adapter, or None when none can run (the normal case)."""
    for name, reason in available_recognisers(lang).items():
        if reason is None:
            return ASR_ADAPTERS[name](lang, sample_rate, offset)
    return None
