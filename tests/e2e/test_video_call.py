"""Chromium with fake media devices (a drawn face as the camera): a trainee takes two simulated video calls,
approves the ID that matches the CRM and refuses the one that does not; the server sees the trainee's face,
and the recordings hold the decisions, the camera figures and both cameras, which play on the contact page in
step with the call audio, and grade as expected."""

from __future__ import annotations

import json

import pytest

from .conftest import answer_video_call, login, recorded_video_plays
from .fake_camera import write_face_y4m

pytestmark = pytest.mark.e2e

CALLS = [
    ("en-video-phone-change-id", "approved", ""),
    ("en-video-refund-other-card", "refused", "The name on the card is not the account holder's."),
]


@pytest.fixture
def media_page(browser_context, tmp_path):
    """A Chromium whose camera is the drawn face and whose microphone is Chromium's fake beep."""
    camera = write_face_y4m(tmp_path / "face.y4m", seconds=1.0)
    return browser_context(camera=camera).new_page()


def _take_call(page, base, scenario_id, decision, reason) -> int:
    page.select_option("#video-practice-scenario", scenario_id)
    page.click("#video-practice-start")
    page.wait_for_function(
        """(sid) => [...window.kefuDesk.state.contacts.values()].some(
             (e) => e.contact.scenario_id === sid && e.contact.status === 'active')""",
        arg=scenario_id,
        timeout=30000,
    )
    contact_id = page.evaluate(
        """(sid) => [...window.kefuDesk.state.contacts.values()]
             .find((e) => e.contact.scenario_id === sid).contact.id""",
        scenario_id,
    )
    answer_video_call(page, contact_id)  # the customer's rendered camera plays
    # The server found the trainee's (fake camera's) face and said so on the self-view.
    page.wait_for_function("document.getElementById('video-hint').dataset.hint === 'ok'", timeout=30000)
    # The server recognises speech (KEFU_ASR defaults to local): the customer hears the trainee, so the desk
    # offers no Mark as said (Chromium's fake microphone only beeps: nothing is said here).
    assert page.is_hidden("#video-phrases") and page.is_visible("#video-hearing-note")
    page.check(f"input[name='id-decision'][value='{decision}']")
    if reason:
        page.fill("#id-check-reason", reason)
    page.click("#id-check-submit")
    page.wait_for_function(
        f"document.getElementById('id-check-status').textContent.toLowerCase().includes('{decision}')", timeout=15000
    )
    page.wait_for_timeout(2500)  # a few more seconds on camera
    page.click("#video-hangup")
    page.wait_for_function("document.getElementById('video-status').textContent === 'Call ended'")
    page.select_option("#wrap-up-code", "ACCOUNT_SECURITY")
    page.click("#wrap-up-go")
    page.wait_for_function(f"window.kefuDesk.state.contacts.get({contact_id}).contact.status === 'closed'")
    return contact_id


def test_video_calls_verify_a_matching_id_and_refuse_a_mismatch(live_server, media_page):
    """Two simulated video calls on the desk: the matching ID approved, the mismatching one refused with a
    reason; each recording has the decision, the server's camera hints and a final summary with the face seen
    most of the time; the first one's cameras play on the contact page in step with its audio; neither
    scorecard is gated."""
    page = media_page
    login(page, live_server, "trainee_en")
    page.goto(f"{live_server}/desk?lang=en")
    page.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    page.click("#go-available")
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")
    for scenario_id, decision, reason in CALLS:
        contact_id = _take_call(page, live_server, scenario_id, decision, reason)
        rec = json.loads(page.request.get(f"{live_server}/contacts/{contact_id}/export.json").text())
        evs = rec["events"]
        decisions = [e for e in evs if e["type"] == "video.id_verification"]
        assert [d["data"]["decision"] for d in decisions] == [decision]
        assert (decisions[0]["text"] or "") == reason
        assert "ok" in [e["data"]["hint"] for e in evs if e["type"] == "video.camera_hint"]
        page.wait_for_timeout(500)
        rec = json.loads(page.request.get(f"{live_server}/contacts/{contact_id}/export.json").text())
        finals = [e for e in rec["events"] if e["type"] == "video.camera_summary" and e["data"]["final"]]
        assert finals and finals[-1]["data"]["face_present_ratio"] >= 0.8, finals
        for t in ("call.answered", "call.connected", "call.hearing", "call.ended", "wrap_up"):
            assert t in [e["type"] for e in rec["events"]], t
        if scenario_id == CALLS[0][0]:  # the contact page plays both cameras with the call audio
            page.wait_for_function(
                f"""fetch('/contacts/{contact_id}/export.json').then((r) => r.json())
                    .then((d) => d.events.filter((e) => e.type === 'video.recording').length === 2)""",
                polling=500,
                timeout=15000,
            )
            recorded_video_plays(page, live_server, contact_id)
        # Practice contacts are graded at wrap-up: both decisions right, so the ID items pass and nothing gates.
        page.goto(f"{live_server}/contacts/{contact_id}/scorecard?lang=en")
        page.wait_for_selector("tr[data-item='id-decision']")
        assert "status-pass" in page.get_attribute("tr[data-item='id-decision']", "class")
        assert page.locator("#scorecard-gates").count() == 0
        page.goto(f"{live_server}/desk?lang=en")
        page.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
