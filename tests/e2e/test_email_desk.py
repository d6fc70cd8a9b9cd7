"""Chromium: a trainee receives a simulated complaint email on the email workspace (sent by the simulated
customer through the real SMTP endpoint), opens a ticket, replies, and the customer's answer joins the same
contact and ticket, live. Real server process, real SMTP, real Socket.IO, real pages."""

from __future__ import annotations

import re

import pytest

from .conftest import login

pytestmark = pytest.mark.e2e

SCENARIO = "en-email-late-fridge-complaint"  # an angry customer writing to complaints@ (en pack, L4)

REPLY = """Dear Mr White,

Thank you for your email, and I am very sorry about the delay with your fridge (order US2504270160).

I have raised an urgent courier investigation today: the courier must reply within 24 hours. If the fridge is
lost, we will reship it or refund you in full, as you prefer.

Your ticket number is {number}; I will email you the result within 24 hours.

Best regards,
Alex
Kefu Mall Customer Service"""


def test_trainee_answers_a_simulated_complaint_email(live_server, browser_context):
    """The complaint arrives live, the reply goes out as a real email, and the customer's thank-you threads
    onto the same contact with the same ticket."""
    page = browser_context().new_page()
    login(page, live_server, "trainee_en")
    page.goto(f"{live_server}/desk/email?lang=en")
    page.wait_for_function("window.kefuEmail && window.kefuEmail.socket.connected")
    page.click("#go-available")
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")
    page.select_option("#practice-scenario", SCENARIO)
    page.click("#practice-start")
    page.wait_for_selector("#email-list li a", timeout=30000)  # pushed over Socket.IO, no reload
    page.click("#email-list li a >> nth=0")
    page.wait_for_selector("#thread .mail.inbound")
    assert "US2504270160" in page.inner_text("#thread .mail.inbound")
    contact_id = page.evaluate("window.kefuEmail.current")

    page.select_option("#ticket-category", "delivery")
    page.select_option("#ticket-priority", "high")
    page.click("#ticket-create")
    page.wait_for_function("/T\\d{12}/.test(document.getElementById('thread-tickets').textContent)")
    number = re.search(r"T\d{12}", page.inner_text("#thread-tickets")).group(0)

    page.fill("#reply-body", REPLY.format(number=number))
    page.click("#send-reply")
    page.wait_for_selector("#thread .mail.outbound")
    assert page.inner_text("#format-result").strip() == "Format check passed."

    # The customer reads the reply and answers (seconds at the e2e pace); the page updates by itself.
    page.wait_for_function("document.querySelectorAll('#thread .mail.inbound').length >= 2", timeout=60000)
    answer = page.locator("#thread .mail.inbound").nth(1).inner_text()
    assert "Thank you for the clear answer" in answer and f"[{number}]" in answer
    assert page.evaluate("window.kefuEmail.current") == contact_id
    assert number in page.inner_text("#thread-tickets")
