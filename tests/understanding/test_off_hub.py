"""Under gevent the reading of agent lines (the language model: CPU only, 5-40 ms a line) runs off the hub
(concurrency.compute_off_hub), so a grading that reads a whole chat does not stop every other socket of the web
process. A real gevent process: the standard library patched first thing, as ``python app.py`` does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A grading's worth of distinct lines (three sentences each, as a chat's replies often are), read in one greenlet
# while another ticks every millisecond and records the longest it waited to run.
SCRIPT = r"""
import json, os, sys, time
sys.path.insert(0, os.getcwd())
from concurrency import patch_if_requested
assert patch_if_requested() == "gevent"
import gevent
from pathlib import Path
from scenarios.loader import load_pack
from understanding.embedding import get_embedder
from understanding.reader import Reader
from understanding.store import load_model_file

pack = load_pack(Path("scenarios/packs/en"))
reader = Reader(pack.info, load_model_file(pack.path), get_embedder("use"))
lines = [f"Sorry about order KF{1000 + i}, it left the depot on day {i}. It should reach you by Friday. Anything else?"
         for i in range(30)]
gaps, done = [], False

def ticker():
    last = time.perf_counter()
    while not done:
        gevent.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now

t = gevent.spawn(ticker)
gevent.sleep(0.02)
t0 = time.perf_counter()
acts = [reader.read(s).names for s in lines]
took = time.perf_counter() - t0
done = True
t.join()
print(json.dumps({"took": took, "max_gap": max(gaps), "ticks": len(gaps), "acts": acts}))
"""


def test_a_gevent_process_serves_on_while_lines_are_read(readers):
    env = {**os.environ, "KEFU_ASYNC_MODE": "gevent"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["took"] > 0.1, got  # enough reading for the hub to notice
    # On the hub, the ticker waited for the whole reading (max gap == took: 1.6 s for 40 such lines); off it, it
    # runs between the reading thread's turns on the interpreter (a few ms, more on a loaded machine).
    assert got["max_gap"] < 0.25 * got["took"], got
    assert got["ticks"] > 20, got
    # The same readings as in this (threading) process: the thread changes where, not what.
    lines = [
        f"Sorry about order KF{1000 + i}, it left the depot on day {i}. It should reach you by Friday. Anything else?"
        for i in range(30)
    ]
    assert got["acts"] == [readers["en"].read(s).names for s in lines]


def test_a_line_and_its_sentences_are_encoded_in_one_batch(packs, readers):
    """A line of several sentences is read whole and sentence by sentence; its embeddings come from one encode call
    (a batch costs about half of one call a text), its neighbours from one pass over the examples, and the reading
    is the same as the shared reader's (before: one call for the line and one for each sentence)."""
    from understanding.embedding import Embedder, get_embedder
    from understanding.reader import Reader
    from understanding.store import load_model_file

    inner = get_embedder("use")

    class Counting(Embedder):
        name, dim = inner.name, inner.dim

        def __init__(self) -> None:
            self.calls: list[int] = []

        def encode(self, texts):
            self.calls.append(len(texts))
            return inner.encode(texts)

    counting = Counting()
    reader = Reader(packs["zh_CN"].info, load_model_file(packs["zh_CN"].path), counting)
    passes: list[int] = []
    neighbours = reader.model.neighbours

    def counted(vectors):
        passes.append(len(vectors))
        return neighbours(vectors)

    reader.model.neighbours = counted
    line = "您好！您的包裹昨天已经到杭州转运中心了。给您带来的不便，实在抱歉。"
    reading = reader.read(line)
    assert counting.calls == [4]  # the line and its three sentences
    assert passes == [4]  # one pass over the examples for the four, not one each
    assert [(a.name, round(a.confidence, 4)) for a in reading.acts] == [
        (a.name, round(a.confidence, 4)) for a in readers["zh_CN"].read(line).acts
    ]
