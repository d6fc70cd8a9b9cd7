"""Drawing exams by the §4.1 weights, and scoring (equal weight, multiple all-or-nothing, pass at 60)."""

from __future__ import annotations

from collections import Counter

import pytest

from extensions import db
from theory.drawing import DrawError, allocate, draw_exam
from theory.models import TheoryQuestion
from theory.scoring import is_correct, normalise_answer, score_answers

from .helpers import load_banks, load_synthetic

HAND_COUNTS = {
    "L5": {"professional_ethics": 5, "basic_knowledge": 15, "service_response": 30, "business_handling": 30,
           "information_records": 20},
    "L4": {"professional_ethics": 5, "basic_knowledge": 10, "service_response": 15, "business_handling": 30,
           "information_records": 20, "operations": 20},
    "L3": {"professional_ethics": 5, "basic_knowledge": 10, "service_response": 5, "business_handling": 30,
           "information_records": 15, "data_analysis": 15, "operations": 20},
}  # fmt: skip


def test_allocate_largest_remainder_by_hand():
    """Small exams round by largest remainder with ties broken in table order (hand-computed)."""
    assert allocate("L5", 20) == {"professional_ethics": 1, "basic_knowledge": 3, "service_response": 6,
                                  "business_handling": 6, "information_records": 4}  # fmt: skip
    # L4, 10 questions: exact 0.5/1/1.5/3/2/2; pe and sr tie at .5 -> pe (earlier in the table) gets the spare one.
    assert allocate("L4", 10) == {"professional_ethics": 1, "basic_knowledge": 1, "service_response": 1,
                                  "business_handling": 3, "information_records": 2, "operations": 2}  # fmt: skip
    # L3, 7 questions: floors give 5; the largest remainders are bk (.70) then op (.40).
    assert allocate("L3", 7) == {"basic_knowledge": 1, "business_handling": 2, "information_records": 1,
                                 "data_analysis": 1, "operations": 2}  # fmt: skip


@pytest.mark.parametrize("level", ["L5", "L4", "L3"])
@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_draw_100_by_weights(app, level, lang):
    """A 100-question exam has exactly the hand-counted questions per area, all suiting the level, no duplicates."""
    with app.app_context():
        load_banks()
        qids = draw_exam(level, lang, seed="s1")
        assert len(qids) == 100 and len(set(qids)) == 100
        rows = {q.qid: q for q in db.session.scalars(db.select(TheoryQuestion).where(TheoryQuestion.lang == lang))}
        assert Counter(rows[q].area for q in qids) == HAND_COUNTS[level]
        assert all(level in rows[q].levels for q in qids)
        for area in HAND_COUNTS[level]:
            kinds = {rows[q].kind for q in qids if rows[q].area == area}
            assert len(kinds) >= 2, (area, kinds)  # kinds are mixed within every area


def test_draw_is_deterministic_per_seed(app, tmp_path):
    """The same seed draws the same list; another seed draws a different one."""
    with app.app_context():
        load_synthetic(tmp_path)
        a = draw_exam("L4", "en", seed=42, n_questions=30, duration_minutes=20, practice=True)
        assert a == draw_exam("L4", "en", seed=42, n_questions=30, duration_minutes=20, practice=True)
        assert a != draw_exam("L4", "en", seed=43, n_questions=30, duration_minutes=20, practice=True)


def test_draw_refuses_short_exam_and_short_bank(app, tmp_path):
    """A real exam under 60 minutes is refused; an area the bank cannot fill raises a clear error."""
    with app.app_context():
        load_synthetic(tmp_path)
        with pytest.raises(DrawError, match="at least 60 minutes"):
            draw_exam("L5", "en", seed=1, duration_minutes=30)
        assert len(draw_exam("L5", "en", seed=1, n_questions=10, duration_minutes=10, practice=True)) == 10
        with pytest.raises(DrawError, match=r"has 8 professional_ethics exam question\(s\) for L3; this form needs 10"):
            draw_exam("L3", "en", seed=1, n_questions=200)
        db.session.execute(db.update(TheoryQuestion).where(TheoryQuestion.area == "operations").values(active=False))
        db.session.commit()
        with pytest.raises(DrawError, match="has 0 operations exam question"):
            draw_exam("L4", "en", seed=1)


KEY = {
    "bh-001": {"area": "business_handling", "kind": "single", "answer": "B", "options": ["A", "B", "C", "D"]},
    "bh-002": {"area": "business_handling", "kind": "multiple", "answer": ["A", "B", "D"], "options": list("ABCD")},
    "pe-003": {"area": "professional_ethics", "kind": "true_false", "answer": False, "options": []},
    "sr-002": {"area": "service_response", "kind": "multiple", "answer": ["A", "B", "D"], "options": list("ABCD")},
    "sr-003": {"area": "service_response", "kind": "true_false", "answer": True, "options": []},
}
QIDS = list(KEY)


def test_multiple_choice_is_all_or_nothing():
    """A subset or a superset of the correct letters scores nothing; the exact set scores."""
    assert is_correct("multiple", ["A", "B", "D"], ["D", "A", "B"])
    assert not is_correct("multiple", ["A", "B", "D"], ["A", "B"])
    assert not is_correct("multiple", ["A", "B", "D"], ["A", "B", "C", "D"])
    assert is_correct("true_false", False, False) and not is_correct("true_false", False, None)


def test_score_pass_at_60_by_hand():
    """5 questions of 20 points: 3 right = 60.00 and passes; 2 right = 40.00 and fails; per-area points add up."""
    three = {"bh-001": "B", "bh-002": ["A", "B"], "pe-003": False, "sr-002": ["A", "B", "D"], "sr-003": False}
    r = score_answers(QIDS, KEY, three)
    assert (r.score, r.passed, r.correct) == (60.0, True, 3)
    assert r.per_area["business_handling"] == {"correct": 1, "total": 2, "points": 20.0, "max_points": 40.0,
                                               "percent": 50.0}  # fmt: skip
    assert r.per_area["professional_ethics"]["points"] == 20.0
    assert r.per_area["service_response"]["correct"] == 1
    assert list(r.per_area) == ["professional_ethics", "service_response", "business_handling"]
    two = dict(three, **{"sr-002": ["A", "D"]})
    r2 = score_answers(QIDS, KEY, two)
    assert (r2.score, r2.passed) == (40.0, False)


def test_score_thirds_and_rounding():
    """3 questions, 2 right: 66.67 shown, passes; 1 right: 33.33, fails; nothing answered: 0."""
    key = {k: KEY[k] for k in ("bh-001", "bh-002", "sr-003")}
    assert score_answers(list(key), key, {"bh-001": "B", "sr-003": True}).score == 66.67
    r = score_answers(list(key), key, {"sr-003": True})
    assert (r.score, r.passed) == (33.33, False)
    assert score_answers(list(key), key, {}).score == 0.0


def test_normalise_answer():
    """Answers are canonicalised per kind, and impossible ones refused."""
    assert normalise_answer("multiple", "db", list("ABCD")) == ["B", "D"]
    assert normalise_answer("true_false", "false") is False
    assert normalise_answer("single", "", list("ABCD")) is None
    for kind, bad in (("single", "AB"), ("single", "E"), ("true_false", "A"), ("multiple", ["A", "A"])):
        with pytest.raises(ValueError):
            normalise_answer(kind, bad, list("ABCD"))
