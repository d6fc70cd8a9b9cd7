"""Two trainees' Chromiums with fake cameras: one answers a simulated video call and transfers it from the video
panel to the other with a note; the receiver answers the same call with their camera and sees the customer."""

from __future__ import annotations

import json

import pytest

from .conftest import answer_video_call, available_desk, offered_contact
from .fake_camera import write_face_y4m

pytestmark = pytest.mark.e2e

SCENARIO = "en-video-purifier-guidance"  # shopping guidance: no identity check to settle first


def test_video_call_transferred_from_the_video_panel(live_server, browser_context, tmp_path):
    """trainee_en transfers a live video call to trainee3 by name with a note: their panel says so, trainee3's
    desk gets the call, answers it with video and sees the customer's camera; the recording has both answers,
    the transfer with its note, and one audio recording."""
    camera = write_face_y4m(tmp_path / "face.y4m", seconds=1.0)
    sender = available_desk(browser_context, camera, live_server, "trainee_en")
    receiver = available_desk(browser_context, camera, live_server, "trainee3")
    sender.select_option("#video-practice-scenario", SCENARIO)
    sender.click("#video-practice-start")
    contact_id = offered_contact(sender, SCENARIO)
    answer_video_call(sender, contact_id)

    sender.click("#video-transfer-box summary")
    sender.select_option("#video-transfer-kind", "agent")
    sender.fill("#video-transfer-target", "trainee3")
    sender.fill("#video-transfer-note", "Asks about the filter; please show it.")
    sender.click("#video-transfer-go")
    sender.wait_for_function("document.getElementById('video-status').textContent === 'Call transferred'")

    receiver.wait_for_function(
        f"""(() => {{ const e = window.kefuDesk.state.contacts.get({contact_id});
                      return !!e && e.contact.status === 'active'; }})()""",
        timeout=30000,
    )
    answer_video_call(receiver, contact_id)
    receiver.wait_for_timeout(1500)
    receiver.click("#video-hangup")
    receiver.wait_for_function("document.getElementById('video-status').textContent === 'Call ended'")
    receiver.select_option("#wrap-up-code", index=1)
    receiver.click("#wrap-up-go")
    receiver.wait_for_function(f"window.kefuDesk.state.contacts.get({contact_id}).contact.status === 'closed'")

    events = json.loads(receiver.request.get(f"{live_server}/contacts/{contact_id}/export.json").text())["events"]
    types = [e["type"] for e in events]
    assert types.count("call.answered") == 2 and types.count("call.recording") == 1, types
    transfer = next(e for e in events if e["type"] == "transfer")
    assert transfer["text"] == "Asks about the filter; please show it." and transfer["data"]["target"] == "trainee3"
    assert sorted(e["data"]["leg"] for e in events if e["type"] == "video.recording") == ["agent", "customer"]
