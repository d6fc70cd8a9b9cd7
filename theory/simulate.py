"""The no-knowledge simulation and the form-overlap figure of `flask theory check` (issue 19).

Forms are drawn exactly as exams are (theory.drawing: per-area weights, exposure control, options shuffled per
form), one after another, so the overlap figure is the one candidates of a centre would see. Each test-wise
strategy then answers every form using only surface cues (length, hedging words, position, "true"), never the
knowledge; a bank that measures knowledge keeps every strategy well under the pass mark.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from statistics import mean

from . import cues
from .drawing import Exposure, Item, draw_form, option_order
from .scoring import is_correct


@dataclass(frozen=True)
class Shown:
    """A question as one form shows it: options in the form's order (bank letters kept for scoring)."""

    item: Item
    order: tuple[str, ...]  # bank letters in shown order

    def texts(self) -> list[tuple[str, str]]:
        return [(letter, self.item.options[letter]) for letter in self.order]


Strategy = Callable[[Shown, str, random.Random], object]  # returns an answer in bank letters


def longest(shown, lang, rng):
    """The longest option (ties: the first shown); for multiple choice every option of above-average length."""
    if shown.item.kind == "true_false":
        return True
    opts = shown.texts()
    lens = [cues.text_len(t) for _, t in opts]
    if shown.item.kind == "single":
        return opts[lens.index(max(lens))][0]
    avg = mean(lens)
    picked = [letter for (letter, _), n in zip(opts, lens, strict=True) if n >= avg]
    if len(picked) < 2:
        picked = [letter for letter, _ in sorted(opts, key=lambda o: -cues.text_len(o[1]))[:2]]
    return sorted(picked)


def always_true(shown, lang, rng):
    """True for every true/false; a random guess elsewhere (2 or 3 options for a multiple)."""
    if shown.item.kind == "true_false":
        return True
    letters = list(shown.order)
    if shown.item.kind == "single":
        return rng.choice(letters)
    return sorted(rng.sample(letters, rng.choice((2, 3))))


def drop_shortest(shown, lang, rng):
    """Drop the shortest option, then guess among the rest (multiple: keep all the rest)."""
    if shown.item.kind == "true_false":
        return True
    opts = sorted(shown.texts(), key=lambda o: cues.text_len(o[1]))
    rest = [letter for letter, _ in opts[1:]]
    return rng.choice(rest) if shown.item.kind == "single" else sorted(rest)


def most_hedged(shown, lang, rng):
    """The option with the most hedging words (ties: longest); multiple: every hedged option, at least two;
    true/false: false when the statement has an absolute word, else true."""
    if shown.item.kind == "true_false":
        return not cues.absolute_words(shown.item.stem, lang)
    opts = shown.texts()
    ranked = sorted(opts, key=lambda o: (-cues.hedges(o[1], lang), -cues.text_len(o[1])))
    if shown.item.kind == "single":
        return ranked[0][0]
    picked = [letter for letter, t in opts if cues.hedges(t, lang)]
    if len(picked) < 2:
        picked = [letter for letter, _ in ranked[:2]]
    return sorted(picked)


def first_shown(shown, lang, rng):
    """Always A (the first shown); multiple: A and B; true/false: true."""
    if shown.item.kind == "true_false":
        return True
    return shown.order[0] if shown.item.kind == "single" else sorted(shown.order[:2])


def random_guess(shown, lang, rng):
    """Blind guessing, as a baseline."""
    if shown.item.kind == "true_false":
        return rng.random() < 0.5
    return always_true(shown, lang, rng)


STRATEGIES: dict[str, Strategy] = {
    "longest": longest,
    "always_true": always_true,
    "drop_shortest": drop_shortest,
    "most_hedged": most_hedged,
    "first_option": first_shown,
    "random": random_guess,
}


@dataclass
class LevelRun:
    """What N forms of one level and language gave: per-strategy mean and max score, and the overlap."""

    level: str
    lang: str
    forms: int
    scores: dict[str, dict[str, float]]
    overlap_mean: float
    overlap_max: float
    error: str | None = None

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def draw_forms(items: list[Item], level: str, lang: str, n_forms: int, seed: str = "check") -> list[list[Shown]]:
    """``n_forms`` exam forms of ``level`` drawn one after another with exposure control, options shuffled."""
    by_id = {it.qid: it for it in items}
    exposure = Exposure()
    forms = []
    for i in range(n_forms):
        form_seed = f"{seed}-{i}"
        qids = draw_form(items, level, form_seed, 100, exposure=exposure, lang=lang)
        exposure.record(qids)
        forms.append(
            [
                Shown(by_id[q], tuple(option_order(form_seed, q, list(by_id[q].options))) if by_id[q].options else ())
                for q in qids
            ]
        )
    return forms


def score_form(form: list[Shown], strategy: Strategy, lang: str, rng: random.Random) -> float:
    right = sum(is_correct(s.item.kind, s.item.answer, strategy(s, lang, rng)) for s in form)
    return 100.0 * right / len(form)


def overlap(forms: list[list[Shown]]) -> tuple[float, float]:
    """Mean and max share of questions two forms have in common, over every pair."""
    sets = [{s.item.qid for s in f} for f in forms]
    shares = [len(a & b) / max(len(a), 1) for a, b in combinations(sets, 2)]
    return (mean(shares), max(shares)) if shares else (0.0, 0.0)


def simulate(items: list[Item], level: str, lang: str, n_forms: int = 50, seed: str = "check") -> LevelRun:
    """Draw ``n_forms`` forms and run every strategy on each; a pool too small to draw from is reported."""
    from .drawing import DrawError

    try:
        forms = draw_forms(items, level, lang, n_forms, seed)
    except DrawError as e:
        return LevelRun(level, lang, 0, {}, 0.0, 0.0, error=str(e))
    scores = {}
    for name, strategy in STRATEGIES.items():
        rng = random.Random(f"{seed}|{name}|{level}|{lang}")
        got = [score_form(f, strategy, lang, rng) for f in forms]
        scores[name] = {"mean": round(mean(got), 2), "max": round(max(got), 2)}
    o_mean, o_max = overlap(forms)
    return LevelRun(level, lang, len(forms), scores, round(o_mean, 4), round(o_max, 4))
