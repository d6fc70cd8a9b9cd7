"""The ungradeable list (grading.models.UngradeableContact): a contact graded after all leaves it, whichever path
graded it; ``flask grading regrade --ungradeable`` tries the whole list again; leads and graders see it on the
panels page, a lead only their groups' contacts, and trainees never."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contacts.actions import do_assign_contact, do_create_contact, do_post_message, do_wrap_up_contact
from extensions import db
from grading.actions import current_scorecard, do_grade_contact
from grading.models import UngradeableContact
from grading.regrade import regrade

from .. import factories
from .test_panels import build_world, handled_contact, u

pytestmark = pytest.mark.app_config(GRADING_AUTO=False)

NO_RUBRIC = "no chat rubric in en for level L4"  # what was said before the pack was loaded


def _list(contact_ids, reason=NO_RUBRIC) -> None:
    for cid in contact_ids:
        db.session.add(UngradeableContact(contact_id=cid, reason=reason))
    db.session.commit()


def _listed() -> dict[int, str]:
    db.session.expire_all()
    return {r.contact_id: r.reason for r in db.session.scalars(select(UngradeableContact))}


def _unhandled_and_foreign(agent_id: int) -> tuple[int, int]:
    """A contact nobody handled (never gradeable) and a German chat handled by ``agent_id`` (no de rubric)."""
    never = do_create_contact("chat", "chat.general", lang="en", customer_name="Nobody").id
    de = do_create_contact("chat", "chat.general", lang="de", customer_name="Kim")
    do_assign_contact(de.id, agent_id)
    do_post_message(de, "customer", "Wo ist mein Paket?")
    do_wrap_up_contact(de, u(agent_id), "ENQ_DELIVERY")
    return never, de.id


def test_a_contact_graded_now_leaves_the_ungradeable_list_whatever_graded_it(app):
    """Three contacts listed as ungradeable (no rubric, before the pack came) are graded now: one by
    do_grade_contact (the review page's button, the transcript's regrade), one by the auto-grader's handler (the log
    and the sweep), one by the bulk regrade; each leaves the list with its scorecard. A contact that is still
    ungradeable stays. (Before: all of them stayed listed, graded or not.)"""
    world = build_world(app)
    with app.app_context():
        first, second = world["contacts"]
        third = handled_contact(u(world["agent"]))
        never, _de = _unhandled_and_foreign(world["agent"])
        _list([first, second, third, never])
        do_grade_contact(first)
        assert set(_listed()) == {second, third, never}
        grader = app.extensions["kefu_grading"]
        grader.handle({"type": "contact_event", "event": {"type": "wrap_up", "contact_id": second, "seq": 1}})
        assert set(_listed()) == {third, never}
        report = regrade([third])
        assert report.graded == 1 and not report.errors
        assert set(_listed()) == {never}
        assert all(current_scorecard(c) is not None for c in (first, second, third))


def test_a_failed_grading_rolls_back_and_leaves_the_contact_listed(app):
    """A contact that raises GradingError when graded again stays listed as it was (nothing half written)."""
    world = build_world(app)
    with app.app_context():
        never, _de = _unhandled_and_foreign(world["agent"])
        _list([never], reason="an old reason")
        from grading.actions import GradingError

        with pytest.raises(GradingError):
            do_grade_contact(never)
        assert _listed() == {never: "an old reason"}


def test_regrade_ungradeable_grades_the_list_and_keeps_what_still_fails_with_its_new_reason(app):
    """``flask grading regrade --ungradeable``, once the pack that was missing is loaded: the two handled en chats
    grade (scorecards made, off the list); the contact nobody handled and the German chat (no de rubric) stay
    listed with the reason found now, not the old one, and are the command's errors (exit status 1). Naming other
    contacts beside it is refused. (Before: no such option.)"""
    world = build_world(app)
    with app.app_context():
        first, second = world["contacts"]
        never, de = _unhandled_and_foreign(world["agent"])
        _list([first, second, never, de], reason="an old reason")
    runner = app.test_cli_runner()
    out = runner.invoke(args=["grading", "regrade", "--ungradeable"])
    assert out.exit_code == 1, out.output
    assert "2 graded, 2 scorecard(s) changed" in out.output and "2 error(s)" in out.output
    assert f"contact {never}: contact {never} was never handled by an agent" in out.output
    with app.app_context():
        assert _listed() == {
            never: f"contact {never} was never handled by an agent",
            de: "no chat rubric in de for level L4",
        }
        assert all(current_scorecard(c) is not None for c in (first, second))
    out = runner.invoke(args=["grading", "regrade", "--ungradeable"])
    assert "0 graded, 0 scorecard(s) changed" in out.output and "2 error(s)" in out.output
    assert runner.invoke(args=["grading", "regrade", "--ungradeable", "--all"]).exit_code != 0


def test_the_panels_page_lists_what_could_not_be_graded_to_leads_of_its_group_and_graders(app, client, auth):
    """Under "Could not be graded" on the panels page: a lead sees their group's listed contact (linked to its
    recording, with trainee, scenario, channel and reason) and not another group's; a grader sees both; the trainee
    gets 403 on the page. (Before: the list was shown nowhere.)"""
    world = build_world(app)
    with app.app_context():
        mine = world["contacts"][0]
        lead2 = factories.user("lead2", role="lead")
        stranger = factories.user("t2", role="trainee", level="L4", group=factories.group("team2", lead=lead2))
        theirs = handled_contact(stranger)
        _list([mine], reason="no chat rubric in en for level L4")
        _list([theirs], reason="the recording of contact could not be loaded")

    def section(html: str) -> str:
        assert 'id="ungradeable"' in html and "Could not be graded" in html
        return html[html.index('id="ungradeable"') :]

    auth.login("lead1")
    res = client.get("/review/panels")
    assert res.status_code == 200
    html = section(res.get_data(as_text=True))
    assert f'data-contact="{mine}"' in html and f'href="/contacts/{mine}"' in html
    assert "t1" in html and "no chat rubric in en for level L4" in html
    assert f'data-contact="{theirs}"' not in html and "could not be loaded" not in html
    auth.logout()
    auth.login("g1")
    html = section(client.get("/review/panels").get_data(as_text=True))
    assert f'data-contact="{mine}"' in html and f'data-contact="{theirs}"' in html
    auth.logout()
    auth.login("t1")
    assert client.get("/review/panels").status_code == 403


def test_the_section_is_in_chinese_for_a_chinese_reader(app, client, auth):
    """A lead whose locale is zh_CN reads the section's heading and columns in Chinese."""
    build_world(app)
    with app.app_context():
        lead = factories.user("leadzh", role="lead", locale="zh_CN")
        team = factories.group("teamzh", lead=lead)
        mine = handled_contact(factories.user("tzh", role="trainee", level="L4", group=team))
        _list([mine], reason="no chat rubric in en for level L4")
    auth.login("leadzh")
    html = client.get("/review/panels").get_data(as_text=True)
    assert "无法评分" in html and "原因" in html
    # the kind of reason in Chinese, the recorded message beside it (before: the English message alone)
    assert "没有适用于该渠道、语言和级别的评分表" in html and "no chat rubric in en for level L4" in html


def test_the_grade_button_says_why_in_the_graders_language(app, client, auth):
    """A grader whose locale is zh_CN presses Grade on a chat in a language with no rubric: the page says the kind of
    reason in Chinese, the error's message after it (before: the English message alone)."""
    world = build_world(app)
    with app.app_context():
        _never, de = _unhandled_and_foreign(world["agent"])
        factories.user("gzh", role="grader", locale="zh_CN")
    auth.login("gzh")
    res = client.post(f"/review/contacts/{de}/grade", follow_redirects=True)
    html = res.get_data(as_text=True)
    assert "无法评分：没有适用于该渠道、语言和级别的评分表" in html, html[:2000]
    assert "no chat rubric in de" in html


def test_a_scorecard_the_database_refused_is_named_as_such_in_the_readers_language(app, client, auth):
    """A contact listed because its new scorecard could not be stored (grading.regrade.NOT_STORED) shows that kind of
    reason, in Chinese for a Chinese reader (before: the catch-all "Grading failed")."""
    from grading.regrade import NOT_STORED

    build_world(app)
    with app.app_context():
        factories.user("gzh2", role="grader", locale="zh_CN")
        mine = handled_contact(factories.user("tzh2", role="trainee", level="L4"))
        _list([mine], reason=NOT_STORED + "IntegrityError: scorecard refused")
    auth.login("gzh2")
    html = client.get("/review/panels").get_data(as_text=True)
    assert "新评分卡未能保存" in html and "评分失败" not in html
