"""The skill exam's livestream part (tasks/exam_live.py): the L3 plan includes the pack's livestream brief (L4's
does not: the brief is L3, where L3/1.2.1 is weighted under service response), serving it opens a livestream
presented by the candidate on the exam's exercise (withheld until release, the brief recorded and shown on the
presenter's page), time-up ends it
and the exam's result includes its livestream-rubric scorecard. Broken briefs fail the pack check."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from contacts.models import Contact
from extensions import db

from .conftest import PACKS, user


def test_l3_plan_includes_a_livestream_part_and_l4_does_not(exam_candidate, app):
    from tasks.exam import plan_skill_exam

    with app.app_context():
        l3 = plan_skill_exam("L3", "en")
        l4 = plan_skill_exam("L4", "en")
        zh = plan_skill_exam("L3", "zh_CN")
    assert l3["channels"]["livestream"] == ["en-live-sale-service"]
    assert "en-live-sale-service" in l3["scenarios"]
    assert "livestream:en-live-sale-service" in l3["functions"]["service_response"]["parts"]
    assert zh["channels"]["livestream"] == ["zh-live-618-service"]
    assert "livestream" not in l4["channels"] and "livestream" in l4["not_served"]


def test_livestream_part_served_on_the_exam_and_graded_at_time_up(exam_candidate, app, client, auth):
    from clock import clock
    from grading.actions import current_scorecard
    from grading.exam_results import attempts_of
    from grading.exams import advance_skill_exam, do_schedule_skill_exam, do_start_skill_exam, feedback_withheld
    from grading.models import SkillExam
    from livestream.actions import do_mark_answered, do_post_comment, livestream_settings

    with app.app_context():
        cand = user("cand")
        exam = do_schedule_skill_exam(user("lead1"), cand, ["en-live-sale-service"], 30, 1, "en")
        exam_id = exam.id
        do_start_skill_exam(cand, exam)
        live = db.session.get(Contact, attempts_of(exam)[0].contact_id)
        assert live.channel == "livestream" and live.status == "active"
        assert live.agent_id == cand.id and live.exercise_id == exam.exercise_id
        settings = livestream_settings(live)
        assert settings["title"].startswith("Summer sale") and settings["started_by"] == user("lead1").id
        assert settings["brief"]["id"] == "en-live-sale-service" and len(settings["brief"]["points"]) == 5
        assert feedback_withheld(cand, live.id)
        live_id = live.id
    auth.login("cand")  # the presenter's page shows the session brief and its points
    page = client.get(f"/livestream/{live_id}/present").get_data(as_text=True)
    assert "Session brief" in page and "Points to cover" in page and "7-day no-reason returns" in page
    auth.logout()
    with app.app_context():
        cand, exam, live = user("cand"), db.session.get(SkillExam, exam_id), db.session.get(Contact, live_id)
        # the audience asks two distinct questions; the candidate answers one
        q1 = do_post_comment(live, "v1", "Ann", "When will sale orders ship?", sim={"kind": "question", "need": "ship"})
        do_post_comment(live, "v2", "Bo", "How long do refunds take?", sim={"kind": "question", "need": "refund"})
        do_mark_answered(live, cand.id, q1["seq"])
        db.session.commit()
        advance_skill_exam(exam)  # still live: the part stays current
        assert attempts_of(exam)[0].outcome == "served"
        exam.ends_at = clock.timestamp() - 1
        db.session.commit()
        advance_skill_exam(exam)
        exam = db.session.get(SkillExam, exam_id)
        assert exam.status in ("finished", "graded") and exam.end_reason == "time_up"
        assert [(a.scenario_id, a.outcome) for a in attempts_of(exam)] == [("en-live-sale-service", "time_up")]
        db.session.refresh(live)
        assert live.status == "closed"
        card = current_scorecard(live.id)
        assert card is not None
        items = {it["id"]: it for it in card.data["items"]}
        assert "questions-answered" in items and "face-present" in items
        res = exam.result
        assert res["attempts"] == 1 and res["graded"] == 1
        assert res["functions"]["service_response"]["attempts"] == 1


def test_a_broken_livestream_brief_fails_the_pack_check(app, tmp_path):
    from scenarios.loader import PackError
    from tasks.exam_live import pack_hook

    folder = tmp_path / "livestream"
    folder.mkdir()
    (folder / "a.yaml").write_text("id: x\ntitle: T\nlevel: L3\nskills: [1.2.1]\nbrief: B\npoints: []\n")
    with app.app_context(), pytest.raises(PackError) as e:
        pack_hook(SimpleNamespace(path=tmp_path, lang="en"), write=False)
    text = str(e.value)
    assert "a.yaml" in text and "skills" in text and "points" in text
    with app.app_context():
        for lang in ("en", "zh_CN"):
            pack_hook(SimpleNamespace(path=PACKS / lang, lang=lang), write=False)  # the shipped briefs pass
