"""Arrival plans: a seeded Poisson process with scenarios drawn by weight."""

from __future__ import annotations

import pytest

from simulator.arrivals import PlanError, plan_arrivals


def test_same_seed_same_plan():
    """The same seed (and the same mix in any order) gives the same plan; another seed another plan."""
    a = plan_arrivals({"a": 1, "b": 2}, 2.0, 600, seed=5)
    assert a == plan_arrivals({"b": 2, "a": 1}, 2.0, 600, seed=5)
    assert a != plan_arrivals({"a": 1, "b": 2}, 2.0, 600, seed=6)
    assert all(0 <= t < 600 for t, _ in a) and [t for t, _ in a] == sorted(t for t, _ in a)


def test_mean_rate_and_weights_over_a_long_plan():
    """Over 10 hours at 6/minute the count is within 5% of 3600, and a 3:1 mix gives ~75% of the first."""
    plan = plan_arrivals({"x": 3, "y": 1}, 6.0, 36000, seed=42)
    assert abs(len(plan) - 3600) < 180
    share = sum(1 for _, sid in plan if sid == "x") / len(plan)
    assert 0.72 < share < 0.78
    gaps = [b[0] - a[0] for a, b in zip(plan, plan[1:], strict=False)]
    assert abs(sum(gaps) / len(gaps) - 10.0) < 0.5  # exponential gaps, mean 60/6 s


def test_zero_weight_scenario_never_arrives():
    """A weight of 0 keeps a scenario out of the plan."""
    assert {sid for _, sid in plan_arrivals({"x": 1, "y": 0}, 10, 600, seed=1)} == {"x"}


@pytest.mark.parametrize(
    ("mix", "rate", "duration"),
    [({}, 1, 60), ({"a": -1}, 1, 60), ({"a": 0}, 1, 60), ({"a": 1}, 0, 60), ({"a": 1}, 1, -5), ({"a": "x"}, 1, 60)],
)
def test_bad_input_is_refused(mix, rate, duration):
    """Empty or negative mixes, a non-positive rate and a negative duration raise PlanError."""
    with pytest.raises(PlanError):
        plan_arrivals(mix, rate, duration, seed=1)
