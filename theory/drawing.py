"""Drawing a theory exam from the bank by the §4.1 weights of a level, with exposure control, and shuffling each
question's options for the candidate.

The core (``draw_form``) is pure: it works on ``Item`` records, so `flask theory check` can draw hundreds of forms
from the YAML banks without a database, exactly as an exam is drawn. ``draw_exam`` feeds it the database's
questions and the exposure of the real exams drawn so far.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

from extensions import db

from .weights import EXAM_MINUTES_MIN, weights_for


class DrawError(ValueError):
    """The exam cannot be drawn as asked (the bank is short in an area, or the settings are invalid)."""


@dataclass(frozen=True)
class Item:
    """What drawing and the no-knowledge simulation need of a question."""

    qid: str
    area: str
    kind: str
    levels: tuple[str, ...]
    pool: str = "exam"
    stem: str = ""
    options: dict = field(default_factory=dict, hash=False, compare=False)
    answer: object = None

    @classmethod
    def of(cls, q) -> Item:
        """From a TheoryQuestion row or a loader BankQuestion."""
        if hasattr(q, "as_row"):
            q = _Row(q.as_row())
        return cls(
            qid=q.qid,
            area=q.area,
            kind=q.kind,
            levels=tuple(q.levels or ()),
            pool=getattr(q, "pool", None) or "exam",
            stem=q.stem,
            options=dict(q.options or {}),
            answer=q.answer,
        )


class _Row:
    def __init__(self, row: dict):
        self.__dict__.update(row)


@dataclass
class Exposure:
    """How often each question was drawn so far: {qid: (times drawn, index of the last form drawing it)}.

    Drawing prefers the least drawn questions, ties broken by the form's seed, so two forms of a level share as
    few questions as the pool allows (the exposure control of issue 19). Recency is deliberately not a tie-break:
    with a pool of exactly two forms' worth, "least recently drawn" would hand form 3 the very paper of form 1."""

    seen: dict[str, tuple[int, int]] = field(default_factory=dict)
    forms: int = 0

    def record(self, qids: list[str]) -> None:
        self.forms += 1
        for qid in qids:
            count, _last = self.seen.get(qid, (0, 0))
            self.seen[qid] = (count + 1, self.forms)

    def key(self, qid: str) -> int:
        return self.seen.get(qid, (0, 0))[0]


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


def draw_form(
    items: list[Item],
    level: str,
    seed: str | int,
    n_questions: int = 100,
    practice: bool = False,
    exposure: Exposure | None = None,
    lang: str = "",
) -> list[str]:
    """Question ids for one form: per area as ``allocate`` says, from the exam pool (practice: the practice pool
    only), questions that suit ``level``, the least exposed first, kinds mixed within an area (round-robin over
    single / multiple / true-false), no duplicates, the same list for the same seed and exposure.
    Raises DrawError naming the area the pool cannot supply."""
    if n_questions < 1:
        raise DrawError("an exam needs at least one question")
    try:
        counts = allocate(level, n_questions)
    except ValueError as e:
        raise DrawError(str(e)) from e
    pool_name = "practice" if practice else "exam"
    exposure = exposure or Exposure()
    drawn: list[str] = []
    for area, need in counts.items():
        pool = sorted(
            (it for it in items if it.area == area and it.pool == pool_name and level in it.levels),
            key=lambda it: it.qid,
        )
        if len(pool) < need:
            what = "practice" if practice else "exam"
            raise DrawError(
                f"the {lang} bank has {len(pool)} {area} {what} question(s) for {level}; this form needs {need}"
            )
        rng = random.Random(f"{seed}|{level}|{lang}|{area}")
        by_kind: dict[str, list[str]] = {}
        for it in pool:
            by_kind.setdefault(it.kind, []).append(it.qid)
        kinds = sorted(by_kind)
        rng.shuffle(kinds)
        for k in kinds:
            rng.shuffle(by_kind[k])
            by_kind[k].sort(key=exposure.key)  # stable: the shuffle breaks ties among equally exposed ones
        interleaved: list[str] = []
        while any(by_kind.values()):
            for k in kinds:
                if by_kind[k]:
                    interleaved.append(by_kind[k].pop(0))
        # Least exposed first; within one exposure tier the kind round-robin above is kept (stable sort).
        interleaved.sort(key=exposure.key)
        picked = interleaved[:need]
        rng.shuffle(picked)
        drawn += picked
    return drawn


def option_order(seed: str | int, qid: str, letters: list[str]) -> list[str]:
    """The bank letters of a question in the order this form shows them (deterministic from the form's seed)."""
    order = sorted(letters)
    random.Random(f"{seed}|{qid}|options").shuffle(order)
    return order


def shown_letters(n: int) -> list[str]:
    """The letters a candidate sees, in order: A, B, C, ..."""
    return list(string.ascii_uppercase[:n])


def to_bank_letters(order: list[str] | None, shown) -> object:
    """Map a candidate's shown letter(s) back to the bank's (identity when the form kept bank order)."""
    if not order or shown is None or isinstance(shown, bool):
        return shown
    table = dict(zip(shown_letters(len(order)), order, strict=True))
    if isinstance(shown, str):
        return "".join(table.get(ch, ch) for ch in shown)
    return [table.get(str(x), x) for x in shown]


def to_shown_letters(order: list[str] | None, bank) -> object:
    """Map bank letter(s) to the letters this form shows (for a released key, or to re-check saved answers)."""
    if not order or bank is None or isinstance(bank, bool):
        return bank
    table = dict(zip(order, shown_letters(len(order)), strict=True))
    if isinstance(bank, str):
        return "".join(table.get(ch, ch) for ch in bank)
    return sorted(table.get(str(x), x) for x in bank)


def exam_exposure(lang: str, exclude_id: int | None = None) -> Exposure:
    """The exposure of every real exam drawn so far in ``lang``, oldest first."""
    from .models import TheoryExam

    rows = db.session.execute(
        db.select(TheoryExam.id, TheoryExam.question_ids)
        .where(TheoryExam.lang == lang, TheoryExam.practice.is_(False), TheoryExam.started_at.is_not(None))
        .order_by(TheoryExam.started_at, TheoryExam.id)
    ).all()
    exposure = Exposure()
    for exam_id, qids in rows:
        if exam_id != exclude_id and qids:
            exposure.record(list(qids))
    return exposure


def draw_exam(
    level: str,
    lang: str,
    seed: str | int,
    n_questions: int = 100,
    duration_minutes: int = EXAM_MINUTES_MIN,
    practice: bool = False,
    exposure: Exposure | None = None,
) -> list[str]:
    """Question ids for one exam or practice quiz from the database's active questions in ``lang`` (see
    ``draw_form``). A real exam lasts at least 60 minutes (§1.9) and, unless ``exposure`` is given, prefers the
    questions the earlier real exams in ``lang`` used least; practice may be shorter and draws only practice items.
    """
    from .models import TheoryQuestion

    if not practice and duration_minutes < EXAM_MINUTES_MIN:
        raise DrawError(f"a theory exam lasts at least {EXAM_MINUTES_MIN} minutes (standard §1.9)")
    if duration_minutes < 1:
        raise DrawError("a quiz lasts at least one minute")
    rows = db.session.scalars(
        db.select(TheoryQuestion).where(TheoryQuestion.lang == lang, TheoryQuestion.active.is_(True))
    ).all()
    if exposure is None and not practice:
        exposure = exam_exposure(lang)
    return draw_form(
        [Item.of(q) for q in rows], level, seed, n_questions, practice=practice, exposure=exposure, lang=lang
    )
