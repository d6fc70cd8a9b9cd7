"""Chromium: the lead's console on a live simulated chat - the floor shows it, the lead watches it, sends the
trainee a coaching note (shown on the desk only), then takes the contact over onto the lead's own desk."""

from __future__ import annotations

import json

import pytest

from .conftest import login

pytestmark = pytest.mark.e2e

SCENARIO = "zh-delivery-status"


def test_lead_watches_coaches_and_takes_over(live_server, browser_context):
    """Floor -> Monitor -> coaching note on the trainee's desk -> take over -> the lead answers from the desk."""
    desk = browser_context().new_page()
    login(desk, live_server, "trainee5")
    desk.goto(f"{live_server}/desk?lang=zh_CN")
    desk.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    desk.click("#go-available")
    desk.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")
    desk.select_option("#practice-scenario", SCENARIO)
    desk.click("#practice-start")
    desk.wait_for_selector("#messages .msg.customer", timeout=20000)
    contact_id = desk.evaluate("window.kefuDesk.state.current")

    lead = browser_context().new_page()
    login(lead, live_server, "lead")
    lead.goto(f"{live_server}/floor?lang=en")
    lead.wait_for_selector(f"#floor-contacts tr[data-contact-id='{contact_id}'] a.monitor", timeout=15000)
    assert lead.locator("#floor-agents tbody tr").count() >= 1
    lead.click(f"#floor-contacts tr[data-contact-id='{contact_id}'] a.monitor")
    lead.wait_for_selector("#mon-events .msg.customer")

    note = "Ask for the order number before anything else."
    lead.fill("#coach-text", note)
    lead.click("#coach-send")
    lead.wait_for_selector("#mon-events .sys.coach")
    desk.wait_for_function(
        "[...document.querySelectorAll('#notices li')].some((li) => li.textContent.includes('order number'))"
    )

    desk.fill("#composer", "您好，请问有什么可以帮您？")
    desk.click("#send")
    lead.wait_for_function("[...document.querySelectorAll('#mon-events .msg.agent')].length >= 1")

    lead.click("#take-over")
    lead.wait_for_url(f"{live_server}/desk", timeout=15000)
    lead.wait_for_function(f"window.kefuDesk && window.kefuDesk.state.contacts.has({contact_id})")
    desk.wait_for_function(f"window.kefuDesk.state.contacts.get({contact_id}).contact.status === 'transferred'")
    lead.evaluate(f"window.kefuDesk.state.current = {contact_id}")
    lead.fill("#composer", "您好，我是组长，由我来继续为您处理。")
    lead.click("#send")

    rec = json.loads(lead.request.get(f"{live_server}/contacts/{contact_id}/export.json").text())
    types = [e["type"] for e in rec["events"]]
    assert {"monitor.watch", "monitor.coach", "monitor.takeover"} <= set(types), types
    coach = next(e for e in rec["events"] if e["type"] == "monitor.coach")
    assert coach["text"] == note and coach["actor"] == "lead"
