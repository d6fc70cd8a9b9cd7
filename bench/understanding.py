"""Cost of reading agent messages: model load time, latency per message on one core, memory.

Runs the Reader directly (no Flask app, no database) on messages generated from the packs' own example texts
(recombined two at a time, so most are unseen and none is memoised), one thread, BLAS limited to one thread.

    .venv/bin/python bench/understanding.py [--messages 1000] [--seed 7]

Prints load time (embedding model and each language's classifier), latency p50/p95/p99/max per message,
CPU-ms per message and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    from scenarios.loader import load_pack
    from understanding.embedding import get_embedder
    from understanding.examples import load_examples
    from understanding.reader import Reader
    from understanding.store import load_model_file

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    embedder = get_embedder("use")
    t_embed = time.perf_counter() - t0
    readers, texts = {}, {}
    for lang in ("zh_CN", "en"):
        pack = load_pack(ROOT / "scenarios" / "packs" / lang)
        t = time.perf_counter()
        readers[lang] = Reader(pack.info, load_model_file(pack.path), embedder)
        readers[lang].read("warm up" if lang == "en" else "预热")
        print(f"load {lang} classifier + lexicon: {time.perf_counter() - t:.2f} s")
        texts[lang] = [e.text for e in load_examples(pack.path, lang)]
    print(f"load embedding model: {t_embed:.2f} s; total load {time.perf_counter() - t0:.2f} s")

    rng = random.Random(args.seed)
    wall: list[float] = []
    cpu0 = time.process_time()
    for i in range(args.messages):
        lang = "zh_CN" if i % 2 == 0 else "en"
        a, b = rng.sample(texts[lang], 2)
        msg = f"{a} {b}" if rng.random() < 0.5 else a + str(i)  # unseen text: no memo hit
        t = time.perf_counter()
        readers[lang].read(msg)
        wall.append((time.perf_counter() - t) * 1000)
    cpu = (time.process_time() - cpu0) * 1000 / args.messages
    wall.sort()

    def pct(p: float) -> float:
        return wall[min(len(wall) - 1, int(p * len(wall)))]

    print(
        f"{args.messages} messages: p50 {pct(0.5):.1f} ms, p95 {pct(0.95):.1f} ms, p99 {pct(0.99):.1f} ms,"
        f" max {wall[-1]:.1f} ms; {cpu:.1f} CPU-ms per message"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB (interpreter and imports before loading: {rss0:.0f} MB)")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
