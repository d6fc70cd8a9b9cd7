"""The review page and the panel pages over HTTP: who may open them, what they show, the scoring form, and
the JSON API's errors."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from contacts.actions import do_assign_contact, do_create_contact, do_post_message, do_wrap_up_contact
from extensions import db
from grading.actions import current_scorecard, do_grade_contact
from grading.models import Panel, PanelAssignment
from simulator.models import Exercise

from .. import factories
from .test_panels import build_world, u

pytestmark = pytest.mark.app_config(GRADING_AUTO=False)


@pytest.fixture
def world(app):
    return build_world(app)


def _assignment(panel_id, contact_id, username):
    return db.session.scalar(
        select(PanelAssignment).where(
            PanelAssignment.panel_id == panel_id,
            PanelAssignment.contact_id == contact_id,
            PanelAssignment.grader_id == u(username).id,
        )
    )


def _create(client, auth, world, n=3, contacts=None, **extra):
    auth.login("lead1")
    body = {"name": "panel", "contact_ids": contacts or world["contacts"][:1], "grader_ids": world["graders"][:n]}
    res = client.post("/api/review/panels", json={**body, **extra})
    auth.logout()
    return res


def test_review_page_shows_transcript_timeline_evidence_and_manual_form(app, client, auth, world):
    """A grader sees chat bubbles and a timeline keyed by seq, evidence links to those seqs, function
    subtotals, the total, and the manual items with their guidance in a form."""
    cid = world["contacts"][0]
    with app.app_context():
        do_grade_contact(cid)
    auth.login("g1")
    html = client.get(f"/review/contacts/{cid}").get_data(as_text=True)
    assert 'class="msg customer" id="ev-3"' in html and "Hi, where is my parcel?" in html
    assert 'id="tl-1"' in html and "contact.created" in html
    seqs = set(re.findall(r'class="evidence-link" data-seq="(\d+)"', html))
    assert seqs and all(f'id="tl-{s}"' in html for s in seqs)
    assert 'id="review-total"' in html and 'id="review-functions"' in html
    assert "Polite, warm and clear" in html  # guidance of tone-and-wording
    assert 'name="item-ticket-notes-accuracy" value="1"' in html and 'id="manual-save"' in html
    assert 'id="call-recording"' not in html  # a chat has no media


def test_review_page_access(app, client, auth, world):
    """Unknown 404; the trainee sees their own practice contact, not an exam one nor one a panel is scoring;
    a lead of another group and another trainee are refused."""
    cid = world["contacts"][0]
    with app.app_context():
        agent = u("t1")
        exam = Exercise(name="exam", kind="exam")
        db.session.add(exam)
        db.session.commit()
        c = do_create_contact("chat", "chat.general", lang="en", exercise_id=exam.id)
        do_assign_contact(c.id, agent.id)
        do_post_message(c, "agent", "Hello!", actor_id=agent.id)
        do_wrap_up_contact(c, agent, "ENQ_DELIVERY")
        exam_cid = c.id
        factories.user("lead2", role="lead")
        factories.user("t2", role="trainee")
    auth.login("g1")
    assert client.get("/review/contacts/999999").status_code == 404
    auth.logout()
    for username, target, status in (("t1", cid, 200), ("t1", exam_cid, 403), ("t2", cid, 403), ("lead2", cid, 403),
                                     ("lead1", cid, 200)):  # fmt: skip
        auth.login(username)
        assert client.get(f"/review/contacts/{target}").status_code == status, (username, target)
        auth.logout()
    assert _create(client, auth, world).status_code == 201
    auth.login("t1")
    assert client.get(f"/review/contacts/{cid}").status_code == 403  # a panel is open on it
    assert client.get("/review/panels").status_code == 403


def test_panel_scoring_through_the_review_form(app, client, auth, world):
    """Each grader saves and submits on the review page; others' scores stay hidden until a grader submits;
    the panel page then shows every score, the median and the spread, and the scorecard has the medians."""
    cid = world["contacts"][0]
    panel_id = _create(client, auth, world).get_json()["id"]
    marks = {"g1": ("4", "1", "2"), "g2": ("2", "0", "1"), "g3": ("3", "1", "1")}
    for n, (grader, (tone, notes, fit)) in enumerate(marks.items()):
        auth.login(grader)
        page = client.get(f"/review/contacts/{cid}").get_data(as_text=True)
        assert 'id="panel-mode"' in page and 'id="manual-submit"' in page
        form = {"item-tone-and-wording": tone, "item-ticket-notes-accuracy": notes, "item-solution-fit": fit}
        assert client.post(f"/review/contacts/{cid}/scores", data={**form, "action": "save"}).status_code == 302
        result = client.get(f"/review/panels/{panel_id}").get_data(as_text=True)
        assert result.count(">hidden<") == (3 * n)  # earlier graders' submitted scores stay hidden
        res = client.post(f"/review/contacts/{cid}/scores", data={"action": "submit"})
        assert res.status_code == 302 and res.headers["Location"].endswith(f"/review/panels/{panel_id}")
        auth.logout()
    auth.login("g2")
    html = client.get(f"/review/panels/{panel_id}").get_data(as_text=True)
    row = re.search(r'<tr data-item="tone-and-wording">.*?</tr>', html, re.S).group(0)
    assert '<td class="median">3</td>' in row and '<td class="spread">2</td>' in row
    assert 'id="kappa"' in html and "not available" in html  # ICC needs 2 contacts: the reason shows
    with app.app_context():
        manual = current_scorecard(cid).manual_scores
        assert {k: v["value"] for k, v in manual.items()} == {
            "tone-and-wording": 3,
            "ticket-notes-accuracy": 1,
            "solution-fit": 1,
        }
        assert db.session.get(Panel, panel_id).status == "finished"


def test_direct_scoring_outside_a_panel(app, client, auth, world):
    """A grader scores a contact no panel holds: the scorecard's manual scores and total change; an
    off-scale value is refused with a message and changes nothing."""
    cid = world["contacts"][1]
    with app.app_context():
        before = do_grade_contact(cid).total
    auth.login("g4")
    bad = client.post(f"/review/contacts/{cid}/scores", data={"item-solution-fit": "7"}, follow_redirects=True)
    assert "outside the scale" in bad.get_data(as_text=True)
    res = client.post(f"/review/contacts/{cid}/scores", data={"item-tone-and-wording": "4", "item-solution-fit": "2",
                                                               "item-ticket-notes-accuracy": "1"})  # fmt: skip
    assert res.status_code == 302
    with app.app_context():
        row = current_scorecard(cid)
        assert row.manual_scores["tone-and-wording"] == {"value": 4, "by": "g4", "note": None}
        assert row.data["complete"] and row.total > before


def test_panel_api_errors(app, client, auth, world):
    """Even or too few graders 400, a grader creating 403, unknown assignment 404, another grader's
    assignment 403, off-scale 400, submitting twice 409 — each with a JSON error."""
    for n in (2, 4):
        res = _create(client, auth, world, n=n)
        assert res.status_code == 400 and "odd number of graders" in res.get_json()["error"]
    auth.login("g1")
    assert client.post("/api/review/panels", json={"name": "x"}).status_code == 403
    auth.logout()
    panel_id = _create(client, auth, world).get_json()["id"]
    cid = world["contacts"][0]
    with app.app_context():
        a1 = _assignment(panel_id, cid, "g1").id
    auth.login("g2")
    assert client.post(f"/api/review/assignments/{a1}/scores", json={"scores": {"solution-fit": 1}}).status_code == 403
    auth.logout()
    auth.login("g1")
    assert client.post("/api/review/assignments/99999/submit").status_code == 404
    res = client.post(f"/api/review/assignments/{a1}/scores", json={"scores": {"solution-fit": 5}})
    assert res.status_code == 400 and "outside the scale" in res.get_json()["error"]
    scores = {"tone-and-wording": 3, "ticket-notes-accuracy": "yes", "solution-fit": {"value": 2, "note": "good"}}
    res = client.post(f"/api/review/assignments/{a1}/scores", json={"scores": scores})
    assert res.status_code == 200 and res.get_json()["scores"]["solution-fit"] == {"value": 2, "note": "good"}
    assert client.post(f"/api/review/assignments/{a1}/submit").get_json()["status"] == "submitted"
    res = client.post(f"/api/review/assignments/{a1}/submit")
    assert res.status_code == 409 and "already submitted" in res.get_json()["error"]


def test_panel_pages_for_leads_and_graders(app, client, auth, world):
    """The lead creates a calibration panel with the form; graders list only their assignments; the
    calibration page is for leads, and for a grader only after submitting."""
    auth.login("lead1")
    gs = world["graders"][:3]
    res = client.post("/review/panels/new", data={"name": "calib", "contact_ids": f"{world['contacts'][0]}",
                                                  "grader_ids": [str(g) for g in gs], "calibration": "1"})  # fmt: skip
    assert res.status_code == 302
    panel_id = int(res.headers["Location"].rsplit("/", 1)[1])
    bad = client.post("/review/panels/new", data={"name": "x", "contact_ids": "1", "grader_ids": [str(gs[0])]})
    assert "odd number of graders" in bad.get_data(as_text=True)
    assert client.get(f"/review/panels/{panel_id}/calibration").status_code == 200
    assert "calib" in client.get("/review/panels").get_data(as_text=True)
    auth.logout()
    auth.login("g4")  # not on the panel
    assert client.get(f"/review/panels/{panel_id}").status_code == 403
    assert 'id="my-assignments"' not in client.get("/review/panels").get_data(as_text=True)
    auth.logout()
    auth.login("g1")
    listing = client.get("/review/panels").get_data(as_text=True)
    assert listing.count('class="assignment"') == 1 and 'data-status="pending"' in listing
    assert client.get(f"/review/panels/{panel_id}/calibration").status_code == 403
    assert client.get("/review/panels/424242").status_code == 404
