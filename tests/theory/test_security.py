"""Exam security: results hidden until the lead releases them (and then only what was chosen), practice and exam
pools apart, options shuffled per candidate, and exposure control between consecutive exams."""

from __future__ import annotations

from collections import Counter

import pytest
from rapidfuzz import fuzz

from extensions import db
from tests import factories
from theory.actions import (
    TheoryError,
    do_assign_theory_exam,
    do_release_results,
    do_save_answer,
    do_start_theory_exam,
    do_submit_theory_exam,
)
from theory.cues import normalise_stem
from theory.loader import load_banks
from theory.models import TheoryExam, TheoryQuestion

from .helpers import correct_answer, load_synthetic, user


@pytest.fixture
def floor(app, tmp_path):
    with app.app_context():
        load_synthetic(tmp_path)
        lead = factories.user("lead1", role="lead")
        g = factories.group("A", lead=lead)
        factories.user("t1", level="L4", group=g)
        factories.user("t2", level="L4", group=g)
        factories.user("lead2", role="lead")
    return app


def _login(client, name):
    assert client.post("/login", data={"username": name, "password": "pass1234"}).status_code in (302, 303)


def _sit(trainee) -> TheoryExam:
    """Assign, start, answer the first 60 questions right, submit."""
    do_assign_theory_exam(user("lead1"), trainee, lang="en")
    exam = do_start_theory_exam(trainee)
    for qid in exam.question_ids[:60]:
        do_save_answer(exam, qid, correct_answer(exam, qid))
    return do_submit_theory_exam(exam)


def test_result_hidden_until_release_then_only_what_was_chosen(floor, client):
    """Before release the candidate sees no score, mark, key or explanation; each release mode shows its part only."""
    with floor.app_context():
        exam = _sit(user("t1"))
        exam_id, qid = exam.id, exam.question_ids[0]
        assert exam.score == 60.0
    _login(client, "t1")
    page = client.get(f"/theory/exams/{exam_id}/result").data
    assert b"theory-pending" in page and b"60.00" not in page and b"theory-key" not in page
    assert b"explanation" not in page and f'data-qid="{qid}"'.encode() not in page
    assert b"60.00" not in client.get("/theory").data and b"Passed" not in client.get("/theory").data
    shown = {}
    for mode in ("score", "marks", "keys"):
        with floor.app_context():
            assert do_release_results(user("lead1"), [db.session.get(TheoryExam, exam_id)], mode) == 1
        shown[mode] = client.get(f"/theory/exams/{exam_id}/result").data
    assert b"60.00" in shown["score"] and f'data-qid="{qid}"'.encode() not in shown["score"]
    assert f'data-qid="{qid}"'.encode() in shown["marks"] and b"theory-key" not in shown["marks"]
    assert b"explanation" not in shown["marks"]
    assert b"theory-key" in shown["keys"] and b'class="muted explanation"' in shown["keys"]
    assert b"60.00" in client.get("/theory").data


def test_lead_sees_everything_and_only_their_lead_releases(floor, client):
    """The group's lead sees keys before release; another lead may not release; practice is never 'released'."""
    with floor.app_context():
        exam = _sit(user("t1"))
        with pytest.raises(TheoryError) as e:
            do_release_results(user("lead2"), [exam], "keys")
        assert e.value.status == 403 and exam.released_at is None
        with pytest.raises(TheoryError, match="unknown release mode"):
            do_release_results(user("lead1"), [exam], "everything")
        exam_id = exam.id
    _login(client, "lead1")
    page = client.get(f"/theory/exams/{exam_id}/result").data
    assert b"theory-key" in page and b"Not released to the candidate yet" in page
    r = client.post("/theory/release", data={"exam_id": str(exam_id), "mode": "marks"})
    assert r.status_code == 302
    with floor.app_context():
        exam = db.session.get(TheoryExam, exam_id)
        assert exam.release_mode == "marks" and exam.released_by.username == "lead1"


def test_practice_and_exam_pools_disjoint(floor):
    """Practice quizzes draw only practice items and exams only exam items, over many draws."""
    with floor.app_context():
        pool = dict(db.session.execute(db.select(TheoryQuestion.qid, TheoryQuestion.pool).where(
            TheoryQuestion.lang == "en")).all())  # fmt: skip
        t1 = user("t1")
        practice = set()
        for _ in range(8):
            practice |= set(do_start_theory_exam(t1, lang="en", practice=True, n_questions=20).question_ids)
        exams = set(_sit(t1).question_ids) | set(_sit(user("t2")).question_ids)
        assert practice and {pool[q] for q in practice} == {"practice"}
        assert {pool[q] for q in exams} == {"exam"}


def test_shipped_practice_items_are_not_twins_of_exam_items():
    """In the shipped banks no practice stem is a near-duplicate (>= 90 %) of an exam stem: practice leaks no key."""
    for lang, qs in load_banks().items():
        exam = [normalise_stem(bq.q.stem) for bq in qs if bq.q.pool == "exam"]
        for bq in qs:
            if bq.q.pool == "practice":
                s = normalise_stem(bq.q.stem)
                twin = max(exam, key=lambda e: fuzz.ratio(s, e))
                assert fuzz.ratio(s, twin) < 90, (lang, bq.q.id, bq.q.stem)


def test_options_shuffled_per_candidate_and_scored_in_bank_letters(floor):
    """Two candidates see different option orders; answering the shown letter of the key scores, the bank letter
    (where it differs) does not."""
    with floor.app_context():
        a = do_start_theory_exam(user("t1"), lang="en", practice=True, n_questions=20)
        b = do_start_theory_exam(user("t2"), lang="en", practice=True, n_questions=20)
        common = [q for q in a.question_ids if q in b.option_orders and q in a.option_orders]
        orders_a = [a.option_orders[q] for q in a.option_orders]
        assert any(o != sorted(o) for o in orders_a)  # not bank order
        assert not common or any(a.option_orders[q] != b.option_orders[q] for q in common)
        single = next(q for q in a.question_ids if a.key[q]["kind"] == "single"
                      and correct_answer(a, q) != a.key[q]["answer"])  # fmt: skip
        do_save_answer(a, single, a.key[single]["answer"])  # the bank letter, read off a leaked key
        assert a.answers[single] != a.key[single]["answer"]
        do_save_answer(a, single, correct_answer(a, single))
        assert a.answers[single] == a.key[single]["answer"]


def test_second_exam_takes_the_items_the_first_left(floor):
    """Exposure control: per area the second L4 exam takes only unused items when enough are left, else all of them."""
    with floor.app_context():
        first = _sit(user("t1"))
        second = _sit(user("t2"))
        pool = db.session.scalars(db.select(TheoryQuestion).where(
            TheoryQuestion.lang == "en", TheoryQuestion.pool == "exam")).all()  # fmt: skip
        areas = Counter(first.key[q]["area"] for q in first.question_ids)
        for area in areas:
            unused = {q.qid for q in pool if q.area == area and "L4" in q.levels} - set(first.question_ids)
            second_here = {q for q in second.question_ids if second.key[q]["area"] == area}
            if len(unused) >= areas[area]:
                assert second_here <= unused, area
            else:
                assert unused <= second_here, area
        assert second.seed != first.seed and len(set(first.question_ids) & set(second.question_ids)) < 100
