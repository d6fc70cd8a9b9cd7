"""Chromium with fake media devices: a trainee answers a simulated voice call on the desk (no Mark as said:
the caller hears), holds and resumes, hangs up; the recording plays on the contact page beside its transcript,
whose lines seek the recording."""

from __future__ import annotations

import pytest

from .conftest import login, offered_contact

pytestmark = pytest.mark.e2e

SCENARIO = "en-voice-order-status"  # a calm caller asking where her smartwatch is (demo pack, L5)


@pytest.fixture
def media_context(browser_context):
    """A Chromium profile whose microphone is Chromium's fake beep, granted without a prompt."""
    return browser_context(media=True)


def test_trainee_answers_holds_resumes_hangs_up_and_the_recording_plays(live_server, media_context):
    """Answer a simulated caller with the (fake) microphone, hold and resume, hang up; the contact page's
    audio element plays the stereo recording, whose length matches the call."""
    page = media_context.new_page()
    login(page, live_server, "trainee_en")
    page.goto(f"{live_server}/desk?lang=en")
    page.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    page.click("#go-available")
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")
    page.select_option("#voice-practice-scenario", SCENARIO)
    page.click("#voice-practice-start")
    # The call is offered beside whatever else is open on the desk (an email from an earlier test): pick it.
    contact_id = offered_contact(page, SCENARIO)
    page.click(f"#contact-list li[data-contact-id='{contact_id}']")
    page.wait_for_selector("#voice-call:not([hidden])", timeout=20000)
    page.wait_for_function("document.getElementById('call-status').textContent === 'Incoming call'", timeout=20000)

    page.click("#call-answer")
    page.wait_for_function("document.getElementById('call-status').textContent === 'On the call'", timeout=30000)
    assert page.is_enabled("#call-hold")
    # the server recognises speech (KEFU_ASR defaults to local): the caller hears, so no Mark as said buttons
    assert page.is_hidden("#call-phrases") and page.is_visible("#call-hearing-note")
    page.wait_for_timeout(4000)  # the caller speaks (its opening) after the fake microphone's first beeps
    page.click("#call-hold")
    page.wait_for_function("document.getElementById('call-status').textContent === 'Customer on hold'")
    assert page.inner_text("#call-hold") == "Resume"
    page.wait_for_timeout(1500)
    page.click("#call-hold")
    page.wait_for_function("document.getElementById('call-hold').textContent === 'Hold'")
    page.wait_for_timeout(1500)
    page.click("#call-hangup")
    page.wait_for_function("document.getElementById('call-status').textContent.startsWith('Call ended')", timeout=30000)
    # Wrap up as a trainee would: the voice seat stays taken until then.
    page.select_option("#wrap-up-code", index=1)
    page.click("#wrap-up-go")
    page.wait_for_function(f"window.kefuDesk.state.contacts.get({contact_id}).contact.status === 'closed'")

    # call.metrics is appended right after call.ended (which the desk shows): wait for it before the page
    page.wait_for_function(
        f"""fetch('/contacts/{contact_id}/export.json').then((r) => r.json())
            .then((d) => d.events.some((e) => e.type === 'call.metrics'))""",
        polling=500,
        timeout=30000,
    )
    page.goto(f"{live_server}/contacts/{contact_id}?lang=en")
    page.wait_for_selector("#recording-audio")
    assert page.locator("#call-metrics").count() == 1
    duration = page.evaluate(
        """async () => {
            const a = document.getElementById('recording-audio');
            a.muted = true;
            await a.play();
            await new Promise((r) => setTimeout(r, 1500));
            return {duration: a.duration, time: a.currentTime, error: a.error && a.error.code};
        }"""
    )
    assert duration["error"] is None
    assert duration["time"] > 0.5, duration  # it is playing
    assert 6 < duration["duration"] < 60, duration
    events = page.evaluate(f"fetch('/contacts/{contact_id}/export.json').then((r) => r.json())")["events"]
    types = [e["type"] for e in events]
    for t in ("call.answered", "call.connected", "call.recording", "call.held", "call.resumed", "call.ended"):
        assert t in types, t
    ended = next(e for e in events if e["type"] == "call.ended")
    assert abs(ended["data"]["seconds"] - duration["duration"]) < 0.1
    assert any(e["type"] == "call.utterance" for e in events), "the simulated caller spoke"

    # After the call both legs are transcribed (the caller's espeak lines at least); the transcript shows beside
    # the recording and a click on a line seeks the recording to it.
    page.wait_for_function(
        f"""fetch('/contacts/{contact_id}/export.json').then((r) => r.json())
            .then((d) => d.events.some((e) => e.type === 'call.transcript'))""",
        polling=1000,
        timeout=120000,
    )
    page.goto(f"{live_server}/contacts/{contact_id}?lang=en")
    lines = page.locator("#call-transcript li.seg-customer")
    assert lines.count() >= 1, page.inner_text("#call-recording")
    line = lines.last
    at = float(line.get_attribute("data-at"))
    page.evaluate("document.getElementById('recording-audio').muted = true")
    line.click()
    page.wait_for_function("!document.getElementById('recording-audio').paused", timeout=10000)
    now = page.evaluate("document.getElementById('recording-audio').currentTime")
    assert at - 0.3 <= now <= at + 1.5, (at, now)
