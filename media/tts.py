"""Offline speech synthesis for simulated customers: espeak-ng through ctypes, int16 mono at 48 kHz.

``espeakng-loader`` ships libespeak-ng and its data, so no system package is needed. The library keeps one
global synthesiser (voice, rate, pitch, the output callback), so every call goes through ``_LOCK``; it is
initialised once per process, in synchronous mode (``AUDIO_OUTPUT_SYNCHRONOUS``): ``espeak_Synth`` returns
after the whole text was rendered through our callback, which collects the samples.

espeak renders at 22,050 Hz; WebRTC audio (Opus) in the call pipeline runs at 48 kHz, so the result is
resampled once here and cached by (text, lang, emotion). Cached arrays are read-only: callers share them.

Emotion (0 calm .. 3 furious, the simulator's scale) speeds up and raises the voice, as upset callers do.
"""

from __future__ import annotations

import ctypes
import threading
from collections import OrderedDict

import numpy as np

SAMPLE_RATE = 48000
CACHE_SIZE = 512

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit() inside the library
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _PITCH = 1, 3
_EE_OK = 0

# Language (pack lang or short code) -> espeak-ng voice name.
VOICES = {"zh_CN": "cmn", "zh": "cmn", "cmn": "cmn", "en": "en", "en_US": "en-us", "en_GB": "en"}

# emotion -> (words per minute, pitch 0..100); espeak's defaults are 175 wpm and pitch 50.
_PROSODY = {0: (165, 48), 1: (175, 52), 2: (190, 58), 3: (205, 64)}

_CALLBACK_TYPE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class TTSError(RuntimeError):
    """Synthesis failed: the library could not load or initialise, the language has no voice, or espeak
    reported an error for the text."""


class _Engine:
    """The one espeak-ng instance of this process (use only under ``_LOCK``)."""

    def __init__(self) -> None:
        import espeakng_loader

        try:
            self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as exc:
            raise TTSError(f"cannot load libespeak-ng: {exc}") from exc
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), _INITIALIZE_DONT_EXIT
        )
        if self.rate <= 0:
            raise TTSError(f"espeak_Initialize failed ({self.rate})")
        self.chunks: list[np.ndarray] = []
        # Keep a reference: ctypes frees the trampoline when the Python object dies.
        self._callback = _CALLBACK_TYPE(self._collect)
        self.lib.espeak_SetSynthCallback(self._callback)
        self.voice: str | None = None

    def _collect(self, wav, n, _events) -> int:
        if n > 0 and wav:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0  # 0 = go on synthesising

    def render(self, text: str, voice: str, emotion: int, wpm: int | None = None) -> np.ndarray:
        if voice != self.voice:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise TTSError(f"espeak-ng has no voice {voice!r}")
            self.voice = voice
        rate, pitch = _PROSODY[emotion]
        rate = wpm or rate
        self.lib.espeak_SetParameter(_RATE, rate, 0)
        self.lib.espeak_SetParameter(_PITCH, pitch, 0)
        data = text.encode("utf-8")
        self.chunks = []
        err = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != _EE_OK:
            raise TTSError(f"espeak_Synth failed ({err})")
        out = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        self.chunks = []
        return out


_LOCK = threading.Lock()
_engine: _Engine | None = None
_cache: OrderedDict[tuple[str, str, int, int | None], np.ndarray] = OrderedDict()


def voice_for(lang: str) -> str:
    """The espeak-ng voice for a pack language ('zh_CN' -> 'cmn', 'en' -> 'en'); TTSError if none."""
    voice = VOICES.get(lang) or VOICES.get(lang.split("_")[0])
    if not voice:
        raise TTSError(f"no voice for language {lang!r}; known: {sorted(VOICES)}")
    return voice


def resample(pcm: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Linear-interpolation resampling of int16 mono audio (enough for narrowband synthetic speech)."""
    if src_rate == dst_rate or pcm.size == 0:
        return pcm.astype(np.int16, copy=True)
    n_out = int(round(pcm.size * dst_rate / src_rate))
    x_out = np.arange(n_out) * (src_rate / dst_rate)
    out = np.interp(x_out, np.arange(pcm.size), pcm.astype(np.float32))
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def synthesise(text: str, lang: str, emotion: int = 0, *, wpm: int | None = None) -> np.ndarray:
    """Speak ``text`` in ``lang`` ('zh_CN' / 'en'): int16 mono samples at 48 kHz, read-only and cached.

    ``emotion`` 0..3 raises rate and pitch; ``wpm`` sets the rate instead (speech-recognition benches and
    tests speak at several speeds). Empty or blank text gives an empty array. Raises TTSError when
    synthesis is impossible (unknown language, library failure)."""
    emotion = max(0, min(3, int(emotion)))
    text = (text or "").strip()
    voice = voice_for(lang)
    if not text:
        return np.zeros(0, np.int16)
    key = (text, voice, emotion, wpm)
    global _engine
    with _LOCK:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
        if _engine is None:
            _engine = _Engine()
        raw = _engine.render(text, voice, emotion, wpm)
        src_rate = _engine.rate
    pcm = resample(raw, src_rate, SAMPLE_RATE)
    pcm.setflags(write=False)
    with _LOCK:
        _cache[key] = pcm
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return pcm


def duration(pcm: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Seconds of audio in ``pcm``."""
    return pcm.size / sample_rate
