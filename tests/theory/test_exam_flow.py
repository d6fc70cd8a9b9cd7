"""Exams end to end: assign, start, autosave, due time on the sandbox clock, auto-submit, roles and pages."""

from __future__ import annotations

import pytest

from clock import clock
from extensions import db
from tests import factories
from theory.actions import (
    TheoryError,
    do_assign_theory_exam,
    do_save_answer,
    do_start_theory_exam,
    do_submit_theory_exam,
    submit_overdue_exams,
)
from theory.models import TheoryExam

from .helpers import correct_answer, load_synthetic, user, wrong_answer


@pytest.fixture
def floor(app, tmp_path):
    """A group with its lead, two trainees in it, one trainee elsewhere, an admin; a synthetic bank loaded."""
    with app.app_context():
        load_synthetic(tmp_path)
        lead = factories.user("lead1", role="lead")
        g = factories.group("A", lead=lead)
        factories.user("t1", level="L4", group=g)
        factories.user("t2", level="L3", group=g)
        factories.user("t9", level="L5")
        factories.user("adm", role="admin")
    return app


def test_real_exam_needs_assignment_then_runs_60_minutes(floor):
    """Without an assignment a trainee cannot start a real exam; once assigned it has 100 questions and 60 minutes."""
    with floor.app_context():
        t1 = user("t1")
        with pytest.raises(TheoryError, match="no theory exam has been assigned"):
            do_start_theory_exam(t1, lang="en")
        do_assign_theory_exam(user("lead1"), t1, lang="en")
        exam = do_start_theory_exam(t1)
        assert exam.level == "L4" and len(exam.question_ids) == 100 and exam.status == "in_progress"
        assert exam.due_timestamp() - exam.started_at.timestamp() == pytest.approx(3600)


def test_lead_cannot_assign_outside_their_group(floor):
    """A lead may assign only to trainees of their group; an admin may assign to anyone."""
    with floor.app_context():
        with pytest.raises(TheoryError) as e:
            do_assign_theory_exam(user("lead1"), user("t9"))
        assert e.value.status == 403
        assert do_assign_theory_exam(user("adm"), user("t9")).level == "L5"


def test_due_time_enforced_and_overdue_auto_submitted(floor):
    """After the due time an answer is refused with a clear message and the sweep submits the exam as it stood."""
    with floor.app_context():
        t1 = user("t1")
        exam = do_start_theory_exam(t1, lang="en", practice=True, n_questions=10, duration_minutes=5)
        q0, q1 = exam.question_ids[:2]
        do_save_answer(exam, q0, correct_answer(exam, q0))
        clock.advance(4 * 60)
        do_save_answer(exam, q1, correct_answer(exam, q1))
        assert submit_overdue_exams() == 0
        clock.advance(61)
        assert submit_overdue_exams() == 1
        db.session.refresh(exam)
        assert exam.status == "submitted" and exam.auto_submitted
        assert (exam.score, exam.passed) == (20.0, False)
        assert exam.submitted_at.replace(tzinfo=None) == exam.due_at.replace(tzinfo=None)
        with pytest.raises(TheoryError, match="submitted"):
            do_save_answer(exam, q0, None)
        other = do_start_theory_exam(t1, lang="en", practice=True, n_questions=5, duration_minutes=1)
        clock.advance(61)
        with pytest.raises(TheoryError, match="time is up") as e:
            do_save_answer(other, other.question_ids[0], correct_answer(other, other.question_ids[0]))
        assert e.value.status == 409 and other.status == "submitted" and other.answers == {}


def test_full_marks_and_all_wrong(floor):
    """All answers right scores 100 and passes; all wrong (multiple: a subset) scores 0."""
    with floor.app_context():
        t2 = user("t2")
        good = do_start_theory_exam(t2, lang="zh_CN", practice=True, n_questions=20)
        bad = do_start_theory_exam(t2, lang="zh_CN", practice=True, n_questions=20)
        for qid in good.question_ids:
            do_save_answer(good, qid, correct_answer(good, qid))
        for qid in bad.question_ids:
            do_save_answer(bad, qid, wrong_answer(bad, qid))
        assert (do_submit_theory_exam(good).score, good.passed) == (100.0, True)
        assert (do_submit_theory_exam(bad).score, bad.passed) == (0.0, False)
        assert sum(r["total"] for r in good.per_area.values()) == 20


def _login(client, name):
    r = client.post("/login", data={"username": name, "password": "pass1234"})
    assert r.status_code in (302, 303)


def test_practice_quiz_through_the_pages(floor, client):
    """A trainee starts a practice quiz, autosaves answers by the JSON API, submits and sees score and explanations."""
    _login(client, "t1")
    assert client.get("/theory").status_code == 200
    r = client.post("/theory/practice", data={"level": "L4", "n_questions": "5", "minutes": "10"})
    assert r.status_code == 302
    exam_url = r.headers["Location"]
    page = client.get(exam_url)
    assert page.status_code == 200 and b"theory-countdown" in page.data
    with floor.app_context():
        exam = db.session.scalars(db.select(TheoryExam)).one()
        answers = [(q, correct_answer(exam, q)) for q in exam.question_ids[:3]]
        exam_id, explanation_probe = exam.id, exam.question_ids[0]
    assert b'class="muted explanation"' not in page.data  # no key, no explanations before submission
    for qid, ans in answers:
        r = client.post(f"/api/theory/exams/{exam_id}/answers", json={"question_id": qid, "answer": ans})
        assert r.status_code == 200 and r.json["ok"]
    assert r.json["answered"] == 3
    r = client.post(f"/api/theory/exams/{exam_id}/answers", json={"question_id": "zz-999", "answer": "A"})
    assert r.status_code == 400 and "not part of this exam" in r.json["error"]
    r = client.post(f"/theory/exams/{exam_id}/submit")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/theory/exams/{exam_id}/result")
    res = client.get(f"/theory/exams/{exam_id}/result")
    assert res.status_code == 200 and b"60.00" in res.data and b'class="muted explanation"' in res.data
    assert f'data-qid="{explanation_probe}"'.encode() in res.data
    r = client.post(f"/api/theory/exams/{exam_id}/answers", json={"question_id": answers[0][0], "answer": None})
    assert r.status_code == 409


def test_ownership_and_roles_on_routes(floor, client):
    """Unknown exam 404, another trainee's exam 403, leads see their group's results but cannot take exams."""
    with floor.app_context():
        exam = do_start_theory_exam(user("t2"), lang="en", practice=True, n_questions=5)
        do_submit_theory_exam(exam)
        stray = do_start_theory_exam(user("t9"), lang="en", practice=True, n_questions=5)
        do_submit_theory_exam(stray)
        exam_id, stray_id = exam.id, stray.id
    _login(client, "t1")
    assert client.get("/theory/exams/9999").status_code == 404
    assert client.get(f"/theory/exams/{exam_id}").status_code == 403
    assert client.get(f"/theory/exams/{exam_id}/result").status_code == 403
    r = client.post(f"/api/theory/exams/{exam_id}/answers", json={"question_id": "bh-001", "answer": "A"})
    assert r.status_code == 403 and "another trainee" in r.json["error"]
    assert client.get("/theory/manage").status_code == 403
    client.post("/logout")
    _login(client, "lead1")
    assert client.get(f"/theory/exams/{exam_id}/result").status_code == 200
    assert client.get(f"/theory/exams/{stray_id}/result").status_code == 403
    assert client.post("/theory/practice").status_code == 403
    page = client.get("/theory/manage")
    assert page.status_code == 200 and b"assign-form" in page.data and b"t9" not in page.data


def test_lead_assigns_to_group_and_trainee_starts_from_page(floor, client):
    """A lead assigns an exam to the whole group by the form; a trainee starts it from the list page."""
    with floor.app_context():
        group_id = user("t1").group_id
    _login(client, "lead1")
    r = client.post("/theory/assign", data={"target": f"group:{group_id}", "level": "", "lang": "en"})
    assert r.status_code == 302
    with floor.app_context():
        exams = db.session.scalars(db.select(TheoryExam).order_by(TheoryExam.id)).all()
        assert [(e.candidate.username, e.level, e.status) for e in exams] == [("t1", "L4", "assigned"),
                                                                            ("t2", "L3", "assigned")]  # fmt: skip
        exam_id = exams[0].id
    client.post("/logout")
    _login(client, "t1")
    assert b"Start exam" in client.get("/theory").data
    r = client.post(f"/theory/exams/{exam_id}/start")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/theory/exams/{exam_id}")
    page = client.get(f"/theory/exams/{exam_id}")
    assert page.status_code == 200 and page.data.count(b'class="card theory-q"') == 100
    clock.advance(3601)
    r = client.get(f"/theory/exams/{exam_id}")
    assert r.status_code == 302 and r.headers["Location"].endswith("/result")
