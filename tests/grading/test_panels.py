"""Grader panels: odd panels of 3+, independent scoring, the median merged into the scorecard, role checks,
bad input, and calibration deviations computed by hand."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from accounts.models import User
from contacts.actions import do_assign_contact, do_create_contact, do_post_message, do_wrap_up_contact
from extensions import db
from grading.actions import current_scorecard
from grading.models import PanelAssignment
from grading.panels import (
    PanelError,
    calibration_report,
    do_create_panel,
    do_save_panel_score,
    do_submit_panel_assignment,
    panel_result,
)
from scenarios.loader import load_pack_into_db

from .. import factories
from .builders import PACKS

pytestmark = pytest.mark.app_config(GRADING_AUTO=False)


def handled_contact(agent: User) -> int:
    """A short en chat handled and wrapped up by ``agent`` (no scorecard yet)."""
    c = do_create_contact("chat", "chat.general", lang="en", customer_name="Pat")
    do_assign_contact(c.id, agent.id)
    do_post_message(c, "customer", "Hi, where is my parcel?")
    do_post_message(c, "agent", "Hello! Could you give me your order number?", actor_id=agent.id)
    do_wrap_up_contact(c, agent, "ENQ_DELIVERY")
    return c.id


def build_world(app) -> dict:
    """The en pack, a lead with a team of one trainee, four graders, an admin and two wrapped-up contacts."""
    with app.app_context():
        load_pack_into_db(PACKS / "en")
        lead = factories.user("lead1", role="lead")
        team = factories.group("team", lead=lead)
        agent = factories.user("t1", role="trainee", level="L4", group=team)
        graders = [factories.user(f"g{i}", role="grader").id for i in range(1, 5)]
        factories.user("boss", role="admin")
        contacts = [handled_contact(agent), handled_contact(agent)]
        return {"lead": lead.id, "graders": graders, "contacts": contacts, "agent": agent.id}


@pytest.fixture
def world(app):
    return build_world(app)


def u(uid_or_name) -> User:
    if isinstance(uid_or_name, int):
        return db.session.get(User, uid_or_name)
    return db.session.scalar(select(User).where(User.username == uid_or_name))


def assignment(panel_id, contact_id, grader_id=None, key=False) -> PanelAssignment:
    q = select(PanelAssignment).where(PanelAssignment.panel_id == panel_id, PanelAssignment.contact_id == contact_id)
    q = q.where(PanelAssignment.is_key.is_(True)) if key else q.where(PanelAssignment.grader_id == grader_id)
    return db.session.scalar(q)


def score_all(panel_id, contact_id, grader_id, tone, notes, fit):
    a = assignment(panel_id, contact_id, grader_id)
    user = u(grader_id)
    do_save_panel_score(user, a.id, {"tone-and-wording": tone, "ticket-notes-accuracy": notes, "solution-fit": fit})
    do_submit_panel_assignment(user, a.id)


def test_panel_needs_an_odd_number_of_graders_at_least_three(app, world):
    """Two or four graders are refused with a clear message; three make a panel with 3 × 2 assignments."""
    with app.app_context():
        lead, gs, cs = u(world["lead"]), world["graders"], world["contacts"]
        for bad in (gs[:1], gs[:2], gs[:4]):
            with pytest.raises(PanelError, match="odd number of graders, at least 3") as e:
                do_create_panel(lead, cs, bad, "p")
            assert e.value.status == 400
        panel = do_create_panel(lead, cs, gs[:3], "week 1")
        rows = db.session.scalars(select(PanelAssignment).where(PanelAssignment.panel_id == panel.id)).all()
        assert len(rows) == 6 and {r.status for r in rows} == {"pending"}
        assert all(current_scorecard(c) is not None for c in cs)  # graded on creation


def test_create_panel_role_and_input_checks(app, world):
    """Graders and trainees may not create panels (403); unknown ids 404; non-graders 400; a contact in an
    open panel 409; a lead cannot use contacts outside their groups (403)."""
    with app.app_context():
        lead, gs, cs = u(world["lead"]), world["graders"], world["contacts"]
        with pytest.raises(PanelError) as e:
            do_create_panel(u(gs[0]), cs, gs[:3], "p")
        assert e.value.status == 403
        with pytest.raises(PanelError) as e:
            do_create_panel(lead, [99999], gs[:3], "p")
        assert e.value.status == 404
        with pytest.raises(PanelError) as e:
            do_create_panel(lead, cs, [gs[0], gs[1], 99999], "p")
        assert e.value.status == 404
        with pytest.raises(PanelError, match="not an active grader"):
            do_create_panel(lead, cs, [gs[0], gs[1], world["lead"]], "p")
        with pytest.raises(PanelError, match="name"):
            do_create_panel(lead, cs, gs[:3], "  ")
        do_create_panel(lead, cs[:1], gs[:3], "first")
        with pytest.raises(PanelError, match="already in open panel") as e:
            do_create_panel(lead, cs, gs[:3], "second")
        assert e.value.status == 409
        stranger = factories.user("t9", role="trainee", group=factories.group("other"))
        foreign = handled_contact(stranger)
        with pytest.raises(PanelError) as e:
            do_create_panel(lead, [foreign], gs[:3], "p")
        assert e.value.status == 403


def test_scores_are_independent_until_submitted_then_the_median_is_merged(app, world):
    """A grader sees only their own scores until they submit; after every grader submits, the median per
    item is in the scorecard's manual scores and the total is recomputed."""
    with app.app_context():
        lead, gs, cs = u(world["lead"]), world["graders"][:3], world["contacts"]
        panel = do_create_panel(lead, cs[:1], gs, "independence")
        cid = cs[0]
        before = current_scorecard(cid)
        assert before.data["pending"] == ["tone-and-wording", "ticket-notes-accuracy", "solution-fit"]

        score_all(panel.id, cid, gs[0], 4, "yes", 2)
        a2 = assignment(panel.id, cid, gs[1])
        do_save_panel_score(u(gs[1]), a2.id, {"tone-and-wording": 1})
        # g2 has a draft: g2 sees g1's submitted scores hidden, and their own draft
        view = panel_result(panel, u(gs[1]))
        tone = view["contacts"][0]["items"][0]
        assert tone["scores"] == {gs[0]: None, gs[1]: 1, gs[2]: None} and tone["median"] is None
        assert view["agreement"] is None
        # g1 (submitted) sees g1's values but not g2's draft
        tone = panel_result(panel, u(gs[0]))["contacts"][0]["items"][0]
        assert tone["scores"] == {gs[0]: 4, gs[1]: None, gs[2]: None}
        assert current_scorecard(cid).manual_scores == {}  # nothing merged yet

        do_save_panel_score(u(gs[1]), a2.id, {"ticket-notes-accuracy": False, "solution-fit": "1"})
        do_submit_panel_assignment(u(gs[1]), a2.id)
        score_all(panel.id, cid, gs[2], 3, "yes", 0)

        row = current_scorecard(cid)
        assert {k: v["value"] for k, v in row.manual_scores.items()} == {
            "tone-and-wording": 3,  # median of 4, 1, 3
            "ticket-notes-accuracy": 1,  # yes, no, yes
            "solution-fit": 1,  # median of 2, 1, 0
        }
        assert row.id != before.id and row.data["complete"] and row.total != before.total
        items = {i["id"]: i for i in row.data["items"]}
        assert items["tone-and-wording"]["earned"] == 3.0 and items["solution-fit"]["earned"] == 1.0
        db.session.refresh(panel)
        assert panel.status == "finished"
        view = panel_result(panel, u(gs[1]))
        tone = view["contacts"][0]["items"][0]
        assert tone["scores"] == {gs[0]: 4, gs[1]: 1, gs[2]: 3} and tone["median"] == 3 and tone["spread"] == 3
        assert view["contacts"][0]["totals"] == {gs[0]: 8.0, gs[1]: 2.0, gs[2]: 5.0}
        # one contact: ICC has no figure (needs 2 subjects); kappa over one yes/no subject [2 yes, 1 no] = -0.5
        assert view["agreement"]["icc2k"]["value"] is None and "2 subjects" in view["agreement"]["icc2k"]["reason"]
        assert view["agreement"]["fleiss_kappa"]["value"] == -0.5


def test_save_and_submit_errors(app, world):
    """Another grader's assignment 403, unknown assignment 404, off-scale or unknown item 400, submitting
    with items missing 400, submitting twice 409 (and saving after submitting 409)."""
    with app.app_context():
        gs, cs = world["graders"][:3], world["contacts"]
        panel = do_create_panel(u(world["lead"]), cs[:1], gs, "errors")
        a1 = assignment(panel.id, cs[0], gs[0])
        cases = [
            (u(gs[1]), a1.id, {"solution-fit": 1}, 403),
            (u(gs[0]), 424242, {"solution-fit": 1}, 404),
            (u(gs[0]), a1.id, {"solution-fit": 3}, 400),
            (u(gs[0]), a1.id, {"tone-and-wording": -1}, 400),
            (u(gs[0]), a1.id, {"tone-and-wording": 2.5}, 400),
            (u(gs[0]), a1.id, {"ticket-notes-accuracy": "maybe"}, 400),
            (u(gs[0]), a1.id, {"greeting": 1}, 400),  # an automatic item
            (u(gs[0]), a1.id, {}, 400),
        ]
        for user, aid, scores, status in cases:
            with pytest.raises(PanelError) as e:
                do_save_panel_score(user, aid, scores)
            assert e.value.status == status, (scores, str(e.value))
        do_save_panel_score(u(gs[0]), a1.id, {"solution-fit": 1})
        with pytest.raises(PanelError, match="missing: ticket-notes-accuracy, tone-and-wording"):
            do_submit_panel_assignment(u(gs[0]), a1.id)
        do_save_panel_score(u(gs[0]), a1.id, {"tone-and-wording": 2, "ticket-notes-accuracy": "no"})
        do_submit_panel_assignment(u(gs[0]), a1.id)
        for action in (
            lambda: do_submit_panel_assignment(u(gs[0]), a1.id),
            lambda: do_save_panel_score(u(gs[0]), a1.id, {"solution-fit": 2}),
        ):
            with pytest.raises(PanelError) as e:
                action()
            assert e.value.status == 409


def test_calibration_deviation_from_the_expert_key(app, world):
    """Each grader's mean absolute deviation from the key per item and on totals, and disagreements, by hand."""
    with app.app_context():
        lead, gs, cs = u(world["lead"]), world["graders"][:3], world["contacts"]
        panel = do_create_panel(lead, cs, gs, "calibration", calibration=True)
        # the key: contact A tone 3, notes yes, fit 2 (total 3 + 2 + 2 = 7);
        # contact B tone 2, notes no, fit 1 (total 2 + 0 + 1 = 3)
        key_values = {cs[0]: (3, 1, 2), cs[1]: (2, 0, 1)}
        for cid, (t, n, f) in key_values.items():
            k = assignment(panel.id, cid, key=True)
            with pytest.raises(PanelError) as e:  # graders never enter the key
                do_save_panel_score(u(gs[0]), k.id, {"solution-fit": 1})
            assert e.value.status == 403
            do_save_panel_score(lead, k.id, {"tone-and-wording": t, "ticket-notes-accuracy": n, "solution-fit": f})
            do_submit_panel_assignment(lead, k.id)
        # g1 matches the key exactly; g2 is off by one on tone in both contacts; g3 differs on notes and fit in A
        score_all(panel.id, cs[0], gs[0], 3, 1, 2)
        score_all(panel.id, cs[1], gs[0], 2, 0, 1)
        score_all(panel.id, cs[0], gs[1], 4, 1, 2)  # total 4 + 2 + 2 = 8: |8 - 7| = 1
        score_all(panel.id, cs[1], gs[1], 1, 0, 1)  # total 1 + 0 + 1 = 2: |2 - 3| = 1
        score_all(panel.id, cs[0], gs[2], 3, 0, 0)  # total 3 + 0 + 0 = 3: |3 - 7| = 4
        score_all(panel.id, cs[1], gs[2], 2, 0, 1)  # equal to the key: 0
        rep = {g["grader"].id: g for g in calibration_report(panel)["graders"]}
        assert rep[gs[0]]["items"] == {"tone-and-wording": 0, "ticket-notes-accuracy": 0, "solution-fit": 0}
        assert rep[gs[0]]["total_mad"] == 0 and rep[gs[0]]["disagreements"] == 0
        assert rep[gs[1]]["items"]["tone-and-wording"] == 1.0 and rep[gs[1]]["total_mad"] == 1.0
        assert rep[gs[1]]["disagreements"] == 2 and rep[gs[1]]["compared"] == 6
        # g3: notes |0-1| and |0-0| -> 0.5; fit |0-2| and |1-1| -> 1.0; totals (4 + 0) / 2 = 2.0
        assert rep[gs[2]]["items"] == {"tone-and-wording": 0, "ticket-notes-accuracy": 0.5, "solution-fit": 1.0}
        assert rep[gs[2]]["total_mad"] == 2.0 and rep[gs[2]]["disagreements"] == 2
        # the key does not count as a grader: medians come from the three graders only
        merged = current_scorecard(cs[0]).manual_scores
        assert {k: v["value"] for k, v in merged.items()} == {
            "tone-and-wording": 3,
            "ticket-notes-accuracy": 1,
            "solution-fit": 2,
        }
        # two complete contacts: ICC(2,k) on totals has a figure now
        agreement = panel_result(panel, lead)["agreement"]
        assert agreement["icc2k"]["value"] is not None and agreement["icc2k"]["n"] == 2
