"""After the call: both recorded legs transcribed into the recording (``call.transcript``).

At hang-up the call's files are queued here; one worker thread per process transcribes them off the request
(``media.asr.transcribe_leg``: VAD stretches of each leg, recognised with times) and appends ``call.transcript``:

    {"status": "done" | "off" | "failed",
     "segments": [{"start", "end", "speaker": "agent"|"customer", "text", "confidence"}],  # recording seconds
     "engine": "...", "lang": "en", "seconds": processing time, "audio_seconds": {leg: s},
     "problems": ["agent at 12.3 s: ...", ...], "reason": "why not done"}

Segment times are seconds from the start of the recording (each leg's offset added), the timeline of
``call.wav``. A stretch that fails is listed in ``problems`` and the rest is kept; nothing stops the call's
wrap-up. Once the transcript is recorded, a contact already graded is graded again, so the scorecard reads it.
"""

from __future__ import annotations

import logging
import threading
import time
import wave
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from flask import Flask, current_app

from contacts.models import Contact
from extensions import db

log = logging.getLogger(__name__)

_EXT = "kefu_transcripts"


def _read_leg(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path.name}: not 16-bit mono")
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    if rate != 16000:
        from media.audio import resample

        pcm = resample(pcm, rate, 16000)
    return pcm


class Transcriber:
    """The process's post-call transcription queue for one app (``app.extensions["kefu_transcripts"]``)."""

    def __init__(self, app: Flask):
        self.app = app
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="transcripts")
        self.pending: list[Future] = []
        self._lock = threading.Lock()

    def submit(self, contact_id: int, files: dict, lang: str) -> Future:
        fut = self.pool.submit(self._run, contact_id, files, lang)
        with self._lock:
            self.pending = [f for f in self.pending if not f.done()] + [fut]
        return fut

    def wait_idle(self, timeout: float = 120.0) -> bool:
        """Block until every queued transcript is recorded (tests, benches). True when idle."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                left = [f for f in self.pending if not f.done()]
            if not left:
                return True
            if time.monotonic() > deadline:
                return False
            left[0].exception(timeout=max(0.0, deadline - time.monotonic()))

    def _run(self, contact_id: int, files: dict, lang: str) -> None:
        with self.app.app_context():
            try:
                data = transcribe_call(self.app, files, lang)
                _record_transcript(contact_id, data)
            except Exception:
                log.exception("transcribing call %s failed", contact_id)
                from extensions import db

                db.session.rollback()
                _record_transcript(contact_id, {"status": "failed", "segments": [], "reason": "internal error"})
            finally:
                from extensions import db

                db.session.remove()


def transcriber(app: Flask | None = None) -> Transcriber:
    app = app or current_app._get_current_object()
    t = app.extensions.get(_EXT)
    if t is None:
        t = app.extensions[_EXT] = Transcriber(app)
    return t


def transcribe_call(app: Flask, files: dict, lang: str) -> dict:
    """The ``call.transcript`` data for a call's recorded legs (blocking: seconds per minute of speech)."""
    from media.asr import RecognitionError, asr_setting, recogniser_for, transcribe_leg

    from .service import recordings_dir

    setting = asr_setting(app.config)
    if setting == "off":
        return {"status": "off", "segments": [], "reason": "speech recognition is off (KEFU_ASR=off)"}
    try:
        recogniser = recogniser_for(setting, app.config)
    except RecognitionError as e:
        return {"status": "failed", "segments": [], "reason": str(e)}
    t0 = time.perf_counter()
    root = recordings_dir(app)
    segments, problems, audio = [], [], {}
    for leg in ("agent", "customer"):
        info = (files.get("legs") or {}).get(leg)
        if not info:
            continue
        try:
            pcm = _read_leg(root / info["path"])
        except (OSError, ValueError, EOFError, wave.Error) as e:
            problems.append(f"{leg}: the recorded file could not be read ({e})")
            continue
        audio[leg] = round(pcm.size / 16000, 3)
        # a generous bound: 2x the leg's length plus a minute; past it the rest is reported, not lost silently
        deadline = time.monotonic() + 60 + 2 * pcm.size / 16000
        found, bad = transcribe_leg(
            recogniser, pcm, lang, leg, float(info.get("offset") or 0.0), beam_size=5, deadline=deadline
        )
        segments += found
        problems += bad
    segments.sort(key=lambda s: (s.start, s.speaker))
    return {
        "status": "done",
        "segments": [s.as_dict() for s in segments],
        "engine": recogniser.description,
        "lang": lang,
        "seconds": round(time.perf_counter() - t0, 3),
        "audio_seconds": audio,
        "problems": problems,
    }


def _record_transcript(contact_id: int, data: dict) -> None:
    from .actions import _record

    contact = db.session.get(Contact, contact_id)
    if contact is None:
        return
    # the text too (speaker: words, a line per segment), so searching the contacts' words finds calls
    text = "\n".join(f"{s['speaker']}: {s['text']}" for s in data.get("segments") or []) or None
    _record(contact, "call.transcript", "system", data=data, text=text)
    for listener in _transcript_listeners:
        listener(contact_id)


# What reacts to a recorded call transcript: grading registers its regrade (a contact graded before its transcript
# landed is graded again) from its init_app, so this channel imports no grading module.
_transcript_listeners: list[Callable[[int], None]] = []


def on_transcript(listener: Callable[[int], None]) -> None:
    """Call ``listener(contact_id)`` after a call's transcript is recorded, in the same app context."""
    if listener not in _transcript_listeners:
        _transcript_listeners.append(listener)


def schedule_transcript(contact, files: dict | None) -> None:
    """Queue the post-call transcript of an ended call (nothing when no legs were recorded)."""
    if not files or not files.get("legs"):
        return
    transcriber().submit(contact.id, files, contact.lang or "zh_CN")
