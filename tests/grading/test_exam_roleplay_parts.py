"""Changing which parts of a scheduled skill exam are role-played (grading/exam_parts.py), from the lead's exam
page: the candidate's lead ticks or unticks a chat part until the exam starts (a ``skill_exam`` event tells the
floor), after the start the change is refused with a clear message and nothing moves; another group's lead and the
candidate are refused; a part whose customer a person cannot play (email) is refused by name; the form needs its
CSRF token."""

from __future__ import annotations

import re

import pytest

from accounts.models import User
from contacts.events import subscribe, unsubscribe
from extensions import db
from grading.exam_parts import do_set_roleplayed_parts
from grading.exam_results import attempts_of
from grading.exams import ExamError, do_schedule_skill_exam
from grading.models import SkillExam

from .conftest import login, user_id

CHAT, CHAT2, EMAIL = "en-delivery-status", "en-points-rules", "en-email-order-status"


def _scheduled(app, ids=(CHAT, CHAT2), k=1) -> int:
    with app.app_context():
        lead, cand = (db.session.get(User, user_id(n)) for n in ("lead1", "cand"))
        return do_schedule_skill_exam(lead, cand, list(ids), 30, k=k, lang="en").id


def _modes(app, exam_id) -> dict[str, set[str]]:
    with app.app_context():
        out: dict[str, set[str]] = {}
        for a in attempts_of(db.session.get(SkillExam, exam_id)):
            out.setdefault(a.scenario_id, set()).add(a.mode)
        return out


def test_the_lead_changes_the_role_played_parts_of_a_scheduled_exam_from_its_page(floor):
    """Ticking the first chat part makes both its attempts (k=2) role-played and tells the floor; unticking it
    makes them simulated again; the page shows the form with the current choice."""
    app = floor
    exam_id = _scheduled(app, k=2)
    lead = login(app, "lead1")
    page = lead.get(f"/exams/{exam_id}").get_data(as_text=True)
    assert 'id="exam-roleplay-parts"' in page and f'name="rp:{CHAT}"' in page and f'name="rp:{CHAT2}"' in page
    published = []
    subscribe(published.append)
    try:
        r = lead.post(f"/exams/{exam_id}/roleplay-parts", data={f"rp:{CHAT}": "1"}, follow_redirects=True)
    finally:
        unsubscribe(published.append)
    assert r.status_code == 200 and "Role-played parts saved." in r.get_data(as_text=True)
    assert _modes(app, exam_id) == {CHAT: {"roleplay"}, CHAT2: {"simulated"}}
    (event,) = [e for e in published if e["type"] == "skill_exam"]
    assert event["event"] == "roleplay_parts" and event["exam"] == {
        "id": exam_id,
        "status": "scheduled",
        "roleplayed": [CHAT],
    }
    page = lead.get(f"/exams/{exam_id}").get_data(as_text=True)
    assert re.search(rf'name="rp:{CHAT}" value="1" checked', page)
    assert not re.search(rf'name="rp:{CHAT2}" value="1" checked', page)
    assert lead.post(f"/exams/{exam_id}/roleplay-parts", data={}).status_code == 302
    assert _modes(app, exam_id) == {CHAT: {"simulated"}, CHAT2: {"simulated"}}


def test_once_the_exam_has_started_its_parts_stay_as_they_are(floor):
    """After the candidate starts, the form is gone and a change is refused with the reason; the modes stay."""
    app = floor
    exam_id = _scheduled(app)
    lead, cand = login(app, "lead1"), login(app, "cand")
    assert lead.post(f"/exams/{exam_id}/roleplay-parts", data={f"rp:{CHAT2}": "1"}).status_code == 302
    assert cand.post(f"/exams/{exam_id}/start").status_code == 302
    assert 'id="exam-roleplay-parts"' not in lead.get(f"/exams/{exam_id}").get_data(as_text=True)
    r = lead.post(f"/exams/{exam_id}/roleplay-parts", data={f"rp:{CHAT}": "1"}, follow_redirects=True)
    assert "this exam is running: role-played parts can change only before it starts" in r.get_data(as_text=True)
    assert _modes(app, exam_id) == {CHAT: {"simulated"}, CHAT2: {"roleplay"}}
    with app.app_context():
        exam = db.session.get(SkillExam, exam_id)
        with pytest.raises(ExamError) as e:
            do_set_roleplayed_parts(db.session.get(User, user_id("lead1")), exam, [CHAT])
        assert e.value.status == 409


def test_only_the_candidates_lead_may_change_the_parts(floor):
    """Another group's lead is refused (403) and so is the candidate; neither sees the form; nothing changes."""
    app = floor
    exam_id = _scheduled(app)
    for name in ("lead2", "cand"):
        http = login(app, name)
        assert http.post(f"/exams/{exam_id}/roleplay-parts", data={f"rp:{CHAT}": "1"}).status_code == 403
        assert 'id="exam-roleplay-parts"' not in http.get(f"/exams/{exam_id}").get_data(as_text=True)
    assert _modes(app, exam_id) == {CHAT: {"simulated"}, CHAT2: {"simulated"}}
    with app.app_context():
        with pytest.raises(ExamError) as e:
            do_set_roleplayed_parts(db.session.get(User, user_id("lead2")), db.session.get(SkillExam, exam_id), [CHAT])
        assert e.value.status == 403


def test_a_part_a_person_cannot_play_is_refused_by_name(floor):
    """An email part shows no checkbox; ticking it anyway (a hand-made form) is refused naming the scenario and
    its channel, and a scenario outside the exam is refused too; the other parts keep their modes."""
    app = floor
    exam_id = _scheduled(app, ids=(CHAT, EMAIL))
    lead = login(app, "lead1")
    page = lead.get(f"/exams/{exam_id}").get_data(as_text=True)
    assert f'name="rp:{EMAIL}"' not in page and "a simulated customer only" in page
    r = lead.post(f"/exams/{exam_id}/roleplay-parts", data={f"rp:{CHAT}": "1", f"rp:{EMAIL}": "1"})
    assert r.status_code == 302
    flashed = lead.get(f"/exams/{exam_id}").get_data(as_text=True)
    assert f"scenario &#39;{EMAIL}&#39; is a email scenario: it cannot be role-played" in flashed
    assert _modes(app, exam_id) == {CHAT: {"simulated"}, EMAIL: {"simulated"}}
    with app.app_context():
        lead_user, exam = db.session.get(User, user_id("lead1")), db.session.get(SkillExam, exam_id)
        with pytest.raises(ExamError, match="one of the exam's scenarios"):
            do_set_roleplayed_parts(lead_user, exam, [CHAT2])


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_the_change_needs_the_pages_csrf_token(floor):
    """With CSRF on, a POST without the form's token is refused (400) and changes nothing; with it, it is done."""
    app = floor
    exam_id = _scheduled(app)
    lead = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', lead.get("/login").get_data(as_text=True)).group(1)
    login_form = {"username": "lead1", "password": "pass1234", "csrf_token": token}
    assert lead.post("/login", data=login_form).status_code == 302
    assert lead.post(f"/exams/{exam_id}/roleplay-parts", data={f"rp:{CHAT}": "1"}).status_code == 400
    assert _modes(app, exam_id) == {CHAT: {"simulated"}, CHAT2: {"simulated"}}
    page = lead.get(f"/exams/{exam_id}").get_data(as_text=True)
    form = page[page.index('id="exam-roleplay-parts"') :]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    data = {f"rp:{CHAT}": "1", "csrf_token": token}
    assert lead.post(f"/exams/{exam_id}/roleplay-parts", data=data).status_code == 302
    assert _modes(app, exam_id) == {CHAT: {"roleplay"}, CHAT2: {"simulated"}}
