"""grade(): N/A re-normalisation, gates, function roll-up and §4.2 weighting per level, manual items,
and byte-identical serialisation."""

from __future__ import annotations

import pytest

from grading.rubric import Rubric
from grading.scoring import content_hash, grade, scorecard_json

from .builders import assigned, build, ev, msg, rubric

# a: pass (service_response), b: reply gaps half in time (business_handling), c: N/A (information_records),
# d: late first reply -> fail (operations, an L4 code), e: pass (L3/4.1.1 -> data_analysis).
ITEMS = [
    {"id": "a", "title": "wrap-up", "skills": ["L5/1.2.1"], "points": 10, "evaluator": "wrap_up_code"},
    {
        "id": "b",
        "title": "gaps",
        "skills": ["L5/2.1.5"],
        "points": 20,
        "evaluator": "reply_gaps",
        "params": {"max_gap_seconds": 60},
    },
    {"id": "c", "title": "transfer", "skills": ["L5/3.2.2"], "points": 10, "evaluator": "transfer_note"},
    {
        "id": "d",
        "title": "first",
        "skills": ["L4/4.1.1"],
        "points": 10,
        "evaluator": "first_response",
        "params": {"within_seconds": 30},
    },
    {"id": "e", "title": "wrap-up again", "skills": ["L3/4.1.1"], "points": 5, "evaluator": "wrap_up_code"},
]


def make_rubric(**changes) -> Rubric:
    items = [dict(i, **changes.get(i["id"], {})) for i in ITEMS]
    return Rubric(id="t", version=3, lang="en", channel="chat", levels=["L5", "L4", "L3"], title="t", items=items)


def recording(level: str):
    return build(
        [
            assigned(0),
            msg("agent", "Hello", 40),  # late first reply: d fails
            msg("customer", "Where is it?", 50),
            msg("agent", "Checking", 55),  # in time
            msg("customer", "And?", 60),
            msg("agent", "In Columbus", 200),  # late
            ev("wrap_up", "agent", data={"code": "ENQ_DELIVERY"}, ts=210),
        ],
        sid="en-delivery-status",
        level=level,
    )


@pytest.mark.parametrize(
    ("level", "total", "used"),
    [
        # L5: sr 35, bh 35 (operations and data analysis weigh 0): (35*1 + 35*0.5) / 70 = 75
        ("L5", 75.0, {"service_response": 0.5, "business_handling": 0.5}),
        # L4: sr 20, bh 40, op 20 (data analysis 0): (20*1 + 40*0.5 + 20*0) / 80 = 50
        ("L4", 50.0, {"service_response": 0.25, "business_handling": 0.5, "operations": 0.25}),
        # L3: sr 5, bh 35, da 15, op 30: (5*1 + 35*0.5 + 15*1 + 30*0) / 85 = 44.1176...
        (
            "L3",
            44.12,
            {"service_response": 0.0588, "business_handling": 0.4118, "data_analysis": 0.1765, "operations": 0.3529},
        ),
    ],
)
def test_function_rollup_and_level_weights(level, total, used):
    """Totals per level match the hand computation; the N/A item's function drops out of the weights."""
    sc = grade(recording(level), make_rubric())
    assert sc["total"] == total
    assert {k: f["weight_used"] for k, f in sc["functions"].items() if f["weight_used"]} == used
    assert sc["functions"]["information_records"]["applicable"] is False  # c was N/A
    by_id = {i["id"]: i for i in sc["items"]}
    assert by_id["b"]["earned"] == 10 and by_id["b"]["fraction"] == 0.5 and by_id["c"]["status"] == "na"
    assert by_id["d"]["function"] == "operations" and by_id["e"]["function"] == "data_analysis"
    assert sc["passed"] is (total >= 60)


def test_na_items_are_not_failed():
    """Making the N/A item apply (a transfer without a note) lowers the L5 total: N/A had been excluded."""
    base = grade(recording("L5"), make_rubric())
    events = [(e.type, e.actor, e.text, e.data, e.ts) for e in recording("L5").events]
    events.insert(6, ("transfer", "agent", "x", {"target": "L3"}, 205))
    with_transfer = grade(build(events, sid="en-delivery-status", level="L5"), make_rubric())
    # information_records (30) now applies with score 0: (35*1 + 35*0.5 + 30*0) / 100 = 52.5
    assert base["total"] == 75.0 and with_transfer["total"] == 52.5


def test_scorecard_gate_fails_whatever_the_points():
    """A failed gate: scorecard item fails a 75-point scorecard; gate: section zeroes its function."""
    sc = grade(recording("L5"), make_rubric(d={"gate": "scorecard"}, b={"gate": "section"}))
    assert sc["gated"] and sc["gates_failed"] == ["d"] and not sc["passed"]
    assert sc["functions"]["business_handling"]["zeroed_by_gate"]
    assert sc["total"] == 50.0  # (35*1 + 35*0) / 70
    passing = grade(recording("L5"), make_rubric(a={"gate": "scorecard"}))
    assert not passing["gated"] and passing["passed"]


def test_manual_items_pending_then_merged():
    """Manual items are pending (not counted) until scored; a merged score counts like any other item."""
    items = [
        *ITEMS,
        {
            "id": "tone",
            "title": "tone",
            "skills": ["L5/1.2.1"],
            "points": 10,
            "scoring": "manual",
            "scale": "0..4",
            "guidance": "polite",
        },
    ]
    rub = Rubric(id="t", lang="en", channel="chat", levels=["L5"], title="t", items=items)
    sc = grade(recording("L5"), rub)
    assert sc["pending"] == ["tone"] and not sc["complete"] and sc["total"] == 75.0
    sc = grade(recording("L5"), rub, manual_scores={"tone": {"value": 2, "by": "g1"}})
    # service_response: a 10/10 + tone 5/10 -> 0.75; (35*0.75 + 35*0.5) / 70 = 62.5
    assert sc["complete"] and sc["total"] == 62.5
    with pytest.raises(ValueError):
        grade(recording("L5"), rub, manual_scores={"tone": {"value": 9}})


def test_same_recording_gives_byte_identical_scorecards():
    """Grading twice (and a rebuilt recording) gives the same JSON bytes and hash; the pack rubric works too."""
    one = scorecard_json(grade(recording("L4"), make_rubric()))
    two = scorecard_json(grade(recording("L4"), make_rubric()))
    assert one.encode() == two.encode()
    rec = recording("L4")
    full_a, full_b = grade(rec, rubric("en")), grade(rec, rubric("en"))
    assert scorecard_json(full_a) == scorecard_json(full_b) and content_hash(full_a) == content_hash(full_b)
    assert '"created_at"' not in one and len(full_a["items"]) == len(rubric("en").items)


def test_one_small_item_left_in_a_function_does_not_carry_its_weight():
    """A function whose items are mostly N/A weighs in proportion to what was scored (fully from a third of its
    points): a 4-point item alone among 40 N/A points of business handling cannot decide half the total."""
    items = [
        {"id": "greet", "title": "g", "skills": ["L5/1.2.1"], "points": 40, "evaluator": "wrap_up_code"},
        {
            "id": "small",
            "title": "s",
            "skills": ["L5/2.1.5"],
            "points": 4,
            "evaluator": "first_response",
            "params": {"within_seconds": 30},
        },  # fmt: skip
        {"id": "na", "title": "n", "skills": ["L5/2.1.2"], "points": 40, "evaluator": "transfer_note"},
    ]
    rub = Rubric(id="t", lang="en", channel="chat", levels=["L5"], title="t", items=items)
    sc = grade(recording("L5"), rub)  # greet passes, small fails (late first reply), na is N/A
    bh = sc["functions"]["business_handling"]
    assert bh["applicable"] and bh["coverage"] == pytest.approx(4 / (44 / 3), abs=1e-4)
    # Without the coverage the two functions would weigh 35/35 and the total be 50; now the small item weighs ~21%.
    assert sc["total"] == pytest.approx(100 * 35 / (35 + 35 * bh["coverage"]), abs=0.01) and sc["total"] > 75


def test_too_little_scored_gives_no_total_and_no_pass():
    """Below the rubric's min_scored_points of pass/fail items the scorecard has no total ('insufficient')."""
    items = [
        {"id": "a", "title": "a", "skills": ["L5/1.2.1"], "points": 10, "evaluator": "wrap_up_code"},
        {"id": "na", "title": "n", "skills": ["L5/3.2.2"], "points": 90, "evaluator": "transfer_note"},
    ]
    rub = Rubric(id="t", lang="en", channel="chat", levels=["L5"], title="t", items=items)
    sc = grade(recording("L5"), rub)
    assert sc["total_method"] == "insufficient" and sc["total"] == 0.0 and not sc["passed"]
    assert sc["scored_points"] == 10 and sc["min_scored_points"] == 20
    enough = grade(recording("L5"), rub.model_copy(update={"min_scored_points": 10}))
    assert enough["total_method"] == "weighted" and enough["total"] == 100.0 and enough["passed"]
