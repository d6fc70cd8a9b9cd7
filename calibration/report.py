"""Agreement between the automatic scorecard and the examiners' verdicts: pass/fail agreement and Cohen's kappa,
Spearman's rank correlation of totals, gate agreement, and every item on which they disagree, with its evidence."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .sessions import GATE_ITEMS, MANUAL_ITEMS, Session

_STATUS = {True: "pass", False: "fail", "n/a": "na"}


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa of two raters' yes/no calls on the same subjects (None when chance agreement is total)."""
    n = len(a)
    if n == 0:
        return None
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    if math.isclose(pe, 1.0):
        return None
    return round((po - pe) / (1 - pe), 4)


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rank correlation (ties ranked by their mean rank); None with fewer than 3 pairs or no spread."""
    from scipy.stats import spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    rho = spearmanr(x, y).statistic
    return None if math.isnan(rho) else round(float(rho), 4)


def manual_scores(session: Session) -> dict:
    """The examiner's scores of the manual items, fed in as a panel's scores would be."""
    out = {}
    for item in MANUAL_ITEMS:
        value = session.verdict.get("items", {}).get(item)
        if value is None:
            continue
        out[item] = {"value": "na" if value == "n/a" else value, "by": "examiner", "note": "examiner's score"}
    return out


@dataclass
class Compared:
    session: Session
    scorecard: dict | None
    problems: list[str]

    def row(self) -> dict:
        sc = self.scorecard or {}
        items = {i["id"]: i for i in sc.get("items", [])}
        gates = sorted(g for g, item in GATE_ITEMS.items() if item in (sc.get("gates_failed") or []))
        disagreements = []
        for item_id, expected in sorted((self.session.verdict.get("items") or {}).items()):
            if item_id in MANUAL_ITEMS or item_id not in items:
                continue
            got = items[item_id]
            want = _STATUS.get(expected)
            if want is None or got["status"] == want:
                continue
            disagreements.append(
                {
                    "item": item_id,
                    "examiner": want,
                    "grader": got["status"],
                    "note": got.get("note") or "",
                    "evidence": [e.get("quote") or e.get("note") or "" for e in got.get("evidence", [])][:3],
                }
            )
        return {
            "id": self.session.id,
            "scenario": self.session.scenario,
            "level": self.session.level,
            "examiner": {
                "pass": self.session.passed,
                "total": self.session.verdict.get("total"),
                "gates_failed": sorted(self.session.gates),
            },
            "grader": {
                "pass": bool(sc.get("passed")),
                "provisional": bool(sc.get("provisional")),
                "total": sc.get("total"),
                "points": sc.get("points", sc.get("total")),
                "gates_failed": gates,
                "in_range": _in_range(sc.get("points", sc.get("total")), self.session.verdict.get("total")),
            },
            "disagreements": disagreements,
            "replay_problems": self.problems,
        }


def _in_range(total, rng) -> bool | None:
    if total is None or not isinstance(rng, list) or len(rng) != 2:
        return None
    return rng[0] <= total <= rng[1]


def summarise(compared: list[Compared]) -> dict:
    """The report: ``{"n", "pass_fail_agreement", "kappa", "spearman", "gates_exact", "in_range", "sessions"}``."""
    rows = [c.row() for c in compared]
    n = len(rows)
    examiner = [r["examiner"]["pass"] for r in rows]
    grader = [r["grader"]["pass"] for r in rows]
    pairs = [
        (r["grader"]["points"], c.session.total_mid)
        for r, c in zip(rows, compared, strict=True)
        if r["grader"]["points"] is not None and c.session.total_mid is not None
    ]
    ranged = [r["grader"]["in_range"] for r in rows if r["grader"]["in_range"] is not None]
    return {
        "n": n,
        "pass_fail_agreement": round(sum(a == b for a, b in zip(examiner, grader, strict=True)) / n, 4) if n else None,
        "kappa": cohen_kappa(grader, examiner),
        "spearman": spearman([p[0] for p in pairs], [p[1] for p in pairs]),
        "gates_exact": round(sum(r["grader"]["gates_failed"] == r["examiner"]["gates_failed"] for r in rows) / n, 4)
        if n
        else None,
        "in_range": round(sum(ranged) / len(ranged), 4) if ranged else None,
        "confusion": {
            "both_pass": sum(a and b for a, b in zip(grader, examiner, strict=True)),
            "both_fail": sum(not a and not b for a, b in zip(grader, examiner, strict=True)),
            "grader_pass_examiner_fail": sum(a and not b for a, b in zip(grader, examiner, strict=True)),
            "grader_fail_examiner_pass": sum(b and not a for a, b in zip(grader, examiner, strict=True)),
        },
        "sessions": rows,
    }
