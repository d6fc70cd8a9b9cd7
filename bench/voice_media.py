"""What the simulated caller's media pieces cost per call: TTS, turn detection, call metrics, the caller's policy.

Measures, on this machine, with wall-clock and this thread's CPU time:
- ``media.tts.synthesise``: a fresh line (cache miss) and a cached one, zh_CN and en, as ms per line and as the
  real-time factor (seconds of audio per second of CPU);
- ``media.vad.TurnDetector.feed`` on 20 ms chunks of 48 kHz speech-and-silence, as µs per chunk and as the share
  of one core one call's agent leg takes (50 chunks a second);
- ``media.call_metrics.compute_call_metrics`` on a 5-minute two-leg call, as seconds per call minute;
- ``simulator.voice_customer.VoiceCustomer.tick`` at 5 Hz, as µs per tick.

Usage: ``.venv/bin/python bench/voice_media.py [--lines 40] [--call-minutes 5]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media import tts  # noqa: E402
from media.call_metrics import compute_call_metrics  # noqa: E402
from media.vad import TurnDetector  # noqa: E402

ZH = ["您好，我的快递第{}天了还没到，物流一直没有更新。", "我已经打了{}次电话了，到底什么时候能退款？"]
EN = ["Hello, my parcel is {} days late and the tracking hasn't moved.", "This is call number {} about my refund."]


def timed(fn, *args):
    w, c = time.perf_counter(), time.thread_time()
    out = fn(*args)
    return out, time.perf_counter() - w, time.thread_time() - c


def bench_tts(lines: int) -> None:
    for lang, templates in (("zh_CN", ZH), ("en", EN)):
        tts.synthesise(templates[0].format(0), lang)  # load the library and the voice once
        miss, cpu, audio = [], 0.0, 0.0
        for i in range(lines):
            pcm, wall, c = timed(tts.synthesise, templates[i % 2].format(i + 1), lang)
            miss.append(wall * 1000)
            cpu += c
            audio += pcm.size / tts.SAMPLE_RATE
        hits = [timed(tts.synthesise, templates[0].format(1), lang)[1] * 1e6 for _ in range(200)]
        print(
            f"tts {lang}: miss p50 {statistics.median(miss):.1f} ms, max {max(miss):.1f} ms per line "
            f"({audio / lines:.2f} s of audio each); real-time factor {audio / cpu:.0f}x (CPU); "
            f"cache hit p50 {statistics.median(hits):.1f} µs"
        )


def speechy(seconds: float) -> np.ndarray:
    """Alternating synthesised speech and silence, 48 kHz."""
    parts, total = [], 0
    i = 0
    while total < seconds * tts.SAMPLE_RATE:
        line = tts.synthesise(EN[i % 2].format(i), "en")
        gap = np.zeros(int(tts.SAMPLE_RATE * (1.5 + (i % 3))), np.int16)
        parts += [line, gap]
        total += line.size + gap.size
        i += 1
    return np.concatenate(parts)[: int(seconds * tts.SAMPLE_RATE)]


def bench_vad(seconds: float = 60.0) -> None:
    pcm = speechy(seconds)
    det = TurnDetector()
    chunk = 960  # 20 ms at 48 kHz, as WebRTC delivers it
    per = []
    c0 = time.thread_time()
    for i in range(0, pcm.size - chunk + 1, chunk):
        t = time.perf_counter()
        det.feed(pcm[i : i + chunk], i / tts.SAMPLE_RATE)
        per.append((time.perf_counter() - t) * 1e6)
    cpu = time.thread_time() - c0
    share = cpu / seconds * 100
    print(
        f"vad: {len(per)} chunks of 20 ms: p50 {statistics.median(per):.0f} µs, p99 "
        f"{np.percentile(per, 99):.0f} µs per chunk; {share:.2f}% of a core per listened leg"
    )


def bench_metrics(minutes: float) -> None:
    seconds = minutes * 60
    agent = speechy(seconds)
    customer = np.roll(agent, int(2.2 * tts.SAMPLE_RATE))
    _, wall, cpu = timed(compute_call_metrics, agent, customer, tts.SAMPLE_RATE, [(30.0, 50.0)])
    print(f"call metrics: {minutes:g}-minute call in {wall:.2f} s wall, {cpu:.2f} s CPU ({cpu / minutes:.2f} s/min)")


def bench_policy() -> None:
    from scenarios.loader import load_pack
    from simulator.voice_customer import VoiceCustomer

    pack = load_pack(Path(__file__).resolve().parents[1] / "scenarios" / "packs" / "en")
    sc = next(s for s in pack.scenarios if s.id == "en-voice-late-delivery")
    c = VoiceCustomer(sc, "en", seed=1)
    c.opening(0.0)
    per = []
    for k in range(3000):
        at = k * 0.2
        if k % 50 == 10:
            c.on_agent_speech_start(at)
        if k % 50 == 20:
            c.on_agent_turn_end(at)
        t = time.perf_counter()
        c.tick(at)
        per.append((time.perf_counter() - t) * 1e6)
    print(f"VoiceCustomer.tick at 5 Hz: p50 {statistics.median(per):.1f} µs, max {max(per):.0f} µs")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=40)
    ap.add_argument("--call-minutes", type=float, default=5)
    args = ap.parse_args()
    bench_tts(args.lines)
    bench_vad()
    bench_metrics(args.call_minutes)
    bench_policy()


if __name__ == "__main__":
    main()
