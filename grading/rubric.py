"""Rubrics as data: the schema of scenarios/packs/<lang>/rubrics/*.yaml (scenarios/rubric.py, re-exported here) and
how a contact finds its rubric.

The content loader (scenarios/loader.py) reads the files, validates them with ``Rubric`` and then with the checks
registered with it: ``rubric_problems`` here (cross-checks against the evaluator registry), registered by grading's
init_app. It names file, line and field for every problem.
"""

from __future__ import annotations

from pydantic import ValidationError

from scenarios.rubric import Rubric, RubricItem

__all__ = ["Rubric", "RubricItem", "choose_rubric", "rubric_problems"]


def rubric_problems(rubric: Rubric, enabled: list[str] | None = None) -> list[tuple[tuple, str]]:
    """Cross-checks the schema cannot do alone: duplicate item ids, unknown or disabled evaluators, an
    evaluator that does not grade this channel, and params its ``Params`` model refuses. Returns
    ``[(loc, message)]`` with locs like ``("items", 3, "params", "within_seconds")``."""
    from .evaluators import EVALUATORS

    problems: list[tuple[tuple, str]] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(rubric.items):
        if item.id in seen:
            problems.append((("items", i, "id"), f"duplicate item id {item.id!r} (first at item {seen[item.id]})"))
        seen.setdefault(item.id, i)
        if item.scoring != "auto":
            continue
        cls = EVALUATORS.get(item.evaluator or "")
        if cls is None:
            known = sorted(EVALUATORS)
            problems.append((("items", i, "evaluator"), f"unknown evaluator {item.evaluator!r}; known: {known}"))
            continue
        if enabled is not None and item.evaluator not in enabled:
            problems.append((("items", i, "evaluator"), f"evaluator {item.evaluator!r} is not enabled"))
        if rubric.channel not in cls.channels:
            msg = f"evaluator {item.evaluator!r} grades {sorted(cls.channels)}, not {rubric.channel}"
            problems.append((("items", i, "evaluator"), msg))
        try:
            cls.Params.model_validate(item.params)
        except ValidationError as e:
            for err in e.errors(include_url=False):
                problems.append((("items", i, "params", *err["loc"]), err["msg"].removeprefix("Value error, ")))
    return problems


def choose_rubric(
    rubrics: list[Rubric], *, lang: str, channel: str, level: str, scenario_id: str | None = None
) -> Rubric | None:
    """The rubric a contact is graded by: among the rubrics of its language and channel that cover the
    trainee's level, one naming the scenario wins; else a general one (no ``scenarios``); ties go to the
    lowest id, so the choice never depends on load order."""
    fits = [r for r in rubrics if r.lang == lang and r.channel == channel and level in r.levels]
    specific = sorted((r for r in fits if scenario_id and scenario_id in r.scenarios), key=lambda r: r.id)
    if specific:
        return specific[0]
    general = sorted((r for r in fits if not r.scenarios), key=lambda r: r.id)
    return general[0] if general else None
