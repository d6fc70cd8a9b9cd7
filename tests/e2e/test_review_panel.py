"""Chromium: three graders score recorded chats on the review page; the panel result shows the medians and
the agreement figures. Real server process, real pages: the admin creates two graders, a trainee serves two
simulated chats on the desk, the lead creates the panel, each grader scores in their own browser."""

from __future__ import annotations

import re
import uuid

import pytest

from grading.agreement import icc2k

from .conftest import login

pytestmark = pytest.mark.e2e

SCENARIO = "zh-delivery-status"
# per contact, per grader: (tone 0..4, ticket notes yes/no, solution fit 0..2); manual totals 4+2+2 points
SCORES = [
    {"grader": (4, 1, 2), "b": (3, 1, 1), "c": (2, 0, 1)},  # totals 8, 6, 3; medians 3, yes, 1
    {"grader": (2, 0, 0), "b": (1, 0, 0), "c": (2, 1, 1)},  # totals 2, 1, 5; medians 2, no, 0
]


def _serve_chat(page, served: int) -> int:
    """Run one practice chat on the desk to wrap-up; returns its contact id."""
    page.select_option("#practice-scenario", SCENARIO)
    page.click("#practice-start")
    page.wait_for_function(
        f"window.kefuDesk.state.current && !Array.from(window.kefuDesk.state.contacts.values())"
        f".filter(c => c.contact.status === 'closed').some(c => c.contact.id === window.kefuDesk.state.current)"
        f" && window.kefuDesk.state.contacts.size > {served}",
        timeout=30000,
    )
    page.wait_for_selector("#messages .msg.customer", timeout=20000)
    contact_id = page.evaluate("window.kefuDesk.state.current")
    page.fill("#composer", "您好，很高兴为您服务！请问您的订单号是多少？")
    page.click("#send")
    page.wait_for_function("document.querySelectorAll('#messages .msg.customer').length >= 2", timeout=30000)
    page.fill("#composer", "请问还有其他可以帮您的吗？感谢您的耐心，祝您生活愉快！")
    page.click("#send")
    page.select_option("#wrap-up-code", index=1)
    page.click("#wrap-up-go")
    page.wait_for_function(f"window.kefuDesk.state.contacts.get({contact_id}).contact.status === 'closed'")
    return contact_id


def _create_grader(page, base, username):
    page.goto(f"{base}/admin/users")
    page.fill("#username", username)
    page.fill("#display_name", f"Grader {username}")
    page.fill("#password", "kefu-demo-2026")
    page.select_option("#role", "grader")
    page.click("#submit")
    page.wait_for_selector(f"#users td:text-is('{username}')")


def test_three_graders_score_on_the_review_page(live_server, browser_context):
    """Two more graders are created; two chats are served; the lead's panel of three graders scores them on
    the review page; the result shows each median and the ICC(2,k) and Fleiss' kappa figures."""
    tag = uuid.uuid4().hex[:6]
    graders = {"grader": "grader", "b": f"grader_b_{tag}", "c": f"grader_c_{tag}"}
    admin = browser_context().new_page()
    login(admin, live_server, "admin")
    for key in ("b", "c"):
        _create_grader(admin, live_server, graders[key])

    desk = browser_context().new_page()
    login(desk, live_server, "trainee5")
    desk.goto(f"{live_server}/desk?lang=zh_CN")
    desk.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    desk.click("#go-available")
    desk.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")
    contacts = []
    for n in range(2):
        contacts.append(_serve_chat(desk, n))
    assert len(set(contacts)) == 2

    lead = browser_context().new_page()
    login(lead, live_server, "lead")
    lead.goto(f"{live_server}/review/panels/new?lang=en")
    lead.fill("#panel-name", f"E2E panel {tag}")
    lead.fill("#panel-contacts", ", ".join(str(c) for c in contacts))
    for username in graders.values():
        lead.check(f"#panel-graders input[data-username='{username}']")
    lead.click("#panel-create")
    lead.wait_for_url(re.compile(r"/review/panels/\d+$"))
    panel_url = lead.url
    assert lead.locator("#panel-status").get_attribute("data-status") == "open"

    for key, username in graders.items():
        page = browser_context().new_page()
        login(page, live_server, username)
        for contact_id, marks in zip(contacts, SCORES, strict=True):
            tone, notes, fit = marks[key]
            page.goto(f"{live_server}/review/contacts/{contact_id}?lang=en")
            page.wait_for_selector("#panel-mode")
            page.select_option("select[name='item-tone-and-wording']", str(tone))
            page.check(f"input[name='item-ticket-notes-accuracy'][value='{notes}']")
            page.select_option("select[name='item-solution-fit']", str(fit))
            page.click("#manual-submit")
            page.wait_for_url(re.compile(r"/review/panels/\d+$"))
        if key == "grader":  # the first grader has submitted: the others are still pending, so nothing shows
            assert "pending" in page.locator(".panel-contact td.score").nth(1).inner_text()
            # evidence links jump to the event they cite
            page.goto(f"{live_server}/review/contacts/{contacts[0]}?lang=en")
            link = page.locator("a.evidence-link").first
            seq = link.get_attribute("data-seq")
            link.click()
            page.wait_for_selector(f"#tl-{seq}.highlight")

    lead.goto(panel_url + "?lang=en")
    assert lead.locator("#panel-status").get_attribute("data-status") == "finished"
    first = lead.locator(f".panel-contact[data-contact='{contacts[0]}']")
    assert first.locator("tr[data-item='tone-and-wording'] td.median").inner_text() == "3"
    assert first.locator("tr[data-item='tone-and-wording'] td.spread").inner_text() == "2"
    assert first.locator("tr[data-item='ticket-notes-accuracy'] td.median").inner_text() == "Yes"
    second = lead.locator(f".panel-contact[data-contact='{contacts[1]}']")
    assert second.locator("tr[data-item='tone-and-wording'] td.median").inner_text() == "2"
    expected_icc = icc2k([[8, 6, 3], [2, 1, 5]]).value
    assert lead.locator("#icc .figure").inner_text() == f"{expected_icc:.3f}"
    # yes/no: contact 1 [yes, yes, no], contact 2 [no, no, yes] -> P̄ = 1/3, P̄e = 1/2, κ = -1/3
    assert lead.locator("#kappa .figure").inner_text() == "-0.333"

    # the scorecard now carries the medians: tone 3/4, notes yes, fit 1/2 on contact 1
    lead.goto(f"{live_server}/review/contacts/{contacts[0]}?lang=en")
    assert lead.locator("#review-pending").count() == 0
    assert lead.locator("select[name='item-tone-and-wording']").input_value() == "3"
