"""grade(recording, rubric) -> scorecard: a pure function, and its byte-stable JSON.

How a scorecard is computed:
1. Each item is scored: automatic items by their evaluator (pass/fail/na with a fraction and evidence); manual
   items from ``manual_scores`` (``{item_id: {"value": 0..N | true/false | "na", "by": ..., "note": ...}}``), else
   "pending". An item earns points × fraction; N/A and pending items earn nothing and count for nothing.
2. Items roll up into the standard's functions by their first skill code (grading.standard.function_of).
   A function's score is earned / possible over its applicable items (0..1). A failed item with gate
   "section" zeroes its function's score.
3. The total out of 100 weighs each applicable function by the §4.2 skill weight of the trainee's level,
   re-normalised over the functions that had applicable items (N/A is not failed). If every applicable item
   falls in functions weighted 0 for the level, the total is the plain share of points.
4. A failed item with gate "scorecard" fails the scorecard whatever the points, and caps its ``total`` at
   ``GATE_CAP`` (59); ``points`` keeps the total before the cap. Pass at 60.
5. Pending manual items make the scorecard ``provisional``: it is not passed until a grader completes them
   (a gated one is final: no manual score can undo a gate).

The scorecard is plain data (dicts, lists, strings, rounded floats): no time of grading inside, so the same
inputs give byte-identical ``scorecard_json``.
"""

from __future__ import annotations

import hashlib
import json

from .evaluators import EVALUATORS, BaseEvaluator
from .evaluators.base import N_, note_fields
from .recording import Recording
from .rubric import Rubric, RubricItem
from .standard import FUNCTION_KEYS, PASS_MARK, function_of, weights_for

MANUAL_PASS = 0.6  # a manual scale item passes at 60% of its scale (yes_no: yes)
GATE_CAP = PASS_MARK - 1  # the highest total a gated scorecard can show
# A function weighs fully once this share of its rubric points was scored (pass or fail); below it, its weight
# shrinks in proportion, so one small item left among N/A or pending ones never carries the function's weight.
FULL_WEIGHT_SHARE = 1 / 3


def _r(x: float, nd: int = 4) -> float:
    # Normalises -0.0 and float noise so the JSON is stable.
    return round(float(x), nd) + 0.0


def _manual(item: RubricItem, manual_scores: dict | None) -> dict:
    entry = (manual_scores or {}).get(item.id)
    if entry is None:
        return {"status": "pending", "fraction": 0.0, "evidence": [], **note_fields(N_("awaiting a grader"))}
    value = entry.get("value") if isinstance(entry, dict) else entry
    by = entry.get("by") if isinstance(entry, dict) else None
    note = (entry.get("note") if isinstance(entry, dict) else None) or ""
    scored = N_("scored by {grader}", grader=by) if by else N_("scored")
    ev = [{"event_id": None, "seq": None, "ts": None, "quote": note, **note_fields(scored)}]
    if value == "na":
        return {"status": "na", "fraction": 0.0, "evidence": ev, **note_fields(note or N_("not applicable"))}
    if isinstance(value, bool):
        value = 1 if value else 0
    if not isinstance(value, int | float) or not 0 <= value <= item.scale_max:
        raise ValueError(f"manual score for {item.id!r} must be 0..{item.scale_max}, yes/no or 'na'")
    fraction = value / item.scale_max
    status = "pass" if fraction >= (1.0 if item.scale == "yes_no" else MANUAL_PASS) else "fail"
    return {"status": status, "fraction": fraction, "evidence": ev, "note": note or f"{value:g}/{item.scale_max}"}


def _auto(item: RubricItem, recording: Recording, enabled: dict[str, type[BaseEvaluator]]) -> dict:
    cls = enabled.get(item.evaluator or "")
    if cls is None:
        not_enabled = N_("evaluator {name} is not enabled", name=item.evaluator)
        return {"status": "na", "fraction": 0.0, "evidence": [], **note_fields(not_enabled)}
    if recording.channel not in cls.channels:
        not_here = N_("not graded on {channel}", channel=recording.channel)
        return {"status": "na", "fraction": 0.0, "evidence": [], **note_fields(not_here)}
    res = cls().run(recording, item.params)
    return {
        "status": res.status,
        "fraction": res.fraction if res.status != "na" else 0.0,
        "evidence": [e.as_dict() for e in res.evidence],
        **note_fields(res.note),
    }


def grade(
    recording: Recording,
    rubric: Rubric,
    manual_scores: dict | None = None,
    evaluators: dict[str, type[BaseEvaluator]] | None = None,
) -> dict:
    """Score ``recording`` against ``rubric`` (see the module docstring). ``manual_scores`` merges graders'
    scores for manual items; ``evaluators`` restricts the registry (default: every evaluator)."""
    enabled = EVALUATORS if evaluators is None else evaluators
    level = recording.level
    weights = weights_for(level)
    items, gates_failed, zeroed, pending = [], [], set(), []
    for item in rubric.items:
        res = _auto(item, recording, enabled) if item.scoring == "auto" else _manual(item, manual_scores)
        function = function_of(item.skills[0])
        scored = res["status"] in ("pass", "fail")
        earned = item.points * res["fraction"] if scored else 0.0
        if res["status"] == "fail" and item.gate == "scorecard":
            gates_failed.append(item.id)
        if res["status"] == "fail" and item.gate == "section":
            zeroed.add(function)
        if res["status"] == "pending":
            pending.append(item.id)
        items.append(
            {
                "id": item.id,
                "title": item.title,
                "skills": list(item.skills),
                "function": function,
                "points": _r(item.points),
                "scoring": item.scoring,
                "evaluator": item.evaluator,
                "gate": item.gate,
                "status": res["status"],
                "fraction": _r(res["fraction"]),
                "earned": _r(earned),
                "note": res["note"],
                **({"note_i18n": res["note_i18n"]} if "note_i18n" in res else {}),
                "evidence": res["evidence"],
            }
        )

    functions = {}
    for key in FUNCTION_KEYS:
        mine = [i for i in items if i["function"] == key and i["status"] in ("pass", "fail")]
        possible = sum(i["points"] for i in mine)
        earned = sum(i["earned"] for i in mine)
        score = 0.0 if key in zeroed or not possible else earned / possible
        in_rubric = sum(i["points"] for i in items if i["function"] == key)
        functions[key] = {
            "weight": weights[key],
            "applicable": bool(possible),
            "possible": _r(possible),
            "earned": _r(0.0 if key in zeroed else earned),
            "score": _r(score),
            # How fully the function was scored (see FULL_WEIGHT_SHARE): 1 once a third of its points were.
            "coverage": _r(min(1.0, possible / (FULL_WEIGHT_SHARE * in_rubric))) if in_rubric else 0.0,
            "zeroed_by_gate": key in zeroed,
            "weight_used": 0.0,
        }
    used = {k: f for k, f in functions.items() if f["applicable"] and f["weight"] > 0}
    total_weight = sum(f["weight"] * f["coverage"] for f in used.values())
    scored_points = sum(f["possible"] for f in functions.values())
    if scored_points < rubric.min_scored_points:
        # Too little was scored for a total to mean anything (a contact that ended at once, or a rubric whose
        # items are mostly N/A or waiting for a grader): no total and no pass until there is more evidence.
        total, method = 0.0, "insufficient"
    elif total_weight:
        for f in used.values():
            f["weight_used"] = _r(f["weight"] * f["coverage"] / total_weight)
        total = 100 * sum(f["weight"] * f["coverage"] * f["score"] for f in used.values()) / total_weight
        method = "weighted"
    else:
        total = 100 * sum(f["earned"] for f in functions.values()) / scored_points if scored_points else 0.0
        method = "points" if scored_points else "none"
    points = _r(total, 2)
    gated = bool(gates_failed)
    # A failed gate fails the scorecard and caps its total below the pass mark, so no report or ranking can show
    # a gated scorecard among the passes; the points before the cap are kept beside it.
    total = min(points, GATE_CAP) if gated else points
    # Pending manual items: the scorecard is provisional (never counted as passed) until a grader completes it,
    # unless a gate already failed it (no manual score can undo a gate).
    provisional = bool(pending) and not gated
    return {
        "contact_id": recording.contact_id,
        "scenario_id": recording.scenario_id,
        "channel": recording.channel,
        "lang": recording.lang,
        "level": level,
        "rubric": {"id": rubric.id, "version": rubric.version},
        "items": items,
        "functions": functions,
        "total": total,
        "points": points,
        "total_method": method,
        "pass_mark": PASS_MARK,
        "gated": gated,
        "gates_failed": gates_failed,
        "pending": pending,
        "complete": not pending,
        "provisional": provisional,
        "scenario_less": recording.scenario is None,
        "scored_points": _r(scored_points),
        "min_scored_points": _r(rubric.min_scored_points),
        "passed": bool(total >= PASS_MARK and not gated and not provisional and method in ("weighted", "points")),
    }


def scorecard_json(scorecard: dict) -> str:
    """The canonical serialisation: sorted keys, no extra spaces, UTF-8 text kept as is."""
    return json.dumps(scorecard, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(scorecard: dict) -> str:
    """sha256 of ``scorecard_json``: regrading compares it to tell a changed scorecard."""
    return hashlib.sha256(scorecard_json(scorecard).encode("utf-8")).hexdigest()
