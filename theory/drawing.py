"""Drawing a theory exam from the bank by the §4.1 weights of a level."""

from __future__ import annotations

import random

from .weights import EXAM_MINUTES_MIN, weights_for


class DrawError(ValueError):
    """The exam cannot be drawn as asked (the bank is short in an area, or the settings are invalid)."""


def allocate(level: str, n_questions: int) -> dict[str, int]:
    """Questions per area for ``n_questions`` by the level's weights, by largest-remainder rounding.

    Each area gets floor(n * weight / 100); the questions left over go to the areas with the largest
    fractional remainders, ties broken by the order of the weight table. Areas of weight 0 get none."""
    weights = weights_for(level)
    total = sum(weights.values())
    exact = {area: n_questions * w / total for area, w in weights.items()}
    counts = {area: int(q) for area, q in exact.items()}
    left = n_questions - sum(counts.values())
    order = sorted(weights, key=lambda a: (-(exact[a] - counts[a]), list(weights).index(a)))
    for area in order[:left]:
        counts[area] += 1
    return {area: c for area, c in counts.items() if c > 0}


def draw_exam(
    level: str,
    lang: str,
    seed: str | int,
    n_questions: int = 100,
    duration_minutes: int = EXAM_MINUTES_MIN,
    practice: bool = False,
) -> list[str]:
    """Question ids for one exam: per area as ``allocate`` says, only active questions in ``lang`` that suit
    ``level``, kinds mixed within each area (round-robin over single / multiple / true-false, each shuffled),
    no duplicates, and the same list for the same seed. A real exam lasts at least 60 minutes (§1.9);
    practice may be shorter. Raises DrawError naming the area the bank cannot supply."""
    from extensions import db

    from .models import TheoryQuestion

    if n_questions < 1:
        raise DrawError("an exam needs at least one question")
    if not practice and duration_minutes < EXAM_MINUTES_MIN:
        raise DrawError(f"a theory exam lasts at least {EXAM_MINUTES_MIN} minutes (standard §1.9)")
    if duration_minutes < 1:
        raise DrawError("a quiz lasts at least one minute")
    try:
        counts = allocate(level, n_questions)
    except ValueError as e:
        raise DrawError(str(e)) from e

    rows = db.session.execute(
        db.select(TheoryQuestion.qid, TheoryQuestion.area, TheoryQuestion.kind, TheoryQuestion.levels)
        .where(TheoryQuestion.lang == lang, TheoryQuestion.active.is_(True), TheoryQuestion.area.in_(counts))
        .order_by(TheoryQuestion.qid)
    ).all()
    drawn: list[str] = []
    for area, need in counts.items():
        pool = [r for r in rows if r.area == area and level in (r.levels or [])]
        if len(pool) < need:
            raise DrawError(f"the {lang} bank has {len(pool)} {area} question(s) for {level}; this exam needs {need}")
        rng = random.Random(f"{seed}|{level}|{lang}|{area}")
        by_kind: dict[str, list[str]] = {}
        for r in pool:
            by_kind.setdefault(r.kind, []).append(r.qid)
        kinds = sorted(by_kind)
        rng.shuffle(kinds)
        for k in kinds:
            rng.shuffle(by_kind[k])
        picked: list[str] = []
        while len(picked) < need:
            for k in kinds:
                if by_kind[k] and len(picked) < need:
                    picked.append(by_kind[k].pop())
        rng.shuffle(picked)
        drawn += picked
    return drawn
