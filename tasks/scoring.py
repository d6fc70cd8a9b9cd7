"""A work item's scorecard: the same shape as a contact's (grading/scoring.py), so exams and reports read
both alike. Items roll up into the standard's functions by their first skill code; the total weighs the
functions by the §4.2 weights of the level, re-normalised over the functions with applicable items."""

from __future__ import annotations

from grading.standard import FUNCTION_KEYS, PASS_MARK, function_of, weights_for

from .kinds import BaseTaskKind, CheckResult
from .schema import TaskSpec

MANUAL_PASS = 0.6  # as grading: a manual scale item passes at 60 % of its scale


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd) + 0.0


def _manual(item, manual_scores: dict) -> dict:
    entry = (manual_scores or {}).get(item.id)
    if entry is None:
        return {"status": "pending", "fraction": 0.0, "note": "awaiting a grader", "evidence": []}
    value, note = entry.get("value"), entry.get("note") or ""
    if value == "na":
        return {"status": "na", "fraction": 0.0, "note": note or "not applicable", "evidence": []}
    fraction = int(value) / item.scale_max
    ok = fraction >= (1.0 if item.scale == "yes_no" else MANUAL_PASS)
    ev = [{"quote": note, "note": f"scored by {entry.get('by', '?')}"}]
    return {"status": "pass" if ok else "fail", "fraction": fraction, "note": note or f"{value}/{item.scale_max}",
            "evidence": ev}  # fmt: skip


def score(spec: TaskSpec, kind: BaseTaskKind, level: str, data: dict, truth: dict, sub: dict, files: dict,
          manual_scores: dict) -> dict:  # fmt: skip
    """Grade a submission: a pure function of the spec, the generated data and truth, the submission, the
    uploaded files' extracted content and the graders' manual scores."""
    params = kind.Params.model_validate(spec.params)
    weights = weights_for(level)
    items, pending = [], []
    for item in spec.items:
        if item.scoring == "auto":
            res: CheckResult = kind.run_check(
                item.check, kind.checks[item.check].model_validate(item.params), params, data, truth, sub, files
            )
            status = "na" if res.na else ("pass" if res.fraction >= 0.999 else "fail")
            out = {"status": status, "fraction": 0.0 if res.na else res.fraction, "note": res.note,
                   "evidence": res.evidence}  # fmt: skip
        else:
            out = _manual(item, manual_scores)
        if out["status"] == "pending":
            pending.append(item.id)
        scored = out["status"] in ("pass", "fail")
        items.append(
            {
                "id": item.id,
                "title": item.title,
                "skills": list(item.skills),
                "function": function_of(item.skills[0]),
                "points": _r(item.points),
                "scoring": item.scoring,
                "check": item.check,
                "scale": item.scale,
                "guidance": item.guidance,
                "status": out["status"],
                "fraction": _r(out["fraction"]),
                "earned": _r(item.points * out["fraction"] if scored else 0.0),
                "note": out["note"],
                "evidence": out["evidence"],
            }
        )
    functions = {}
    for key in FUNCTION_KEYS:
        mine = [i for i in items if i["function"] == key and i["status"] in ("pass", "fail")]
        possible, earned = sum(i["points"] for i in mine), sum(i["earned"] for i in mine)
        functions[key] = {"weight": weights[key], "applicable": bool(possible), "possible": _r(possible),
                          "earned": _r(earned), "score": _r(earned / possible if possible else 0.0),
                          "weight_used": 0.0}  # fmt: skip
    used = {k: f for k, f in functions.items() if f["applicable"] and f["weight"] > 0}
    total_weight = sum(f["weight"] for f in used.values())
    if total_weight:
        for f in used.values():
            f["weight_used"] = _r(f["weight"] / total_weight)
        total = 100 * sum(f["weight"] * f["score"] for f in used.values()) / total_weight
    else:
        possible = sum(f["possible"] for f in functions.values())
        total = 100 * sum(f["earned"] for f in functions.values()) / possible if possible else 0.0
    total = _r(total, 2)
    return {
        "task": spec.id,
        "kind": spec.kind,
        "level": level,
        "items": items,
        "functions": functions,
        "total": total,
        "pass_mark": PASS_MARK,
        "gated": False,
        "pending": pending,
        "complete": not pending,
        "passed": bool(total >= PASS_MARK),
        "view": kind.result_view(params, data, truth, sub),
    }
