"""Chromium: a skill exam with a role-played chat part. The lead schedules an exam of one chat scenario, marks the
part role-played on the exam's page before it starts, the candidate starts it, and the lead's exam page shows the
role-player's link and the customer card; the link opens /customer/chat with the same card, and the chat the
role-player starts reaches the candidate's desk as the exam's contact. The lead's page (before and after the start)
and the customer's page show no code as stored and pass axe-core's serious and critical rules.

It runs on a server of its own: the exam it leaves behind would change what the other browser tests' shared server
shows (test_pages crawls every page of every role)."""

from __future__ import annotations

import re

import pytest

from .conftest import login, serving
from .pages import VISIBLE_TEXT, axe_violations, untranslated

pytestmark = pytest.mark.e2e

SCENARIO = "zh-delivery-status"
CANDIDATE = "trainee4"


@pytest.fixture(scope="module")
def exam_server(tmp_path_factory):
    with serving(tmp_path_factory) as base:
        yield base


def _checked(page, lang="zh_CN") -> None:
    """No code shown as stored and no serious or critical axe-core violation on the page as it is now."""
    assert untranslated(page.evaluate(VISIBLE_TEXT), lang) == []
    assert axe_violations(page) == []


def test_a_role_played_exam_part_shows_its_link_and_card_to_the_lead(exam_server, browser_context):
    lead = browser_context().new_page()
    login(lead, exam_server, "lead")
    lead.goto(f"{exam_server}/exams?lang=zh_CN")
    candidate = lead.locator("#schedule-form select[name=candidate_id] option", has_text=f"({CANDIDATE},")
    lead.select_option("#schedule-form select[name=candidate_id]", value=candidate.get_attribute("value"))
    lead.fill(f"#schedule-form input[name='pos:{SCENARIO}']", "1")
    lead.click("#schedule-form button[type=submit]")
    lead.wait_for_selector("#exam-roleplay-parts")
    exam_url = lead.url.split("?")[0]
    assert re.search(r"/exams/\d+$", exam_url), exam_url
    assert lead.locator("#exam-attempts tr[data-mode]").get_attribute("data-mode") == "simulated"

    # Before the start the lead marks the chat part role-played on the exam's page.
    lead.check(f"#exam-roleplay-parts input[name='rp:{SCENARIO}']")
    lead.click("#exam-roleplay-save")
    lead.wait_for_selector("#exam-attempts tr[data-mode='roleplay']")
    assert lead.is_checked(f"#exam-roleplay-parts input[name='rp:{SCENARIO}']")
    _checked(lead)

    # The candidate sets themself available and starts the exam.
    desk = browser_context().new_page()
    login(desk, exam_server, CANDIDATE)
    desk.goto(f"{exam_server}/desk?lang=zh_CN")
    desk.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    desk.click("#go-available")
    desk.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")
    cand = browser_context().new_page()
    login(cand, exam_server, CANDIDATE)
    cand.goto(f"{exam_url}?lang=zh_CN")
    cand.click("#exam-start")
    cand.wait_for_selector("#exam-state[data-status='running']")
    assert cand.locator(".rp-link").count() == 0  # the candidate never sees the role-player's link

    # The lead's page now has the part's link and the customer card; the form is gone (the exam runs).
    lead.goto(f"{exam_url}?lang=zh_CN")
    lead.wait_for_selector("section.exam-roleplay .roleplay-card")
    assert lead.locator("#exam-roleplay-parts").count() == 0
    link = lead.locator("section.exam-roleplay input.rp-link").input_value()
    assert "/customer/chat?roleplay=" in link
    lead_card = lead.locator("section.exam-roleplay .roleplay-card").inner_text()
    assert "王" in lead_card and "订单" in lead_card  # who the customer is, and what they know
    _checked(lead)
    lead.goto(f"{exam_server}/roleplay?lang=zh_CN")  # the lead's list of role-play links holds the exam's too
    assert lead.locator("#roleplay-list input.rp-link").first.input_value() == link
    _checked(lead)

    # The role-player opens the link: the chat page with the same card, and the chat reaches the candidate.
    player = browser_context().new_page()
    player.goto(link)
    player.wait_for_selector("#roleplay-card h2")
    card = player.locator("#roleplay-card").inner_text()
    assert "王" in card and "订单" in card
    _checked(player)
    player.click("#start-chat")
    player.wait_for_selector("#chat:not([hidden])")
    player.fill("#cust-composer", "你好，我买的手表到哪了？")
    player.click("#cust-send")
    desk.wait_for_selector("#messages .msg.customer", timeout=20000)
    contact_id = desk.evaluate("window.kefuDesk.state.current")
    contact = lead.request.get(f"{exam_server}/contacts/{contact_id}/export.json").json()["contact"]
    assert contact["scenario_id"] == SCENARIO and contact["simulated"] is False

    # The lead ends the exam, so the candidate's desk is free for the other browser tests.
    lead.goto(f"{exam_url}?lang=zh_CN")
    assert lead.locator(f"section.exam-roleplay a[href*='/contacts/{contact_id}']").count() == 1
    lead.click("#exam-finish")
    lead.wait_for_selector("#exam-state[data-status='finished'], #exam-state[data-status='graded']")
    _checked(lead)  # the parts' outcomes and the end reason by their labels
    lead.goto(f"{exam_url}?lang=en")
    _checked(lead, "en")
