"""Skill exams: scheduling rules, serving to the candidate only and in order, time-up, no feedback during the
exam, the result arithmetic (§4.2 weighting) and pass^k, all checked against figures computed by hand."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from clock import clock
from contacts.actions import do_post_message, do_wrap_up_contact
from contacts.events import subscribe, unsubscribe
from contacts.models import Contact, ContactEvent
from extensions import db
from grading.exam_results import attempts_of, combined_result, compute_result, pass_k
from grading.exams import (
    ExamError,
    do_close_skill_exam_grading,
    do_release_skill_exam_result,
    do_schedule_skill_exam,
    do_start_skill_exam,
    feedback_withheld,
    plan_attempts,
    tick_skill_exams,
)
from grading.models import Scorecard, SkillExam
from routing.actions import do_set_agent_state
from theory.models import TheoryExam

L5_SET = ["en-delivery-status", "en-points-rules"]


def _u(name):
    from accounts.models import User

    return db.session.scalar(select(User).where(User.username == name))


def test_scheduling_rules(floor):
    """Under 30 minutes, a scenario above the level, a lead of another group, a repeat: refused; else planned."""
    with floor.app_context():
        lead, cand = _u("lead1"), _u("cand")
        with pytest.raises(ExamError, match="30 to 240"):
            do_schedule_skill_exam(lead, cand, L5_SET, 29)
        with pytest.raises(ExamError, match="above the candidate's level"):
            do_schedule_skill_exam(lead, cand, ["en-repeat-repair"], 30)  # an L3 scenario for an L4 candidate
        with pytest.raises(ExamError) as e:
            do_schedule_skill_exam(_u("lead2"), cand, L5_SET, 30)
        assert e.value.status == 403
        with pytest.raises(ExamError, match="listed twice"):
            do_schedule_skill_exam(lead, cand, L5_SET + L5_SET[:1], 30)
        with pytest.raises(ExamError, match="no scenario"):
            do_schedule_skill_exam(lead, cand, ["nope"], 30)
        exam = do_schedule_skill_exam(_u("admin"), cand, ["en-vip-refund", *L5_SET], 45, k=2)
        assert exam.status == "scheduled" and exam.level == "L4" and exam.lang == "en"
        plan = [(a.scenario_id, a.attempt) for a in attempts_of(exam)]
        assert plan == [
            ("en-vip-refund", 1), ("en-delivery-status", 1), ("en-points-rules", 1),
            ("en-vip-refund", 2), ("en-delivery-status", 2), ("en-points-rules", 2),
        ]  # fmt: skip


def test_plan_attempts_cycles_variants_in_rounds():
    """Two variants of family X and one of Y with k=3: rounds alternate families and cycle X's variants."""
    x1, x2, y1 = (SimpleNamespace(id=i, family=f) for i, f in (("x1", "X"), ("x2", "X"), ("y1", None)))
    assert plan_attempts([x1, y1, x2], 3) == [
        ("x1", "X", 1), ("y1", "y1", 1), ("x2", "X", 2), ("y1", "y1", 2), ("x1", "X", 3), ("y1", "y1", 3),
    ]  # fmt: skip
    assert plan_attempts([x1, x2], 1) == [("x1", "X", 1), ("x2", "X", 2)]  # every chosen variant is served


def test_serving_order_and_reservation(floor):
    """Scenarios come one at a time, in the lead's order, reserved for the candidate; the next after wrap-up."""
    engine = floor.extensions["kefu_simulator"]
    with floor.app_context():
        other, cand = _u("other"), _u("cand")
        do_set_agent_state(other, "available")  # free first: would get an unreserved contact
        exam = do_schedule_skill_exam(_u("lead1"), cand, list(reversed(L5_SET)), 30)
        with pytest.raises(ExamError) as e:
            do_start_skill_exam(other, exam)
        assert e.value.status == 403
        do_start_skill_exam(cand, exam)
        first = attempts_of(exam)[0]
        contact = db.session.get(Contact, first.contact_id)
        assert contact.scenario_id == "en-points-rules" and contact.reserved_agent_id == cand.id
        assert contact.status == "queued" and attempts_of(exam)[1].outcome == "pending"
        do_set_agent_state(cand, "available")
        engine.run_until_idle(30)
        db.session.refresh(contact)
        assert contact.status == "active" and contact.agent_id == cand.id  # never offered to "other"
        tick_skill_exams()
        assert attempts_of(exam)[1].outcome == "pending"  # still talking: nothing new served
        do_wrap_up_contact(contact, cand, "OTHER")
        tick_skill_exams()
        a1, a2 = attempts_of(exam)
        assert a1.outcome == "wrapped_up" and a2.outcome == "served"
        second = db.session.get(Contact, a2.contact_id)
        assert second.scenario_id == "en-delivery-status" and second.reserved_agent_id == cand.id
        assert exam.status == "running"


def test_time_up_ends_open_contacts_without_feedback(floor, client, auth):
    """At time-up the open contact is ended with reason exam_time_up, the rest not served, grading is silent
    to the candidate and the result waits for release; the graded exam's page shows the theory result beside
    it (certification needs both)."""
    engine = floor.extensions["kefu_simulator"]
    published = []
    subscribe(published.append)
    try:
        with floor.app_context():
            cand = _u("cand")
            do_set_agent_state(cand, "available")
            exam = do_schedule_skill_exam(_u("lead1"), cand, L5_SET, 30)
            do_start_skill_exam(cand, exam)
            engine.run_until_idle(30)
            cid = attempts_of(exam)[0].contact_id
            do_post_message(db.session.get(Contact, cid), "agent", "Hello! How can I help?", actor_id=cand.id)
            engine.run_until_idle(30)
            clock.advance(29 * 60)
            tick_skill_exams()
            assert exam.status == "running"
            clock.advance(61)
            tick_skill_exams()
            db.session.expire_all()
            exam = db.session.get(SkillExam, exam.id)
            a1, a2 = attempts_of(exam)
            assert (a1.outcome, a2.outcome) == ("time_up", "not_served")
            assert exam.end_reason == "time_up" and exam.status in ("finished", "graded")
            contact = db.session.get(Contact, cid)
            assert contact.status == "wrap_up" and not contact.is_open
            ended = db.session.scalar(
                select(ContactEvent).where(ContactEvent.contact_id == cid, ContactEvent.type == "contact.ended")
            )
            assert ended.data["reason"] == "exam_time_up"
            card = db.session.scalar(select(Scorecard).where(Scorecard.contact_id == cid, Scorecard.current.is_(True)))
            assert card is not None  # graded at the end of the exam...
            assert not [p for p in published if p.get("type") == "scorecard.graded"]  # ...but nothing published
            # The result: the missed second attempt counts 0 everywhere.
            rows = [
                {"family": "delivery-status", "attempt": 1, "card": card.data},
                {"family": "points-rules", "attempt": 1, "card": None},
            ]
            assert exam.total == compute_result("L4", rows, 1)["total"]
            assert feedback_withheld(cand, cid)
            do_close_skill_exam_grading(_u("lead1"), exam)  # the rubric's manual items are still pending
            assert exam.status == "graded"
            do_release_skill_exam_result(_u("lead1"), exam)
            assert not feedback_withheld(cand, cid)
            assert combined_result(exam) is None  # no theory exam yet
            db.session.add(
                TheoryExam(
                    candidate_id=cand.id, level="L4", lang="en", submitted_at=clock.now(), score=72.0, passed=True
                )
            )
            db.session.commit()
            combined = combined_result(exam)
            assert combined["theory_passed"] and combined["both_passed"] is bool(exam.passed)
            exam_id = exam.id
        auth.login("lead1")
        page = client.get(f"/exams/{exam_id}").get_data(as_text=True)
        assert 'id="exam-combined"' in page and "72.00" in page
    finally:
        unsubscribe(published.append)


def test_exam_contacts_are_not_auto_graded_at_wrap_up(floor):
    """The AutoGrader skips exam contacts: no scorecard appears when the candidate wraps up during the exam."""
    engine = floor.extensions["kefu_simulator"]
    with floor.app_context():
        cand = _u("cand")
        do_set_agent_state(cand, "available")
        exam = do_schedule_skill_exam(_u("lead1"), cand, L5_SET, 30)
        do_start_skill_exam(cand, exam)
        engine.run_until_idle(30)
        cid = attempts_of(exam)[0].contact_id
        do_wrap_up_contact(db.session.get(Contact, cid), cand, "OTHER")
        assert floor.extensions["kefu_grading"].wait_idle(10)
        assert db.session.scalar(select(Scorecard).where(Scorecard.contact_id == cid)) is None


def _card(passed=True, gated=False, **scores):
    fns = {f: {"applicable": f in scores, "score": scores.get(f, 0.0)} for f in (
        "service_response", "business_handling", "information_records", "data_analysis", "operations")}  # fmt: skip
    return {"functions": fns, "passed": passed, "gated": gated, "complete": True}


def test_result_arithmetic_l4_by_hand():
    """L4 (20/40/20/0/20): per-function means over attempts, a missed attempt 0 everywhere, weighted total."""
    rows = [
        {"family": "a", "card": _card(service_response=1.0, business_handling=0.5, information_records=0.8)},
        {"family": "b", "card": _card(False, service_response=0.6, business_handling=1.0, operations=0.5)},
        {"family": "c", "card": None},
    ]
    r = compute_result("L4", rows, 1)
    f = r["functions"]
    assert f["service_response"]["score"] == pytest.approx(1.6 / 3, abs=1e-4)  # (1.0 + 0.6 + 0) / 3
    assert f["business_handling"]["score"] == 0.5  # (0.5 + 1.0 + 0) / 3
    assert f["information_records"]["score"] == 0.4  # (0.8 + 0) / 2
    assert f["operations"]["score"] == 0.25  # (0.5 + 0) / 2
    assert not f["data_analysis"]["applicable"] and f["data_analysis"]["weight"] == 0
    # (20 * 0.5333 + 40 * 0.5 + 20 * 0.4 + 20 * 0.25) / 100 * 100 = 43.67
    assert r["total"] == 43.67 and not r["passed"] and r["graded"] == 2
    # Only two functions applicable: re-normalised over 20 + 40: (20 * 1 + 40 * 0.5) / 60 = 66.67
    r2 = compute_result("L4", [{"family": "a", "card": _card(service_response=1.0, business_handling=0.5)}], 1)
    assert r2["total"] == 66.67 and r2["passed"]
    # A failed scorecard gate voids its contact in the functions it covered.
    r3 = compute_result("L4", [{"family": "a", "card": _card(False, True, service_response=1.0)}], 1)
    assert r3["total"] == 0.0


def test_result_arithmetic_l3_by_hand():
    """L3 (5/35/15/15/30): 5*0.7 + 35*0.7 + 15*0.6 + 15*0.5 + 30*1.0 = 74.5, passed."""
    rows = [
        {
            "family": "a",
            "card": _card(service_response=1.0, business_handling=0.8, information_records=0.6, data_analysis=0.5),
        },
        {"family": "b", "card": _card(service_response=0.4, business_handling=0.6, operations=1.0)},
    ]
    r = compute_result("L3", rows, 1)
    assert r["total"] == 74.5 and r["passed"]
    assert r["functions"]["operations"]["points"] == 30.0 and r["functions"]["service_response"]["points"] == 3.5


def test_pass_k_by_hand():
    """Families A TTF, B TTT, C FTT, D TFT: pass^1 = 3/4, pass^2 = 2/4, pass^3 = 1/4."""
    seq = [("A", True), ("B", True), ("C", False), ("D", True), ("A", True), ("B", True), ("C", True), ("D", False)]
    seq += [("A", False), ("B", True), ("C", True), ("D", True)]
    r = pass_k(seq, 3)
    assert r["overall"] == {"1": 0.75, "2": 0.5, "3": 0.25}
    assert r["families"]["A"]["pass"] == {"1": True, "2": True, "3": False}
    assert r["families"]["C"]["pass"] == {"1": False, "2": False, "3": False}
    assert pass_k([("A", True)], 2)["overall"] == {"1": 1.0, "2": 0.0}  # one attempt cannot pass^2


def test_exam_pages(floor, client, auth):
    """The lead schedules through the form; the candidate sees the exam in progress with time left, no score."""
    with floor.app_context():
        cand_id = _u("cand").id
    auth.login("lead1")
    page = client.get("/exams").get_data(as_text=True)
    assert 'id="schedule-form"' in page and "en-delivery-status" in page
    resp = client.post(
        "/exams/schedule",
        data={
            "candidate_id": cand_id,
            "duration_minutes": 30,
            "k": 1,
            "pos:en-points-rules": "2",
            "pos:en-delivery-status": "1",
        },
    )
    assert resp.status_code == 302
    with floor.app_context():
        exam = db.session.scalars(select(SkillExam)).one()
        assert exam.scenario_ids == ["en-delivery-status", "en-points-rules"]
        exam_id = exam.id
    assert client.post("/exams/schedule", data={"candidate_id": cand_id, "duration_minutes": 20}).status_code == 302
    with floor.app_context():
        assert db.session.query(SkillExam).count() == 1  # 20 minutes refused
    auth.logout()
    auth.login("lead2")
    assert client.get(f"/exams/{exam_id}").status_code == 403
    auth.logout()
    auth.login("cand")
    assert client.post(f"/exams/{exam_id}/start").status_code == 302
    page = client.get(f"/exams/{exam_id}").get_data(as_text=True)
    assert "Exam in progress" in page and 'id="exam-time-left"' in page and "exam-total" not in page
    status = client.get(f"/api/exams/{exam_id}/status").get_json()
    assert status["status"] == "running" and 1790 < status["remaining"] <= 1800 and "total" not in status
    assert client.post(f"/exams/{exam_id}/release").status_code == 403
