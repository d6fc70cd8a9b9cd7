"""Two Chromiums with fake cameras: a person calls the video line from the caller page with their camera, a
trainee answers on the desk with theirs; each sees the other through the server; after the call both cameras
play on the contact page in step with the audio."""

from __future__ import annotations

import pytest

from .conftest import available_desk, recorded_video_plays
from .fake_camera import write_face_y4m

pytestmark = pytest.mark.e2e

CALLER_NAME = "Ms Lin (e2e video)"


def _available_desk(live_server, browser_context, tmp_path):
    """trainee_en's desk with a fake camera showing a face, available for calls."""
    return available_desk(
        browser_context, write_face_y4m(tmp_path / "face.y4m", seconds=1.0), live_server, "trainee_en"
    )


def test_roleplay_video_call_both_ways_and_its_recording(live_server, browser_context, tmp_path):
    """The caller sees the trainee's face and the trainee sees the caller's (Chromium's test-pattern) camera,
    both as moving video; the caller is told when the call ends; the contact page plays both recorded cameras."""
    desk = _available_desk(live_server, browser_context, tmp_path)

    caller = browser_context(media=True).new_page()
    caller.goto(f"{live_server}/customer/call?lang=en")
    caller.fill("#caller-name", CALLER_NAME)
    caller.select_option("#caller-queue", "video.general")
    caller.click("#dial")
    caller.wait_for_selector("#caller-video:not([hidden])")
    assert caller.is_hidden("#caller-notice")  # the camera was granted: no sound-only notice

    find = """(name) => [...window.kefuDesk.state.contacts.values()]
        .find((e) => e.contact.customer_name === name && e.contact.status === 'active')"""
    desk.wait_for_function(f"(name) => !!({find})(name)", arg=CALLER_NAME, timeout=30000)
    contact_id = desk.evaluate(f"(name) => ({find})(name).contact.id", CALLER_NAME)
    desk.click(f"#contact-list li[data-contact-id='{contact_id}']")
    desk.wait_for_selector("#video-call:not([hidden])")
    desk.click("#video-answer")
    desk.wait_for_function("document.getElementById('video-status').textContent === 'Connected'", timeout=30000)
    moving = """(id) => { const v = document.getElementById(id);
        return v.videoWidth > 0 && v.currentTime > 1.5; }"""
    desk.wait_for_function(moving, arg="video-customer", timeout=30000)  # the caller's camera, relayed
    caller.wait_for_function(moving, arg="caller-remote", timeout=30000)  # the trainee's face, relayed
    caller.wait_for_function(
        "document.getElementById('caller-status').textContent.startsWith('Connected')", timeout=15000
    )
    desk.wait_for_timeout(2000)
    desk.click("#video-hangup")
    desk.wait_for_function("document.getElementById('video-status').textContent === 'Call ended'")
    caller.wait_for_function("document.getElementById('caller-status').textContent === 'The call has ended.'")
    desk.select_option("#wrap-up-code", index=1)
    desk.click("#wrap-up-go")
    desk.wait_for_function(f"window.kefuDesk.state.contacts.get({contact_id}).contact.status === 'closed'")
    recorded_video_plays(desk, live_server, contact_id)


DENY_CAMERA = """(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => (c && c.video
    ? Promise.reject(new DOMException('Permission denied', 'NotAllowedError')) : real(c));
})();"""


def test_roleplay_caller_without_camera_permission_goes_on_with_sound(live_server, browser_context, tmp_path):
    """A caller whose browser refuses the camera is told the call goes on with sound only; the call connects,
    the caller still sees the trainee, and the trainee's panel says the customer has no camera."""
    desk = _available_desk(live_server, browser_context, tmp_path)

    ctx = browser_context(media=True)
    ctx.add_init_script(DENY_CAMERA)  # the browser's answer when the person refuses the camera
    caller = ctx.new_page()
    caller.goto(f"{live_server}/customer/call?lang=en")
    caller.fill("#caller-name", "Mr Wu (e2e no camera)")
    caller.select_option("#caller-queue", "video.general")
    caller.click("#dial")
    caller.wait_for_selector("#caller-notice:not([hidden])")
    assert "Camera permission was refused" in caller.inner_text("#caller-notice")

    find = """(name) => [...window.kefuDesk.state.contacts.values()]
        .find((e) => e.contact.customer_name === name && e.contact.status === 'active')"""
    desk.wait_for_function(f"(name) => !!({find})(name)", arg="Mr Wu (e2e no camera)", timeout=30000)
    contact_id = desk.evaluate(f"(name) => ({find})(name).contact.id", "Mr Wu (e2e no camera)")
    desk.click(f"#contact-list li[data-contact-id='{contact_id}']")
    desk.wait_for_selector("#video-call:not([hidden])")
    desk.click("#video-answer")
    caller.wait_for_function(
        """(() => { const v = document.getElementById('caller-remote');
                    return v.videoWidth > 0 && v.currentTime > 1.5; })()""",
        timeout=30000,
    )
    desk.wait_for_function(
        "document.getElementById('video-customer-note').textContent.startsWith('The customer has no camera')",
        timeout=15000,
    )
    assert desk.evaluate("document.getElementById('video-customer').videoWidth") == 0
    caller.click("#caller-hang-up")
    caller.wait_for_function("document.getElementById('caller-status').textContent === 'The call has ended.'")
    desk.select_option("#wrap-up-code", index=1)
    desk.click("#wrap-up-go")
    desk.wait_for_function(f"window.kefuDesk.state.contacts.get({contact_id}).contact.status === 'closed'")
