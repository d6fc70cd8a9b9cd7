"""Speech recognition (media.asr): the packaged Whisper model on project-made speech in both languages, bad
input, whole recorded legs with times, the OpenAI-compatible server adapter and the KEFU_ASR setting."""

from __future__ import annotations

import io
import json
import threading
import wave
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from media import asr
from media.asr_score import error_rate
from tests.asr_support import spoken
from tests.media.synth import voiced

EN = [
    "Hello, how can I help you today?",
    "I'm sorry for the trouble, let me check that for you.",
    "Please hold on while I check the tracking information.",
    "Thank you for calling, have a nice day, goodbye.",
]
ZH = ["这不是我的问题，你自己去看吧。", "感谢您的来电，再见。", "您好，请问有什么可以帮您？"]


def test_recognises_project_speech_in_both_languages(whisper):
    """espeak English comes back nearly word for word (WER under 20 %); espeak Mandarin, which Whisper base
    hears poorly, still keeps most characters of these lines (CER under 60 %), in simplified characters."""
    en = [error_rate(t, whisper.recognise(spoken(t, "en"), "en").text, "en") for t in EN]
    assert np.mean(en) < 0.2, en
    zh_texts = [whisper.recognise(spoken(t, "zh_CN"), "zh_CN").text for t in ZH]
    zh = [error_rate(t, h, "zh_CN") for t, h in zip(ZH, zh_texts, strict=True)]
    assert np.mean(zh) < 0.6, list(zip(zh_texts, zh, strict=True))
    assert "这不是我的问题" in zh_texts[0]


def test_silence_noise_and_tones_give_no_words(whisper):
    """Silence, white noise, a hum and a speech-like buzz are dropped as no speech, not turned into words."""
    rng = np.random.default_rng(1)
    t = np.arange(32000) / 16000
    inputs = {
        "silence": np.zeros(40000, np.int16),
        "noise": rng.normal(0, 3000, 32000).astype(np.int16),
        "hum": (6000 * np.sin(2 * np.pi * 50 * t)).astype(np.int16),
        "buzz": voiced(2.0)[::3],
    }
    for lang in ("en", "zh_CN"):
        for name, pcm in inputs.items():
            r = whisper.recognise(pcm, lang)
            assert r.text == "" and r.dropped, (lang, name, r)


def test_clipped_and_short_audio(whisper):
    """Speech clipped hard (x8 gain) is still recognised without error; a click under 0.25 s is not tried."""
    pcm = spoken("Thank you for calling, have a nice day, goodbye.", "en").astype(np.int32) * 8
    r = whisper.recognise(np.clip(pcm, -32768, 32767).astype(np.int16), "en")
    assert "goodbye" in r.text.lower()
    assert whisper.recognise(np.full(2000, 9000, np.int16), "en").dropped == "too short"
    with pytest.raises(asr.RecognitionError):
        whisper.recognise(np.zeros((2, 100), np.int16), "en")
    with pytest.raises(asr.RecognitionError):
        whisper.recognise(np.zeros(8000, np.int16), "fr")


def test_transcribe_leg_gives_timed_segments(whisper):
    """A recorded leg with two lines 3 s apart is transcribed as two segments at their times (plus the leg's
    offset in the recording), with speaker and confidence."""
    a, b = spoken("Hello, how can I help you today?", "en"), spoken("Thank you for calling, goodbye.", "en")
    leg = np.concatenate([np.zeros(8000, np.int16), a, np.zeros(48000, np.int16), b, np.zeros(8000, np.int16)])
    segments, problems = asr.transcribe_leg(whisper, leg, "en", "agent", offset=10.0)
    assert problems == []
    assert [s.speaker for s in segments] == ["agent", "agent"]
    assert "help you" in segments[0].text and "bye" in segments[1].text.lower()
    assert abs(segments[0].start - 10.5) < 0.3 and abs(segments[1].start - (10.5 + a.size / 16000 + 3)) < 0.3
    assert segments[0].end < segments[1].start and 0 < segments[0].confidence <= 1


def test_a_monologue_is_cut_into_windows():
    """70 s of unbroken speech is cut into windows of at most 28 s that cover all of it."""
    windows = asr.speech_windows(voiced(70.0)[::3], offset=5.0)
    assert len(windows) == 3 and all(e - s <= asr.MAX_WINDOW_S + 1e-6 for s, e in windows)
    assert windows[0][0] < 5.2 and windows[-1][1] > 74.5


def test_transcribe_leg_reports_failures_and_goes_on():
    """A window whose recognition raises is reported and the others are still transcribed."""

    class Flaky(asr.Recogniser):
        calls = 0

        def recognise(self, pcm, lang, *, beam_size=None):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise asr.RecognitionError("engine crashed")
            return asr.Recognition("later words", 0.9)

    leg = np.concatenate([voiced(1.0), np.zeros(96000, np.int16), voiced(1.0)])[::3]
    segments, problems = asr.transcribe_leg(Flaky(), leg, "en", "customer")
    assert [s.text for s in segments] == ["later words"]
    assert len(problems) == 1 and "engine crashed" in problems[0]


class _Server:
    """An OpenAI-compatible transcription endpoint on loopback (what a centre's GPU host would run)."""

    def __init__(self, status: int = 200):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                parts = BytesParser(policy=email_policy).parsebytes(head + raw).iter_parts()
                form = {p.get_param("name", header="content-disposition"): p.get_payload(decode=True) for p in parts}
                with wave.open(io.BytesIO(form["file"])) as w:
                    rate, frames = w.getframerate(), w.getnframes()
                outer.requests.append(
                    {"path": self.path, "model": form["model"].decode(), "language": form["language"].decode()}
                    | {"rate": rate, "frames": frames}
                )
                body = json.dumps(
                    {"text": " Could you give me your order number?", "segments": [{"avg_logprob": -0.2}]}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_http_adapter_posts_wav_and_reads_the_text():
    """The server adapter posts the turn as 16 kHz WAV with model and language and reads text and confidence;
    a server error or an unreachable server is a RecognitionError (the call then goes on without words)."""
    server = _Server()
    try:
        rec = asr.recogniser_for(server.url, {"KEFU_ASR_MODEL": "large-v3"})
        r = rec.recognise(voiced(1.0)[::3], "zh_CN")
        assert r.text == "Could you give me your order number?" and abs(r.confidence - np.exp(-0.2)) < 1e-6
        assert server.requests == [
            {"path": "/v1/audio/transcriptions", "model": "large-v3", "language": "zh", "rate": 16000, "frames": 16000}
        ]
    finally:
        server.close()
    failing = _Server(status=500)
    try:
        with pytest.raises(asr.RecognitionError, match="answered 500"):
            asr.HttpRecogniser(failing.url).recognise(voiced(1.0)[::3], "en")
    finally:
        failing.close()
    with pytest.raises(asr.RecognitionError, match="could not be reached"):
        asr.HttpRecogniser(failing.url, timeout=1).recognise(voiced(1.0)[::3], "en")


def test_setting_selects_the_engine(monkeypatch):
    """KEFU_ASR: local by default (off under TESTING), off gives no recogniser, a URL the server adapter, and
    anything else is refused with the reason."""
    monkeypatch.delenv("KEFU_ASR", raising=False)
    assert asr.asr_setting({}) == "local" and asr.asr_setting({"TESTING": True}) == "off"
    assert asr.asr_setting({"KEFU_ASR": "http://gpu:9000"}) == "http://gpu:9000"
    assert asr.recogniser_for("off") is None
    assert isinstance(asr.recogniser_for("local"), asr.WhisperRecogniser)
    assert isinstance(asr.recogniser_for("https://asr.example"), asr.HttpRecogniser)
    with pytest.raises(asr.RecognitionError, match="must be local, off or an http"):
        asr.recogniser_for("vosk")
