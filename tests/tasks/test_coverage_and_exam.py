"""`flask content coverage` over the shipped packs, spec validation naming file and line, and an L3 skill exam
assembled by the §4.2 weights from a chat contact and work items, with per-function scores in the result."""

from __future__ import annotations

import json

import pytest

from extensions import db
from grading.standard import weights_for
from tasks.content import read_specs

from .. import factories
from .conftest import PACKS, user

ISSUE_17 = (
    "L4/2.1.1", "L4/2.5.1", "L4/2.5.2", "L4/3.1.2", "L4/3.2.1", "L4/4.1.1", "L4/4.1.2", "L4/4.2.1",
    "L4/4.2.2", "L3/2.1.1", "L3/2.2.1", "L3/2.3.3", "L3/2.4.1", "L3/2.4.2", "L3/3.1.1", "L3/3.1.2",
    "L3/3.2.1", "L3/3.2.2", "L3/4.1.1", "L3/4.1.2", "L3/4.1.3", "L3/4.2.1", "L3/4.2.2", "L3/4.2.3",
    "L3/5.1.1", "L3/5.1.2", "L3/5.1.3", "L3/5.1.4", "L3/5.2.1", "L3/5.2.2", "L3/5.2.3",
)  # fmt: skip
# The contact skills the chat rubric's passed-up and senior-care items score (grading/evaluators/escalated.py).
CONTACT_ITEMS = {
    "L4/1.2.1": "escalated-enquiry", "L4/2.3.1": "transfer-report-back", "L4/2.4.1": "risk-recognised",
    "L3/2.1.2": "owns-escalated-complaint", "L3/2.1.3": "within-authority", "L3/2.2.2": "extra-help",
}  # fmt: skip


@pytest.fixture
def coverage_json(app):
    runner = app.test_cli_runner()
    res = runner.invoke(args=["content", "coverage", "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_every_issue_17_item_is_covered_by_graded_content(coverage_json):
    """All 31 items of issue 17 are covered in both languages, each by a task with a rubric item."""
    for lang in ("zh_CN", "en"):
        covered = {c["skill"]: c for lvl in ("L4", "L3") for c in coverage_json[lvl][lang]["covered"]}
        for code in ISSUE_17:
            assert code in covered, (lang, code)
            assert covered[code]["tasks"] and covered[code]["rubric_items"], (lang, code)


def test_the_six_contact_skills_are_scored_by_rubric_items(coverage_json):
    """The six contact skills scenarios claim are each scored by a chat rubric item, in both languages, and the
    scenarios that claim them are among those it grades."""
    claims = {"L4/1.2.1": "escalated-refund-complaint", "L4/2.3.1": "escalated-refund-complaint",
              "L4/2.4.1": "crisis-power-bank-fire", "L3/2.1.2": "repeat-repair", "L3/2.1.3": "repeat-repair",
              "L3/2.2.2": "repeat-repair"}  # fmt: skip
    prefix = {"zh_CN": "zh", "en": "en"}
    for lang in ("zh_CN", "en"):
        covered = {c["skill"]: c for lvl in ("L4", "L3") for c in coverage_json[lvl][lang]["covered"]}
        for code, item in CONTACT_ITEMS.items():
            assert f"{prefix[lang]}-chat-standard/{item}" in covered[code]["rubric_items"], (lang, code)
            assert f"{prefix[lang]}-{claims[code]}" in covered[code]["scenarios"], (lang, code)


def test_zero_uncovered_l4_l3_items(coverage_json):
    """0 uncovered L4/L3 items in either language."""
    for level in ("L4", "L3"):
        for lang in ("zh_CN", "en"):
            assert coverage_json[level][lang]["uncovered"] == []


def test_coverage_text_output(app):
    res = app.test_cli_runner().invoke(args=["content", "coverage"])
    assert res.exit_code == 0 and "L3 zh_CN:" in res.output and "en-task-" in res.output


def test_spec_problems_name_file_and_line(tmp_path):
    """An unknown check, a skill claimed but not scored and a bad metric field are each named with file+line."""
    (tmp_path / "tasks").mkdir()
    src = (PACKS / "en" / "tasks" / "data-weekly-summary.yaml").read_text()
    (tmp_path / "tasks" / "a.yaml").write_text(src.replace("check: answers", "check: answerz"))
    (tmp_path / "tasks" / "b.yaml").write_text(src.replace("en-task-data-weekly-summary", "b").replace(
        "- L3/4.1.2\nminutes", "- L3/4.1.2\n- L3/4.1.1\nminutes"))  # fmt: skip
    (tmp_path / "tasks" / "c.yaml").write_text(src.replace("en-task-data-weekly-summary", "c").replace(
        "field: handle_seconds", "field: handle_minutes"))  # fmt: skip
    specs, errors = read_specs(tmp_path, "en")
    assert specs == []
    text = "\n".join(errors)
    assert "a.yaml line" in text and "no check 'answerz'" in text
    assert "b.yaml line" in text and "L3/4.1.1" in text and "no item scores them" in text
    assert "c.yaml line" in text and "handle_minutes" in text


def test_l3_exam_by_the_weights(app, client, auth):
    """The plan gives every function weighted for L3 a part; the candidate works the items during the exam;
    the result's per-function weights are §4.2's and unsubmitted work counts 0 only in its own functions."""
    from grading.exams import do_finish_skill_exam, do_start_skill_exam
    from grading.models import SkillExam
    from scenarios.loader import load_pack_into_db
    from tasks.exam import do_schedule_skill_exam_with_tasks, plan_skill_exam
    from tasks.models import WorkItem

    with app.app_context():
        load_pack_into_db(PACKS / "en")
        lead = factories.user("lead1", role="lead")
        team = factories.group("team", lead=lead)
        factories.user("cand", role="trainee", level="L3", group=team, locale="en")
        plan = plan_skill_exam("L3", "en")
        weights = weights_for("L3")
        assert set(plan["functions"]) == {f for f, w in weights.items() if w > 0}
        assert all(row["parts"] for row in plan["functions"].values())
        assert plan["scenarios"] and plan["tasks"]
        exam, plan, items = do_schedule_skill_exam_with_tasks(user("lead1"), user("cand"), "en")
        exam_id, item_ids = exam.id, [i.id for i in items]
        assert all(i.exam_id == exam_id for i in items)
    auth.login("cand")
    assert client.get(f"/tasks/{item_ids[0]}").status_code == 409  # not before the exam starts
    with app.app_context():
        do_start_skill_exam(user("cand"), db.session.get(SkillExam, exam_id))
    data_item = next(i for i in item_ids if item_id_kind(app, i) == "data_query")
    assert client.get(f"/tasks/{data_item}").status_code == 200
    assert client.post(f"/api/tasks/{data_item}/submit", json={"answers": {}}).status_code == 200
    with app.app_context():
        exam = db.session.get(SkillExam, exam_id)
        do_finish_skill_exam(exam, reason="ended", actor=user("lead1"))
        db.session.refresh(exam)
        res = exam.result
        assert exam.status == "finished" or exam.status == "graded"
        for f, w in weights.items():
            assert res["functions"][f]["weight"] == w
            if w:
                assert res["functions"][f]["applicable"], f
                assert res["functions"][f]["weight_used"] == pytest.approx(w / 100, abs=1e-4)
        assert res["attempts"] == len(plan["scenarios"]) + len(item_ids)
        it = db.session.get(WorkItem, data_item)
        assert it.status == "graded" and it.total == 0.0
    r = client.post(f"/api/tasks/{item_ids[-1]}/submit", json={})
    assert r.status_code == 409  # the exam is over
    page = client.get(f"/tasks/{data_item}/result").get_data(as_text=True)
    assert "task-withheld" in page  # the candidate sees nothing before release


def item_id_kind(app, iid):
    from tasks.models import WorkItem

    with app.app_context():
        return db.session.get(WorkItem, iid).kind
