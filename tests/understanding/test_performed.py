"""Issue 11: the acts a line performs by the act definitions (``Reading.performed``, what the labelled lines are
scored on) against what grading and the simulated customer hear (``Reading.names``). A scenario's own forbidden
phrases are a rule of that scenario, judged with the session: they stay in ``names`` and are left out of
``performed``. Lines written for this test, none of them a training example."""

from __future__ import annotations


def test_a_scenario_forbidden_phrase_is_heard_but_is_not_the_forbidden_act(readers, scenarios):
    sc = scenarios["en-compensation-limit"]
    assert "guarantee" in [p.lower() for p in sc.expected.forbidden_phrases]
    reading = readers["en"].read("I can't guarantee an amount, but the duty manager will look at it today.", sc)
    act = reading.get("forbidden")
    assert act is not None and act.source == "scenario"  # grading's gate and the customer still hear it
    assert "forbidden" in reading.names
    assert "forbidden" not in reading.performed()
    assert set(reading.performed()) == set(reading.names) - {"forbidden"}


def test_wording_the_definitions_call_forbidden_is_performed_with_or_without_a_scenario(readers, scenarios):
    sc = scenarios["en-compensation-limit"]
    line = "Calm down, shouting at me won't get you a bigger voucher."
    for scenario in (None, sc):
        reading = readers["en"].read(line, scenario)
        assert reading.get("forbidden") is not None and reading.get("forbidden").source != "scenario"
        assert "forbidden" in reading.performed()
