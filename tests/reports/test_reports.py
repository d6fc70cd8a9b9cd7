"""Reports on a small built dataset: figures checked by hand, XLSX and PDF exports, and who may see what."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from accounts.models import User
from contacts.models import Contact
from extensions import db
from grading.models import Scorecard, SkillExam, SkillExamAttempt
from reports.data import distribution, group_report, trainee_report

from .. import factories


def _contact(agent, ended_at, total, items, passed=None):
    c = Contact(channel="chat", queue="chat.general", status="closed", lang="en", agent_id=agent.id,
                scenario_id="en-delivery-status", ended_at=ended_at)  # fmt: skip
    db.session.add(c)
    db.session.flush()
    data = {"items": [{"id": i, "title": i.title(), "skills": [code], "status": st} for i, code, st in items]}
    passed = total >= 60 if passed is None else passed
    db.session.add(Scorecard(contact_id=c.id, rubric_id="en-chat", level="L4", total=total, passed=passed,
                             data=data, content_hash=f"h{c.id}", current=True))  # fmt: skip
    return c


G, V, C = "greet", "verify", "close"


@pytest.fixture
def dataset(app):
    """team (lead1): t1 with 80/40/65 and an unreleased exam contact (0), t2 with 95; team2 (lead2): t3 with 10."""
    with app.app_context():
        lead1, lead2 = factories.user("lead1", role="lead"), factories.user("lead2", role="lead")
        team, team2 = factories.group("一组", lead=lead1), factories.group("team2", lead=lead2)
        t1 = factories.user("t1", group=team, display_name="王芳")
        t2, t3 = factories.user("t2", group=team), factories.user("t3", group=team2)
        factories.user("g1", role="grader")
        _contact(t1, 100, 80, [(G, "L4/1.1.1", "pass"), (V, "L4/2.2.1", "fail")])
        _contact(t1, 200, 40, [(G, "L4/1.1.1", "pass"), (V, "L4/2.2.1", "fail"), (C, "L4/3.1.1", "fail")])
        _contact(t1, 300, 65, [(G, "L4/1.1.1", "fail"), (V, "L4/2.2.1", "pass"), ("empathy", "L4/1.2.1", "na")])
        exam_contact = _contact(t1, 400, 0, [(G, "L4/1.1.1", "fail")])
        _contact(t2, 150, 95, [(G, "L4/1.1.1", "pass"), (V, "L4/2.2.1", "pass"), (C, "L4/3.1.1", "pass")])
        _contact(t3, 150, 10, [(G, "L4/1.1.1", "fail")])
        exam = SkillExam(candidate_id=t1.id, level="L4", lang="en", status="finished", scenario_ids=[], result={})
        db.session.add(exam)
        db.session.flush()
        db.session.add(
            SkillExamAttempt(exam_id=exam.id, position=1, scenario_id="x", family="x", contact_id=exam_contact.id)
        )
        db.session.commit()
    return app


def _user(name):
    return db.session.scalar(db.select(User).where(User.username == name))


def test_trainee_figures_by_hand(dataset):
    """t1 sees 3 contacts (mean 61.67, pass rate 2/3), skill codes by pass rate, the lowest scores first;
    their lead also sees the unreleased exam contact."""
    with dataset.test_request_context():  # report titles are translated
        t1 = _user("t1")
        r = trainee_report(t1, t1)
        assert [v for _l, v in r["summary"]] == [3, 61.67, 0.6667]
        over_time = r["sections"][0]["rows"]
        assert [row[3] for row in over_time] == [80, 40, 65]  # ordered by end time
        weakest = r["sections"][1]["rows"]
        assert weakest == [["L4/3.1.1", 0, 1, 0.0], ["L4/2.2.1", 1, 3, 0.3333], ["L4/1.1.1", 2, 3, 0.6667]]
        review = r["sections"][2]["rows"]
        assert [row[2] for row in review] == [40, 65, 80] and review[0][3] == f"/contacts/{review[0][0]}/scorecard"
        as_lead = trainee_report(t1, _user("lead1"))
        assert as_lead["summary"][0][1] == 4 and as_lead["sections"][2]["rows"][0][2] == 0


def test_a_provisional_scorecard_is_shown_so_and_not_counted_as_passed(dataset):
    """A scorecard waiting for a grader's manual items reads "Provisional" in the report, and the pass rate counts
    it as not passed (it may still fall under the pass mark); a gated one reads "Failed" whatever is pending."""
    with dataset.test_request_context():
        t2 = _user("t2")
        pending = _contact(t2, 500, 72, [(G, "L4/1.1.1", "pass")], passed=False)
        card = db.session.scalar(db.select(Scorecard).where(Scorecard.contact_id == pending.id))
        card.complete = False
        db.session.commit()
        r = trainee_report(t2, t2)
        assert r["summary"][2][1] == 0.5  # 95 passed, 72 provisional
        verdicts = {row[1]: row[4] for row in r["sections"][0]["rows"]}
        assert verdicts[pending.id] == "Provisional" and "Passed" in verdicts.values()
        card.gated = True
        db.session.commit()
        verdicts = {row[1]: row[4] for row in trainee_report(t2, t2)["sections"][0]["rows"]}
        assert verdicts[pending.id] == "Failed"


def test_group_figures_by_hand(dataset):
    """Group 一组: totals 80, 40, 65, 0, 95 -> bins, pass rate 3/5, item difficulty by share passing."""
    with dataset.test_request_context():  # report titles are translated
        from accounts.models import Group

        team = db.session.scalar(db.select(Group).where(Group.name == "一组"))
        r = group_report(team)
        assert [v for _l, v in r["summary"]] == [2, 5, 56.0, 0.6]
        assert r["charts"]["hist"] == [1, 0, 0, 0, 1, 0, 1, 0, 1, 1]
        difficulty = {row[1]: (row[3], row[4], row[5]) for row in r["sections"][2]["rows"]}
        assert difficulty == {"greet": (3, 5, 0.6), "verify": (2, 4, 0.5), "close": (1, 2, 0.5)}
        assert [row[1] for row in r["sections"][2]["rows"]] == ["close", "verify", "greet"]
        trainees = {row[0]: row[1:] for row in r["sections"][1]["rows"]}
        assert trainees["王芳"] == [4, 46.25, 0.5] and trainees["t2"] == [1, 95.0, 1.0]
    assert distribution([0, 9.99, 10, 59.9, 60, 100]) == [2, 1, 0, 0, 0, 1, 1, 0, 0, 1]


def test_exports_hold_the_numbers(dataset, client, auth):
    """XLSX opens with openpyxl and holds the weakest-skill table; the PDF starts with %PDF, has pages and
    embeds a font for the Chinese names."""
    auth.login("lead1")
    with dataset.app_context():
        t1_id = _user("t1").id
    resp = client.get(f"/reports/trainees/{t1_id}?format=xlsx")
    assert resp.status_code == 200 and "spreadsheetml" in resp.mimetype
    wb = load_workbook(io.BytesIO(resp.data))
    rows = list(wb["weakest"].iter_rows(values_only=True))
    assert rows[2] == ("L4/3.1.1", 0, 1, 0) and rows[4] == ("L4/1.1.1", 2, 4, 0.5)  # with the exam contact
    assert ("Graded contacts", 4) in list(wb["Summary"].iter_rows(values_only=True))
    resp = client.get("/reports/groups/1?format=pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    assert resp.data.count(b"/Type /Page") >= 2  # the /Pages node and at least one page
    assert client.get(f"/reports/trainees/{t1_id}?format=doc").status_code == 400


def test_pages_show_svg_charts(dataset, client, auth):
    """The trainee page draws the line and bars as inline SVG; the group page its histogram."""
    auth.login("t1")
    page = client.get("/reports").headers["Location"]
    html = client.get(page).get_data(as_text=True)
    assert html.count("<svg") == 2 and "<polyline" in html and "/scorecard" in html
    auth.logout()
    auth.login("lead1")
    html = client.get("/reports/groups/1").get_data(as_text=True)
    assert "<svg" in html and "<rect" in html and 'id="section-difficulty"' in html


def test_role_checks(dataset, client, auth):
    """Trainees see only their own report; leads their groups and trainees; graders all; no panels yet."""
    with dataset.app_context():
        ids = {n: _user(n).id for n in ("t1", "t2", "t3")}
    cases = {
        "t1": {f"/reports/trainees/{ids['t1']}": 200, f"/reports/trainees/{ids['t2']}": 403, "/reports/groups/1": 403,
               "/reports/graders": 403},
        "lead1": {f"/reports/trainees/{ids['t1']}": 200, f"/reports/trainees/{ids['t3']}": 403,
                  "/reports/groups/1": 200, "/reports/groups/2": 403, "/reports/graders": 403},
        "g1": {f"/reports/trainees/{ids['t3']}": 200, "/reports/groups/2": 200, "/reports/graders": 200},
    }  # fmt: skip
    for user, urls in cases.items():
        auth.login(user)
        for url, code in urls.items():
            assert client.get(url).status_code == code, (user, url)
        auth.logout()
    auth.login("g1")
    assert 'id="no-panels"' in client.get("/reports/graders").get_data(as_text=True)
    assert client.get("/reports/trainees/99999").status_code == 404
