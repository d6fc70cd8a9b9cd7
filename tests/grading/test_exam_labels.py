"""A skill exam's codes are shown by their labels in the reader's language: its exercise's name on the exercise
list and the new-panel form, and the end reason of a contact the exam ended on the desk (the product rule: no
code shown as stored)."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from contacts.models import Contact, ContactEvent
from extensions import db
from grading.exam_results import attempts_of
from grading.exams import do_finish_skill_exam, do_schedule_skill_exam, do_start_skill_exam
from routing.actions import do_set_agent_state
from simulator.models import Exercise

L5_SET = ["en-delivery-status", "en-points-rules"]


def _u(name):
    from accounts.models import User

    return db.session.scalar(select(User).where(User.username == name))


def _desk_config(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="desk-config">(.*?)</script>', page, re.S)
    assert m, "the desk's config is on the page"
    return json.loads(m.group(1))


def test_exam_exercise_and_end_reason_are_labelled(floor, client, auth):
    """The lead ends a running exam: the open contact ends with reason exam_ended, which the desk labels; the
    exam's exercise reads "技能考核 #N" on zh pages, "Skill exam #N" on en ones, never "skill exam N"."""
    engine = floor.extensions["kefu_simulator"]
    with floor.app_context():
        cand = _u("cand")
        do_set_agent_state(cand, "available")
        exam = do_schedule_skill_exam(_u("lead1"), cand, L5_SET, 30)
        do_start_skill_exam(cand, exam)
        engine.run_until_idle(30)
        cid = attempts_of(exam)[0].contact_id
        do_finish_skill_exam(exam, reason="ended", actor=_u("lead1"))
        ended = db.session.scalar(
            select(ContactEvent).where(ContactEvent.contact_id == cid, ContactEvent.type == "contact.ended")
        )
        assert ended.data["reason"] == "exam_ended" and db.session.get(Contact, cid).status == "wrap_up"
        exam_id, exercise_id = exam.id, exam.exercise_id
        assert db.session.get(Exercise, exercise_id).name == f"skill exam {exam_id}"  # stored as before
    auth.login("lead1")
    for path in ("/floor/exercises", "/review/panels/new"):
        zh = client.get(f"{path}?lang=zh_CN").get_data(as_text=True)
        assert f"技能考核 #{exam_id}" in zh and "skill exam" not in zh.lower(), path
        en = client.get(f"{path}?lang=en").get_data(as_text=True)
        assert f"Skill exam #{exam_id}" in en, path
    auth.logout()
    auth.login("cand")
    config = _desk_config(client.get("/desk?lang=zh_CN").get_data(as_text=True))
    reasons = config["i18n"]["reasons"]
    assert reasons["exam_ended"] == "班长提前结束了考试" and reasons["exam_time_up"] == "考试时间已用完"


def test_exercise_label_keeps_other_names(app):
    """A lead's own exercise name is shown as given, even one that looks like an exam's; only the exam's
    exercise is relabelled."""
    from labels import exercise_label

    with app.test_request_context("/?lang=zh_CN"):
        assert exercise_label(Exercise(name="skill exam 7", kind="exam")) == "技能考核 #7"
        assert exercise_label(Exercise(name="skill exam 7", kind="practice")) == "skill exam 7"
        assert exercise_label(Exercise(name="晚班演练", kind="practice")) == "晚班演练"
