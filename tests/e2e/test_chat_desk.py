"""Chromium: a trainee serves a simulated chat customer on the desk; a person plays the customer in a second
browser. Real server process, real Socket.IO, real pages."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import login

pytestmark = pytest.mark.e2e

SCENARIO = "zh-delivery-status"  # a rational customer asking where a parcel is (demo pack, L5)


def _go_available(page):
    page.click("#go-available")
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")


def _send(page, text):
    page.fill("#composer", text)
    page.click("#send")


def test_trainee_serves_simulated_chat(live_server, browser_context):
    """Log in, go available, receive a simulated chat, reply, look up the customer, create a ticket, wrap up;
    the customer's replies follow the scenario and the transcript holds every event."""
    page = browser_context().new_page()
    login(page, live_server, "trainee4")
    page.goto(f"{live_server}/desk?lang=zh_CN")
    page.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    _go_available(page)
    page.select_option("#practice-scenario", SCENARIO)
    page.click("#practice-start")
    page.wait_for_selector("#contact-list li.contact", timeout=20000)
    page.wait_for_selector("#messages .msg.customer", timeout=20000)  # the opening line
    contact_id = page.evaluate("window.kefuDesk.state.current")
    assert contact_id

    _send(page, "您好，很高兴为您服务！请问您的订单号是多少？")
    page.wait_for_function("document.querySelectorAll('#messages .msg.customer').length >= 2", timeout=30000)
    customer_lines = page.locator("#messages .msg.customer .text").all_inner_texts()
    assert re.search(r"\d{6,}", customer_lines[-1]), customer_lines  # the customer gives the order number

    # look the customer up in the CRM by the order number they gave
    order_no = re.search(r"[A-Z0-9]{6,}", customer_lines[-1]).group(0)
    page.fill("#crm-query", order_no)
    page.click("#crm-search")
    page.click("#crm-results li.result >> nth=0")
    page.wait_for_selector("#crm-profile h3")

    _send(page, "非常抱歉让您久等了。您的包裹目前在杭州转运中心中转，正发往宁波，预计6月1日送达。")
    page.wait_for_function("document.querySelectorAll('#messages .msg.customer').length >= 3", timeout=30000)

    page.fill("#ticket-subject", "包裹延误跟进")
    page.select_option("#ticket-category", "delivery")
    page.click("#ticket-create")
    page.wait_for_selector("#ticket-number")

    _send(page, "请问还有其他可以帮您的吗？感谢您的耐心，祝您生活愉快！")
    page.select_option("#wrap-up-code", index=1)
    page.click("#wrap-up-go")
    page.wait_for_function(f"window.kefuDesk.state.contacts.get({contact_id}).contact.status === 'closed'")

    export = page.request.get(f"{live_server}/contacts/{contact_id}/export.json")
    rec = json.loads(export.text())
    types = [e["type"] for e in rec["events"]]
    for t in ("contact.created", "assignment", "message", "typing", "crm.lookup", "ticket.created", "wrap_up"):
        assert t in types, (t, types)
    assert [e["seq"] for e in rec["events"]] == list(range(1, len(types) + 1))
    page.goto(f"{live_server}/contacts/{contact_id}")
    assert page.locator("#transcript tr.ev").count() == len(types)


def test_person_plays_the_customer(live_server, browser_context):
    """A person in a second browser opens /customer/chat; the trainee answers; both see each other's messages,
    and a reload of the customer page resumes the same conversation with nothing lost or doubled."""
    agent = browser_context().new_page()
    login(agent, live_server, "trainee3")
    agent.goto(f"{live_server}/desk?lang=zh_CN")
    agent.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    _go_available(agent)

    cust = browser_context().new_page()
    cust.goto(f"{live_server}/customer/chat?lang=zh_CN")
    cust.fill("#cust-name", "角色扮演客户")
    cust.select_option("#cust-queue", "chat.general")
    cust.click("#start-chat")
    cust.wait_for_selector("#chat:not([hidden])")
    cust.fill("#cust-composer", "你好，我想问一下积分怎么用？<b>bold</b>")
    cust.click("#cust-send")

    agent.wait_for_selector("#messages .msg.customer", timeout=20000)
    assert "<b>bold</b>" in agent.locator("#messages .msg.customer .text").first.inner_text()  # shown as text
    _send(agent, "您好！积分可以在结算时抵扣现金，100积分抵1元。")
    cust.wait_for_selector("#cust-messages .msg.agent")
    assert "积分" in cust.locator("#cust-messages .msg.agent .text").first.inner_text()

    cust.reload()
    cust.wait_for_selector("#cust-messages .msg.agent")
    assert cust.locator("#cust-messages .msg").count() == 2
    cust.click("#cust-leave")
    cust.wait_for_selector("#csat:not([hidden])")
    cust.click("button.csat[data-score='5']")
    cust.wait_for_selector("#csat-thanks:not([hidden])")
