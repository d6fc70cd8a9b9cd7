"""How the customer sounds: upset, neutral or satisfied, read from their own words.

A simulated customer's mood is known (its ``customer.state`` events); a person playing the customer has none, so the
grader reads their lines. The reading is a similarity vote (k nearest, cosine, weighted) against the content packs'
own customer lines, labelled by what the scenario says about them: a persona's opening in its starting emotion, the
lines of rules that raise or lower the emotion, what a satisfied customer says and what one who gives up says; and
the pack's ``customer_moods`` (pack.yaml: endings the scenarios rarely say, such as "forget it", sarcasm, a plain
"got it"). New scenarios and lines teach it; nothing is trained or downloaded."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np

from concurrency import compute_off_hub

MOODS = ("upset", "neutral", "satisfied")
K = 7
# A neighbour's vote is its similarity to this power: the nearest lines count most. Leave-one-out over the packs'
# labelled lines (scenario lines and customer_moods), K 7: power 1 0.698 en / 0.708 zh_CN, 4 0.714 / 0.730, 16
# 0.703 / 0.710 (bench/README.md, understanding).
VOTE_POWER = 4
_CODES = re.compile(r"[A-Za-z]*\d[\w-]*")  # order numbers, phone digits, amounts
_lock = threading.Lock()


@dataclass(frozen=True)
class Mood:
    """A customer line's mood, the vote's confidence (0..1), and the nearest pack line (the evidence)."""

    mood: str
    confidence: float
    nearest: str


def mood_examples(scenarios, pack=None) -> list[tuple[str, str]]:
    """(line, mood) pairs from scenarios' customer lines (openings, rule lines, satisfied and abandon lines), then
    the pack's own labelled lines (PackInfo ``customer_moods``: resignation, sarcasm, plain acknowledgement, which
    scenario lines rarely say); a line already seen keeps its first mood."""
    out: list[tuple[str, str]] = []
    for sc in scenarios:
        start = "neutral" if sc.customer.emotion == "calm" else "upset"
        out += [(line, start) for line in sc.opening]
        for rule in sc.rules:
            if rule.end == "abandon" or rule.emotion > 0:
                mood = "upset"
            elif rule.end == "satisfied":
                mood = "satisfied"
            else:
                mood = "neutral"
            out += [(line, mood) for line in rule.say]
        out += [(line, "satisfied") for line in sc.satisfied_say]
        out += [(line, "upset") for line in sc.abandon_say]
    if pack is not None:
        for mood in MOODS:
            out += [(line, mood) for line in getattr(pack.customer_moods, mood)]
    seen, unique = set(), []
    for text, mood in out:
        if text.strip() and text not in seen:
            seen.add(text)
            unique.append((text, mood))
    return unique


class MoodReader:
    """Reads customer lines against one language's labelled pack lines."""

    def __init__(self, embedder, examples: list[tuple[str, str]]):
        self.embedder = embedder
        self.texts = [t for t, _ in examples]
        self.moods = np.array([MOODS.index(m) for _, m in examples], dtype=np.int64)
        # built on first use, maybe on the hub of a gevent process: the packs' customer lines, off the hub
        self.vectors = (
            compute_off_hub(embedder.encode, self.texts) if self.texts else np.zeros((0, 1), dtype=np.float32)
        )
        self._memo: dict[str, Mood] = {}

    def read(self, text: str) -> Mood:
        """The mood of one customer line (neutral for an empty line or when there are no examples)."""
        text = (text or "").strip()
        if not text or not self.texts:
            return Mood("neutral", 0.0, "")
        if sum(ch.isalpha() for ch in _CODES.sub("", text)) < 2:
            return Mood("neutral", 1.0, "")  # an order number, a phone number, "ok": nothing to read a mood from
        hit = self._memo.get(text)
        if hit is not None:
            return hit
        v = compute_off_hub(self.embedder.encode, [text])[0]  # under gevent: not on the hub (concurrency.py)
        sims = self.vectors @ v
        top = np.argsort(-sims)[:K]
        votes = np.zeros(len(MOODS))
        for i in top:
            votes[self.moods[i]] += max(float(sims[i]), 0.0) ** VOTE_POWER
        best = int(np.argmax(votes))
        total = float(votes.sum()) or 1.0
        mood = Mood(MOODS[best], round(float(votes[best]) / total, 3), self.texts[int(top[0])])
        if len(self._memo) < 10_000:
            self._memo[text] = mood
        return mood


def mood_reader(lang: str) -> MoodReader:
    """The app's MoodReader for ``lang``, rebuilt when the loaded content changes."""
    from flask import current_app

    from scenarios.registry import content_generation, get_pack, list_scenarios

    from .store import embedder_for_app

    key = ("kefu_mood_reader", lang)
    gen = content_generation()
    with _lock:
        cached = current_app.extensions.get(key)
        if cached is not None and cached[0] == gen:
            return cached[1]
    reader = MoodReader(embedder_for_app(), mood_examples(list_scenarios(lang=lang), get_pack(lang)))
    with _lock:
        current_app.extensions[key] = (gen, reader)
    return reader
