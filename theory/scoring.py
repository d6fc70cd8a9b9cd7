"""Scoring a theory exam: 100 points spread equally over its questions, pass at 60.

Multiple choice is all-or-nothing: the answer scores only when the chosen letters are exactly the correct
set (no part marks for a subset, none for a superset). Single choice and true/false score when equal to the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .weights import AREAS, PASS_MARK


def normalise_answer(kind: str, answer, options: list[str] | None = None):
    """The canonical stored form of a candidate's answer, or None for 'no answer'. Raises ValueError when the
    answer cannot be one for this kind of question (a letter not among the options, a list for true/false)."""
    if answer is None or answer == "" or answer == []:
        return None
    if kind == "true_false":
        if isinstance(answer, bool):
            return answer
        if isinstance(answer, str) and answer.lower() in ("true", "false"):
            return answer.lower() == "true"
        raise ValueError("a true/false answer is true or false")
    if isinstance(answer, bool) or not isinstance(answer, str | list):
        raise ValueError("give option letter(s)")
    letters = [str(x).strip().upper() for x in (answer if isinstance(answer, list) else list(answer))]
    letters = [x for x in letters if x not in ("", ",")]
    if options is not None:
        unknown = [x for x in letters if x not in options]
        if unknown:
            raise ValueError(f"no option {', '.join(unknown)} in this question")
    if len(set(letters)) != len(letters):
        raise ValueError("a letter is given twice")
    if kind == "single":
        if len(letters) != 1:
            raise ValueError("choose exactly one option")
        return letters[0]
    return sorted(letters)


def is_correct(kind: str, key, answer) -> bool:
    """True when ``answer`` (normalised) earns the question's points."""
    if answer is None:
        return False
    if kind == "multiple":
        return isinstance(answer, list) and sorted(answer) == sorted(key)
    return answer == key


@dataclass
class ExamScore:
    """The result: total out of 100 (2 decimals), pass flag, and per-area subscores."""

    score: float
    passed: bool
    correct: int
    total: int
    per_area: dict[str, dict] = field(default_factory=dict)


def score_answers(question_ids: list[str], key: dict[str, dict], answers: dict) -> ExamScore:
    """Score ``answers`` ({qid: answer}) against ``key`` ({qid: {"area", "kind", "answer"}}).

    Each question is worth 100 / n points. Pass is decided on the exact fraction (correct * 100 >= 60 * n), so
    rounding the shown score never turns a fail into a pass. Per area: correct, total, points earned, points
    available, and percent correct."""
    n = len(question_ids)
    if n == 0:
        return ExamScore(score=0.0, passed=False, correct=0, total=0)
    per_q = Fraction(100, n)
    areas: dict[str, dict] = {}
    correct = 0
    for qid in question_ids:
        k = key[qid]
        row = areas.setdefault(k["area"], {"correct": 0, "total": 0})
        row["total"] += 1
        if is_correct(k["kind"], k["answer"], answers.get(qid)):
            row["correct"] += 1
            correct += 1
    ordered = {a: areas[a] for a in AREAS if a in areas} | {a: v for a, v in areas.items() if a not in AREAS}
    for row in ordered.values():
        row["points"] = round(float(per_q * row["correct"]), 2)
        row["max_points"] = round(float(per_q * row["total"]), 2)
        row["percent"] = round(100.0 * row["correct"] / row["total"], 1)
    total = per_q * correct
    return ExamScore(
        score=round(float(total), 2),
        passed=total >= PASS_MARK,
        correct=correct,
        total=n,
        per_area=ordered,
    )
