"""Item analysis from real exam responses (issue 19): per question its difficulty (share answering right) and
discrimination (point-biserial correlation with the rest of the candidate's exam, scipy.stats.pointbiserialr),
flags for the lead, and the reliability of the exams per level and language.

Every candidate gets their own form, so a classic candidates-by-items matrix exists only for candidates who sat
the same paper. Reliability is therefore KR-20 for randomly parallel forms: KR-20 = k/(k-1) * (1 - E[sum p*q] /
var(total)), where E[sum p*q] is each form's sum of its items' p*q (p from every response to that item), averaged
over the forms. When every candidate sat the same paper this is the classic KR-20, which for right/wrong items
equals Cronbach's alpha (``cronbach_alpha``, used by the tests to confirm it). No library used here has alpha for
per-candidate forms (pingouin's needs one shared paper and brings matplotlib and statsmodels), so the formula is
spelled out, on numpy's variance.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import pointbiserialr

from .scoring import is_correct


@dataclass
class ItemStat:
    qid: str
    n: int
    difficulty: float | None  # share right (p); high = easy
    discrimination: float | None  # point-biserial r with the rest score
    flags: list[str] = field(default_factory=list)


@dataclass
class FormStat:
    level: str
    lang: str
    candidates: int
    items: float  # questions per form (mean)
    mean_score: float | None
    sd: float | None
    kr20: float | None


@dataclass
class AnalysisLimits:
    min_responses: int = 10  # an item is judged only on at least this many responses
    too_hard: float = 0.20
    too_easy: float = 0.95
    low_discrimination: float = 0.15


def item_scores(exam) -> dict[str, int]:
    """{qid: 1 right / 0 wrong or unanswered} for one submitted exam."""
    answers = exam.answers or {}
    return {
        qid: int(is_correct(exam.key[qid]["kind"], exam.key[qid]["answer"], answers.get(qid)))
        for qid in exam.question_ids
        if qid in exam.key
    }


def analyse_items(exams: list, limits: AnalysisLimits | None = None) -> list[ItemStat]:
    """Difficulty, discrimination and flags per question over the submitted exams given (one language)."""
    limits = limits or AnalysisLimits()
    per_item: dict[str, tuple[list[int], list[float]]] = {}
    for exam in exams:
        scores = item_scores(exam)
        total = sum(scores.values())
        for qid, s in scores.items():
            rest = (total - s) / max(len(scores) - 1, 1)  # share right on the rest of this candidate's form
            right, rests = per_item.setdefault(qid, ([], []))
            right.append(s)
            rests.append(rest)
    stats = []
    for qid, (right, rests) in sorted(per_item.items()):
        x, y = np.asarray(right, dtype=float), np.asarray(rests, dtype=float)
        p = float(x.mean())
        r = None
        if len(x) >= 3 and x.std() > 0 and y.std() > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = float(pointbiserialr(x, y).statistic)
        stat = ItemStat(qid, len(x), round(p, 3), None if r is None else round(r, 3))
        if len(x) >= limits.min_responses:
            if p < limits.too_hard:
                stat.flags.append("too hard")
            if p > limits.too_easy:
                stat.flags.append("too easy")
            if r is not None and r < 0:
                stat.flags.append("negative discrimination: check the key")
            elif r is not None and r < limits.low_discrimination:
                stat.flags.append("low discrimination")
        stats.append(stat)
    return stats


def kr20_parallel(exams: list, difficulty: dict[str, float]) -> float | None:
    """KR-20 for randomly parallel forms (see the module doc); None with fewer than 3 candidates or no spread."""
    if len(exams) < 3:
        return None
    totals, pq_sums, lengths = [], [], []
    for exam in exams:
        scores = item_scores(exam)
        totals.append(sum(scores.values()))
        pq_sums.append(sum(difficulty[q] * (1 - difficulty[q]) for q in scores))
        lengths.append(len(scores))
    var = float(np.var(totals))  # population variance, as KR-20's p*q is
    k = float(np.mean(lengths))
    if var == 0 or k < 2:
        return None
    return k / (k - 1) * (1 - float(np.mean(pq_sums)) / var)


def cronbach_alpha(matrix) -> float | None:
    """Cronbach's alpha of a candidates-by-items score matrix (one shared paper)."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] < 2 or m.shape[1] < 2:
        return None
    total_var = m.sum(axis=1).var(ddof=1)
    if total_var == 0:
        return None
    k = m.shape[1]
    return float(k / (k - 1) * (1 - m.var(axis=0, ddof=1).sum() / total_var))


def analyse(exams: list, limits: AnalysisLimits | None = None) -> tuple[list[ItemStat], list[FormStat]]:
    """Item statistics per language and reliability per level and language, over submitted real exams."""
    exams = [e for e in exams if not e.practice and e.status == "submitted"]
    items: list[ItemStat] = []
    forms: list[FormStat] = []
    for lang in sorted({e.lang for e in exams}):
        in_lang = [e for e in exams if e.lang == lang]
        stats = analyse_items(in_lang, limits)
        items += stats
        difficulty = {s.qid: s.difficulty for s in stats}
        for level in sorted({e.level for e in in_lang}):
            group = [e for e in in_lang if e.level == level]
            scores = [float(e.score or 0) for e in group]
            kr = kr20_parallel(group, difficulty)
            forms.append(
                FormStat(
                    level=level,
                    lang=lang,
                    candidates=len(group),
                    items=float(np.mean([len(e.question_ids) for e in group])),
                    mean_score=round(float(np.mean(scores)), 2) if scores else None,
                    sd=round(float(np.std(scores, ddof=1)), 2) if len(scores) > 1 else None,
                    kr20=None if kr is None else round(kr, 3),
                )
            )
    return items, forms
