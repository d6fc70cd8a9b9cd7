"""Chromium as a role-play caller on /customer/call: dials with the (fake) microphone while no agent is
available, is told its place in the queue (the announcement it hears), and hangs up while waiting."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def test_caller_waits_is_told_its_place_and_hangs_up(live_server, browser_context):
    """The page dials and connects its audio; with no agent available (closing a desk makes its agent away)
    the status shows the announced place in the queue; Hang up ends the call on the page."""
    page = browser_context(media=True).new_page()
    page.goto(f"{live_server}/customer/call?lang=en")
    page.fill("#caller-name", "Ms Queue")
    page.select_option("#caller-queue", "voice.general")
    page.click("#dial")
    page.wait_for_function(
        "document.getElementById('caller-status').textContent.includes('in the queue')", timeout=30000
    )
    assert re.search(r"You are number \d+ in the queue", page.inner_text("#caller-status"))
    assert page.is_hidden("#caller-error")
    page.click("#caller-hang-up")
    page.wait_for_function("document.getElementById('caller-status').textContent === 'The call has ended.'")
    assert page.is_disabled("#caller-hang-up")
