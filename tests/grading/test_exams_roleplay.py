"""Role-played skill-exam parts: the lead marks a chat part "role-played"; when it comes up a role-play of its
scenario is opened for the candidate, the lead's exam page shows the link and the customer card, a person plays the
customer through the real /customer socket while the candidate serves on /desk, and the contact is an exam contact:
withheld, graded at the exam's end into its result. A lead of another group sees none of it."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from accounts.models import User
from clock import clock
from contacts.models import Contact
from extensions import db
from grading.exam_results import attempts_of, compute_result
from grading.exams import ExamError, do_schedule_skill_exam, feedback_withheld, tick_skill_exams
from grading.models import Scorecard, SkillExam
from roleplay.models import RolePlay

from .conftest import login, user_id

SCENARIO = "en-delivery-status"


def _ack(sc, ns, event, data):
    res = sc.emit(event, data, namespace=ns, callback=True)
    assert isinstance(res, dict) and res.get("ok"), res
    return res


def _schedule(app, lead_http, **extra) -> int:
    with app.app_context():
        cand = user_id("cand")
    form = {"candidate_id": cand, "duration_minutes": 30, "k": 1, f"pos:{SCENARIO}": "1", **extra}
    assert lead_http.post("/exams/schedule", data=form).status_code == 302
    with app.app_context():
        return db.session.scalars(select(SkillExam.id).order_by(SkillExam.id.desc())).first()


def test_a_role_played_chat_part_is_played_on_customer_and_desk_and_graded_into_the_result(floor):
    """The link and card on the lead's page; the contact is the exam's (withheld, not auto-graded); its scorecard
    is the exam's result; lead2 can neither see the exam nor the link."""
    from extensions import socketio

    app = floor
    lead, lead2, cand_http = login(app, "lead1"), login(app, "lead2"), login(app, "cand")
    assert f'name="rp:{SCENARIO}"' in lead.get("/exams").get_data(as_text=True)  # the form's per-part choice
    exam_id = _schedule(app, lead, **{f"rp:{SCENARIO}": "1"})
    with app.app_context():
        (attempt,) = attempts_of(db.session.get(SkillExam, exam_id))
        assert attempt.mode == "roleplay"
    assert cand_http.post(f"/exams/{exam_id}/start").status_code == 302
    with app.app_context():
        (attempt,) = attempts_of(db.session.get(SkillExam, exam_id))
        assert attempt.outcome == "served" and attempt.contact_id is None  # waiting for the role-player

    page = lead.get(f"/exams/{exam_id}").get_data(as_text=True)
    assert 'data-mode="roleplay"' in page and 'class="card narrow roleplay-card"' in page
    link = re.search(r'class="rp-link" value="([^"]+)"', page).group(1)
    assert "/customer/chat?roleplay=" in link
    token = re.search(r"roleplay=([\w-]+)", link).group(1)
    assert token not in cand_http.get(f"/exams/{exam_id}").get_data(as_text=True)  # the candidate never sees it
    # Another group's lead: no exam page, no link in their role-play list.
    assert lead2.get(f"/exams/{exam_id}").status_code == 403
    assert token not in lead2.get("/api/roleplays").get_data(as_text=True)
    assert all(r["agent_id"] is not None for r in lead.get("/api/roleplays").get_json()["roleplays"])

    customer_http = app.test_client()
    started = customer_http.post("/api/roleplays/start", json={"token": token})
    assert started.status_code == 201, started.get_json()
    cid, ctoken = started.get_json()["contact_id"], started.get_json()["token"]
    with app.app_context():
        contact = db.session.get(Contact, cid)
        exam = db.session.get(SkillExam, exam_id)
        assert contact.exercise_id == exam.exercise_id and contact.scenario_id == SCENARIO
        assert contact.reserved_agent_id == user_id("cand") and not contact.simulated

    desk = socketio.test_client(app, namespace="/desk", flask_test_client=cand_http)
    cust = socketio.test_client(app, namespace="/customer", flask_test_client=customer_http)
    _ack(desk, "/desk", "set_state", {"state": "available"})
    _ack(cust, "/customer", "resume", {"contact_id": cid, "token": ctoken, "after_seq": 0})
    for _ in range(250):
        with app.app_context():
            if db.session.get(Contact, cid).status == "active":
                break
        time.sleep(0.02)
    with app.app_context():
        tick_skill_exams()
        (attempt,) = attempts_of(db.session.get(SkillExam, exam_id))
        assert attempt.contact_id == cid and attempt.outcome == "served"  # bound, still talking
    _ack(cust, "/customer", "send", {"contact_id": cid, "token": ctoken, "text": "Hi, where is my smartwatch?"})
    reply = "Hello! I'm sorry for the wait. Could you send me your order number?"
    _ack(desk, "/desk", "send", {"contact_id": cid, "text": reply})
    _ack(cust, "/customer", "send", {"contact_id": cid, "token": ctoken, "text": "It is order EN-1042."})
    _ack(desk, "/desk", "end", {"contact_id": cid})
    _ack(desk, "/desk", "wrap_up", {"contact_id": cid, "code": "ENQ_DELIVERY"})
    assert app.extensions["kefu_grading"].wait_idle(30)
    with app.app_context():
        assert db.session.scalar(select(Scorecard).where(Scorecard.contact_id == cid)) is None  # not at wrap-up
    desk.disconnect(namespace="/desk")
    cust.disconnect(namespace="/customer")

    with app.app_context():
        tick_skill_exams()  # the part is done and the set is complete: the exam finishes and grades
        exam = db.session.get(SkillExam, exam_id)
        (attempt,) = attempts_of(exam)
        assert attempt.outcome == "wrapped_up" and exam.end_reason == "completed"
        card = db.session.scalars(select(Scorecard).where(Scorecard.contact_id == cid, Scorecard.current)).one()
        assert card.data["scenario_id"] == SCENARIO
        rows = [{"family": attempt.family, "attempt": 1, "card": card.data}]
        assert exam.result["graded"] == 1 and exam.total == compute_result("L4", rows, 1)["total"]
        assert feedback_withheld(db.session.get(User, user_id("cand")), cid)
    again = customer_http.post("/api/roleplays/start", json={"token": token})
    assert again.status_code == 400


def test_a_role_played_part_nobody_starts_ends_at_time_up_and_its_link_dies(floor):
    """Time-up ends a part the role-player never started (time_up, no contact), and the link no longer starts."""
    app = floor
    lead, cand_http = login(app, "lead1"), login(app, "cand")
    exam_id = _schedule(app, lead, roleplay_all="1")
    assert cand_http.post(f"/exams/{exam_id}/start").status_code == 302
    with app.app_context():
        rp = db.session.scalars(select(RolePlay)).one()
        token = rp.token
        assert rp.agent_id == user_id("cand") and rp.scenario_id == SCENARIO
    clock.advance(30 * 60 + 1)
    with app.app_context():
        tick_skill_exams()
        exam = db.session.get(SkillExam, exam_id)
        (attempt,) = attempts_of(exam)
        assert exam.end_reason == "time_up" and attempt.outcome == "time_up" and attempt.contact_id is None
        assert exam.total == 0.0
    r = app.test_client().post("/api/roleplays/start", json={"token": token})
    assert r.status_code == 400 and "expired" in r.get_json()["error"]


def test_only_the_candidates_lead_schedules_role_played_parts_of_channels_a_person_can_play(floor):
    """lead2 is refused (403); an email scenario cannot be role-played; nor a scenario outside the set."""
    with floor.app_context():
        lead, lead2, cand = (db.session.get(User, user_id(n)) for n in ("lead1", "lead2", "cand"))
        with pytest.raises(ExamError) as e:
            do_schedule_skill_exam(lead2, cand, [SCENARIO], 30, roleplayed=[SCENARIO])
        assert e.value.status == 403
        from scenarios.registry import list_scenarios

        email = next(s.id for s in list_scenarios(lang="en", channel="email") if s.level in ("L4", "L5"))
        with pytest.raises(ExamError, match="cannot be role-played"):
            do_schedule_skill_exam(lead, cand, [SCENARIO, email], 30, roleplayed=[email])
        with pytest.raises(ExamError, match="one of the exam's scenarios"):
            do_schedule_skill_exam(lead, cand, [SCENARIO], 30, roleplayed=["en-points-rules"])
    lead2_http = login(floor, "lead2")
    with floor.app_context():
        cand_id = user_id("cand")
    form = {"candidate_id": cand_id, "duration_minutes": 30, f"pos:{SCENARIO}": "1", f"rp:{SCENARIO}": "1"}
    assert lead2_http.post("/exams/schedule", data=form).status_code == 403


def test_a_role_played_voice_part_is_a_call_on_the_exam_and_is_hung_up_at_time_up(floor):
    """A voice part's link is the call page; the call the role-player places is the exam's, reserved for the
    candidate, and time-up ends it like a simulated caller's."""
    app = floor
    lead, cand_http = login(app, "lead1"), login(app, "cand")
    with app.app_context():
        cand = user_id("cand")
    form = {"candidate_id": cand, "duration_minutes": 30, "pos:en-voice-late-delivery": "1", "roleplay_all": "1"}
    assert lead.post("/exams/schedule", data=form).status_code == 302
    with app.app_context():
        exam_id = db.session.scalars(select(SkillExam.id)).one()
    assert cand_http.post(f"/exams/{exam_id}/start").status_code == 302
    link = re.search(r'class="rp-link" value="([^"]+)"', lead.get(f"/exams/{exam_id}").get_data(as_text=True))
    assert "/customer/call?roleplay=" in link.group(1)
    token = re.search(r"roleplay=([\w-]+)", link.group(1)).group(1)
    started = app.test_client().post("/api/roleplays/start", json={"token": token})
    assert started.status_code == 201, started.get_json()
    cid = started.get_json()["contact_id"]
    with app.app_context():
        contact = db.session.get(Contact, cid)
        assert contact.channel == "voice" and contact.reserved_agent_id == cand
        assert contact.exercise_id == db.session.get(SkillExam, exam_id).exercise_id
    clock.advance(30 * 60 + 1)
    with app.app_context():
        tick_skill_exams()
        exam = db.session.get(SkillExam, exam_id)
        (attempt,) = attempts_of(exam)
        assert attempt.contact_id == cid and attempt.outcome == "time_up"
        assert not db.session.get(Contact, cid).is_open
