"""Skill-exam results: per-function scores weighted by the §4.2 table of the level, total out of 100, pass at
60, pass^k over scenario families, and the theory result beside it. ``compute_result`` and ``pass_k`` are
pure arithmetic; ``exam_result`` reads an exam's attempts and their current scorecards."""

from __future__ import annotations

from sqlalchemy import select

from extensions import db
from theory.models import TheoryExam

from .models import Scorecard, SkillExam, SkillExamAttempt
from .standard import FUNCTION_KEYS, PASS_MARK, weights_for


def attempts_of(exam: SkillExam) -> list[SkillExamAttempt]:
    return list(
        db.session.scalars(
            select(SkillExamAttempt).where(SkillExamAttempt.exam_id == exam.id).order_by(SkillExamAttempt.position)
        )
    )


# -- result arithmetic --------------------------------------------------------------------------------------


def _current_cards(contact_ids: list[int]) -> dict[int, Scorecard]:
    if not contact_ids:
        return {}
    rows = db.session.scalars(
        select(Scorecard)
        .where(Scorecard.contact_id.in_(contact_ids), Scorecard.current.is_(True))
        .order_by(Scorecard.id)
    )
    return {r.contact_id: r for r in rows}  # the newest current card per contact wins


def add_exam_part_provider(app, rows, still_open) -> None:
    """Let another package put its own parts in a skill exam (the work items of tasks/): ``rows(exam)`` gives
    result rows shaped like the attempts' (``{"family", "attempt", "scenario_id", "card"}``, ``card`` in the
    scorecard shape), ``still_open(exam)`` says whether the candidate still works on one (the exam then does
    not finish before its time is up)."""
    app.extensions.setdefault("kefu_exam_parts", []).append((rows, still_open))


def _providers() -> list:
    from flask import current_app, has_app_context

    return current_app.extensions.get("kefu_exam_parts", []) if has_app_context() else []


def other_parts_open(exam: SkillExam) -> bool:
    """True while a provider's part of the exam (a work item) is still being worked on."""
    return any(still_open(exam) for _rows, still_open in _providers())


def exam_result(exam: SkillExam) -> dict:
    """The exam result from the attempts and their current scorecards (see ``compute_result``), with the rows
    of other parts (work items) that providers add."""
    attempts = attempts_of(exam)
    cards = _current_cards([a.contact_id for a in attempts if a.contact_id])
    rows = []
    for a in attempts:
        card = cards.get(a.contact_id) if a.contact_id else None
        rows.append(
            {
                "family": a.family,
                "attempt": a.attempt,
                "scenario_id": a.scenario_id,
                "card": card.data if card else None,
            }
        )
    for part_rows, _open in _providers():
        rows += part_rows(exam)
    return compute_result(exam.level, rows, exam.k)


def compute_result(level: str, attempts: list[dict], k: int) -> dict:
    """Pure arithmetic of a skill-exam result. ``attempts``: ``[{"family", "attempt", "card"}]`` in serving
    order, ``card`` the scorecard data (None: never served, abandoned unanswered or not gradable).

    Per function f with a §4.2 weight w_f > 0 for the level: score_f = the mean over attempts of the
    attempt's function score, where a graded attempt counts only in the functions applicable to it (its
    scorecard's ``functions[f].score``), an attempt without a scorecard counts 0 in every weighted function,
    and an attempt whose scorecard failed a gate counts 0 in the functions applicable to it. Functions with
    no counted attempt are not applicable. total = 100 * sum(w_f * score_f) / sum(w_f) over applicable
    functions; passed when total >= 60.

    pass^k (after tau-bench): an attempt passes when its scorecard passed. For j = 1..k, a family passes^j when
    its first j attempts all passed (a family with fewer than j attempts does not); pass^j = the share of
    families that pass^j."""
    weights = weights_for(level)
    weighted = [f for f in FUNCTION_KEYS if weights[f] > 0]
    sums = {f: [] for f in weighted}
    complete = True
    for a in attempts:
        card = a.get("card")
        if card is None:
            for f in weighted:
                sums[f].append(0.0)
            continue
        complete = complete and bool(card.get("complete", True))
        for f in weighted:
            fn = (card.get("functions") or {}).get(f) or {}
            if fn.get("applicable"):
                sums[f].append(0.0 if card.get("gated") else float(fn.get("score", 0.0)))
    functions = {}
    used = {f: v for f, v in sums.items() if v}
    total_weight = sum(weights[f] for f in used)
    for f in FUNCTION_KEYS:
        vals = sums.get(f) or []
        score = sum(vals) / len(vals) if vals else 0.0
        share = weights[f] / total_weight if f in used and total_weight else 0.0
        functions[f] = {
            "weight": weights[f],
            "applicable": f in used,
            "attempts": len(vals),
            "score": round(score, 4),
            "weight_used": round(share, 4),
            "points": round(100 * share * score, 2),
        }
    raw = sum(weights[f] * sum(v) / len(v) for f, v in used.items())
    total = round(100 * raw / total_weight, 2) if total_weight else 0.0
    passk = pass_k([(a["family"], bool(a.get("card") and a["card"].get("passed"))) for a in attempts], k)
    return {
        "level": level,
        "functions": functions,
        "total": total,
        "pass_mark": PASS_MARK,
        "passed": bool(total_weight and total >= PASS_MARK),
        "complete": complete,
        "attempts": len(attempts),
        "graded": sum(1 for a in attempts if a.get("card") is not None),
        "pass_k": passk,
    }


def pass_k(outcomes: list[tuple[str, bool]], k: int) -> dict:
    """``outcomes``: (family, passed) in serving order. Returns ``{"k", "overall": {j: share}, "families":
    {family: {"attempts": [bool...], "pass": {j: bool}}}}`` with j = 1..k (see ``compute_result``)."""
    fams: dict[str, list[bool]] = {}
    for fam, ok in outcomes:
        fams.setdefault(fam, []).append(ok)
    families = {
        fam: {"attempts": runs, "pass": {str(j): len(runs) >= j and all(runs[:j]) for j in range(1, k + 1)}}
        for fam, runs in fams.items()
    }
    overall = {
        str(j): round(sum(f["pass"][str(j)] for f in families.values()) / len(families), 4) if families else 0.0
        for j in range(1, k + 1)
    }
    return {"k": k, "overall": overall, "families": families}


def combined_result(exam: SkillExam) -> dict | None:
    """The candidate's latest submitted theory exam at the exam's level beside this skill result: the
    standard certifies a level when both parts score 60 or more. None when there is no theory result."""
    theory = db.session.scalar(
        select(TheoryExam)
        .where(
            TheoryExam.candidate_id == exam.candidate_id,
            TheoryExam.level == exam.level,
            TheoryExam.practice.is_(False),
            TheoryExam.submitted_at.is_not(None),
        )
        .order_by(TheoryExam.submitted_at.desc())
    )
    if theory is None:
        return None
    both = bool(theory.passed) and bool(exam.passed) and exam.status == "graded"
    return {
        "theory_exam_id": theory.id,
        "theory_score": theory.score,
        "theory_passed": bool(theory.passed),
        "both_passed": both,
    }
