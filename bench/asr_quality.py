"""Speech recognition quality and cost on the project's own synthetic speech (media.asr, the packaged model).

What it measures, for each language:
- quality: word error rate (en) and character error rate (zh) of the recogniser on agent lines written for this
  bench, spoken by espeak-ng (media.tts) at several voices and speeds, clean, with white noise at 15 dB SNR, and
  band-limited to a telephone's 300-3,400 Hz at 8 kHz and back;
- cost: the real-time factor (recognition seconds per second of audio) with 1 and 2 CTranslate2 threads, and
  what the post-call transcript of one minute of a call leg costs (``transcribe_leg`` on a leg of lines and
  pauses, beam 5 as after the call).

Plainly: espeak-ng is a formant synthesiser, not a human voice. Its English is intelligible and its Mandarin is
poor (robotic, tones flattened): these figures say how the recogniser does on *that*, as a regression check, and
say little about a trainee's real voice, for which Whisper base is much better in English than on this audio and,
on published benchmarks, weak in Mandarin (larger models, or a centre's own server via KEFU_ASR=http://..., do
better).

Usage: ``.venv/bin/python bench/asr_quality.py [--json out.json] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Agent lines written for this bench (service phrases of both languages; not from any calibration set).
LINES = {
    "en": [
        "Hello, thank you for calling customer service, how can I help you?",
        "Could you give me your order number, please?",
        "I'm sorry for the trouble, let me check that for you.",
        "May I have your name and the last four digits of your phone number?",
        "Please hold on while I check the tracking information.",
        "Your refund will be back on your card in three to five working days.",
        "I have escalated this to our logistics team, they will call you tomorrow.",
        "Is there anything else I can help you with today?",
        "Thank you for calling, have a nice day, goodbye.",
        "Calm down, that's not my problem.",
    ],
    "zh_CN": [
        "您好，请问有什么可以帮您？",
        "请问您的订单号是多少？",
        "非常抱歉给您带来不便，我马上为您查询。",
        "请您提供一下姓名和手机号后四位。",
        "请您稍等，我帮您查一下物流信息。",
        "退款会在三到五个工作日内原路返回。",
        "我已经把问题升级给物流部门，明天会给您回电。",
        "请问还有其他可以帮您的吗？",
        "感谢您的来电，祝您生活愉快，再见。",
        "这不是我的问题，你自己去看吧。",
    ],
}
VOICES = {"en": ["en", "en_US"], "zh_CN": ["zh_CN"]}
SPEEDS = [140, 165, 190]  # words per minute (espeak's rate; 165 is the calm caller's)
CONDITIONS = ["clean", "noise15dB", "telephone8k"]


def band_limit(pcm16k: np.ndarray) -> np.ndarray:
    """A telephone channel: 300-3,400 Hz, sampled at 8 kHz, brought back to 16 kHz."""
    x = pcm16k.astype(np.float64)
    spec = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(x.size, 1 / 16000)
    spec[(freqs < 300) | (freqs > 3400)] = 0
    narrow = np.fft.irfft(spec, x.size)[::2]  # 8 kHz
    back = np.interp(np.arange(x.size) / 2, np.arange(narrow.size), narrow)
    return np.clip(back, -32768, 32767).astype(np.int16)


def add_noise(pcm16k: np.ndarray, snr_db: float, rng) -> np.ndarray:
    x = pcm16k.astype(np.float64)
    power = np.mean(x[np.abs(x) > 100] ** 2) if np.any(np.abs(x) > 100) else 1.0
    noise = rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), x.size)
    return np.clip(x + noise, -32768, 32767).astype(np.int16)


def audio(text: str, voice: str, wpm: int, condition: str, rng) -> np.ndarray:
    from media import tts
    from media.audio import to_16k

    pcm = to_16k(np.asarray(tts.synthesise(text, voice, wpm=wpm)))
    if condition == "noise15dB":
        return add_noise(pcm, 15, rng)
    if condition == "telephone8k":
        return band_limit(pcm)
    return pcm


def quality(rec, langs, speeds, conditions) -> list[dict]:
    from media.asr_score import error_rate

    rows = []
    for lang in langs:
        for voice in VOICES[lang]:
            for wpm in speeds:
                for cond in conditions:
                    rng = np.random.default_rng(7)
                    errs, secs, dur, examples = [], 0.0, 0.0, []
                    for text in LINES[lang]:
                        pcm = audio(text, voice, wpm, cond, rng)
                        r = rec.recognise(pcm, lang)
                        errs.append(error_rate(text, r.text, lang))
                        secs += r.seconds
                        dur += pcm.size / 16000
                        if len(examples) < 2:
                            examples.append([text, r.text])
                    rows.append(
                        {
                            "lang": lang,
                            "voice": voice,
                            "wpm": wpm,
                            "condition": cond,
                            "metric": "CER" if lang.startswith("zh") else "WER",
                            "error_rate": round(float(np.mean(errs)), 3),
                            "lines_exact": sum(e == 0 for e in errs),
                            "lines": len(errs),
                            "rtf": round(secs / dur, 3),
                            "examples": examples,
                        }
                    )
                    print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return rows


def cost() -> dict:
    """Real-time factor per thread count, and the post-call transcript's cost per minute of a leg."""
    from media.asr import WhisperRecogniser, transcribe_leg
    from media.audio import to_16k
    from media.tts import synthesise

    out = {}
    for threads in (1, 2):
        rec = WhisperRecogniser(threads=threads)
        rec.warm()
        for lang in ("en", "zh_CN"):
            pcm = [to_16k(np.asarray(synthesise(t, lang))) for t in LINES[lang]]
            t0 = time.perf_counter()
            for p in pcm:
                rec.recognise(p, lang)
            spent = time.perf_counter() - t0
            out[f"rtf_{lang}_{threads}thread"] = round(spent / (sum(p.size for p in pcm) / 16000), 3)
            out[f"per_turn_s_{lang}_{threads}thread"] = round(spent / len(pcm), 3)
    # one minute of an agent leg: lines with 1.5-3 s pauses (the caller talks then), recognised after the call
    rec = WhisperRecogniser(threads=2)
    for lang in ("en", "zh_CN"):
        parts, rng, seconds = [], np.random.default_rng(3), 0.0
        while seconds < 60:
            for t in LINES[lang]:
                p = to_16k(np.asarray(synthesise(t, lang)))
                gap = np.zeros(int(rng.uniform(1.5, 3.0) * 16000), np.int16)
                parts += [p, gap]
                seconds += (p.size + gap.size) / 16000
                if seconds >= 60:
                    break
        leg = np.concatenate(parts)[: 60 * 16000]
        t0, c0 = time.perf_counter(), time.process_time()
        segs, problems = transcribe_leg(rec, leg, lang, "agent", beam_size=5)
        out[f"postcall_{lang}_wall_s_per_leg_minute"] = round(time.perf_counter() - t0, 2)
        out[f"postcall_{lang}_cpu_s_per_leg_minute"] = round(time.process_time() - c0, 2)
        out[f"postcall_{lang}_segments"] = len(segs)
        out[f"postcall_{lang}_speech_share"] = round(sum(s.end - s.start for s in segs) / 60, 2)
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write every row here")
    ap.add_argument("--quick", action="store_true", help="165 wpm only, clean and telephone")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from media.asr import WhisperRecogniser

    print(f"load average at start: {os.getloadavg()}", flush=True)
    rec = WhisperRecogniser()
    t0 = time.perf_counter()
    rec.warm()
    load_s = round(time.perf_counter() - t0, 2)
    speeds = [165] if args.quick else SPEEDS
    conditions = ["clean", "telephone8k"] if args.quick else CONDITIONS
    rows = quality(rec, list(LINES), speeds, conditions)
    costs = cost()
    summary = {}
    for lang in LINES:
        for cond in conditions:
            sel = [r["error_rate"] for r in rows if r["lang"] == lang and r["condition"] == cond]
            summary[f"{lang}_{cond}"] = round(float(np.mean(sel)), 3)
    result = {"model_load_s": load_s, "summary_error_rate": summary, "cost": costs, "load_avg_end": os.getloadavg()}
    print(json.dumps(result), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, **result}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
