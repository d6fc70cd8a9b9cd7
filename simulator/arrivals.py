"""Arrival plans for an exercise: when each simulated customer turns up, and with which scenario."""

from __future__ import annotations

import math
import random


class PlanError(ValueError):
    """Bad arrival-plan input; the message says which value is wrong."""


def plan_arrivals(
    mix: dict[str, float], rate_per_minute: float, duration_seconds: float, seed: int
) -> list[tuple[float, str]]:
    """A Poisson arrival process: exponential inter-arrival times with mean ``60 / rate_per_minute`` seconds
    over ``[0, duration_seconds)``, each arrival's scenario drawn from ``mix`` by weight.

    Returns ``[(offset_seconds, scenario_id), ...]`` in time order. The same arguments give the same plan
    (``random.Random(seed)``; scenario ids are sorted first so the order of ``mix`` does not matter).
    """
    if not isinstance(mix, dict) or not mix:
        raise PlanError("the mix needs at least one scenario")
    ids = sorted(mix)
    weights = []
    for sid in ids:
        w = mix[sid]
        if not isinstance(sid, str) or not sid:
            raise PlanError("scenario ids in the mix must be non-empty strings")
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise PlanError(f"weight of {sid!r} must be a number >= 0")
        weights.append(float(w))
    if sum(weights) <= 0:
        raise PlanError("at least one scenario in the mix needs a weight above 0")
    if (
        isinstance(rate_per_minute, bool)
        or not isinstance(rate_per_minute, int | float)
        or not (math.isfinite(rate_per_minute) and rate_per_minute > 0)
    ):
        raise PlanError("rate_per_minute must be a number above 0")
    if (
        isinstance(duration_seconds, bool)
        or not isinstance(duration_seconds, int | float)
        or not (math.isfinite(duration_seconds) and duration_seconds >= 0)
    ):
        raise PlanError("duration_seconds must be a number >= 0")

    rng = random.Random(seed)
    rate_per_second = rate_per_minute / 60.0
    plan: list[tuple[float, str]] = []
    t = rng.expovariate(rate_per_second)
    while t < duration_seconds:
        plan.append((round(t, 3), rng.choices(ids, weights=weights)[0]))
        t += rng.expovariate(rate_per_second)
    return plan
