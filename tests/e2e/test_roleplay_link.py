"""Chromium: a lead opens a role-play of a scenario for a trainee; a person opens the link, reads the customer card and
chats; the contact reaches the trainee's desk carrying the scenario."""

from __future__ import annotations

import json

import pytest

from .conftest import login

pytestmark = pytest.mark.e2e

SCENARIO = "zh-delivery-status"


def test_roleplay_link_shows_the_card_and_routes_a_contact_with_the_scenario(live_server, browser_context):
    lead = browser_context().new_page()
    login(lead, live_server, "lead")
    lead.goto(f"{live_server}/roleplay?lang=zh_CN")
    lead.select_option("#rp-scenario", SCENARIO)
    trainee5 = lead.locator("#rp-agent option", has_text="陈初级").first.get_attribute("value")
    lead.select_option("#rp-agent", value=trainee5)
    lead.click("#rp-open")
    link = lead.locator("tr.highlight input.rp-link").input_value()
    assert "/customer/chat?roleplay=" in link

    agent = browser_context().new_page()
    login(agent, live_server, "trainee5")
    agent.goto(f"{live_server}/desk?lang=zh_CN")
    agent.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    agent.click("#go-available")
    agent.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")

    cust = browser_context().new_page()
    cust.goto(link)
    cust.wait_for_selector("#roleplay-card h2")
    card = cust.locator("#roleplay-card").inner_text()
    assert "王" in card and "订单" in card  # who they are, and what they know (the order number) is on the card
    assert not cust.locator("#cust-queue").is_visible()  # the scenario decides the queue
    cust.click("#start-chat")
    cust.wait_for_selector("#chat:not([hidden])")
    cust.fill("#cust-composer", "你好，我买的手表到哪了？")
    cust.click("#cust-send")

    agent.wait_for_selector("#messages .msg.customer", timeout=20000)
    contact_id = agent.evaluate("window.kefuDesk.state.current")
    agent.fill("#composer", "您好，麻烦提供一下订单号，我帮您查。")
    agent.click("#send")
    cust.wait_for_selector("#cust-messages .msg.agent")

    rec = json.loads(agent.request.get(f"{live_server}/contacts/{contact_id}/export.json").text())
    assert rec["contact"]["scenario_id"] == SCENARIO and rec["contact"]["simulated"] is False
