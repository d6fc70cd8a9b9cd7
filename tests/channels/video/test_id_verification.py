"""The video identity decision and the camera marks: recorded as events, published to the desk, bad input
refused with a clear message and nothing recorded; the API checks role, owner and channel."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from channels.video.actions import (
    do_record_camera_hint,
    do_record_camera_summary,
    do_record_camera_unavailable,
    do_record_id_verification,
)
from contacts.actions import ActionError
from contacts.events import subscribe, unsubscribe
from contacts.models import Contact, ContactEvent
from extensions import db
from tests import factories


def _contact(agent_id, channel="video", status="active") -> Contact:
    c = Contact(channel=channel, queue=f"{channel}.general", status=status, agent_id=agent_id, lang="en")
    db.session.add(c)
    db.session.commit()
    return c


def _events(cid, type_):
    return list(
        db.session.scalars(select(ContactEvent).where(ContactEvent.contact_id == cid, ContactEvent.type == type_))
    )


@pytest.fixture
def desk(app):
    with app.app_context():
        agent = factories.user("vid1")
        other = factories.user("vid2")
        yield agent, other, _contact(agent.id)


def test_approve_and_refuse_are_recorded_and_published(desk):
    """Approved and refused-with-reason each append one video.id_verification event, published to listeners;
    the event says nothing about whether the card matched."""
    agent, _, contact = desk
    seen = []
    subscribe(seen.append)
    try:
        ev = do_record_id_verification(agent, contact, "approved")
        ev2 = do_record_id_verification(
            agent, contact, "refused", "  The name on the card is not the account holder's "
        )
    finally:
        unsubscribe(seen.append)
    rows = _events(contact.id, "video.id_verification")
    assert [r.data["decision"] for r in rows] == ["approved", "refused"]
    assert rows[1].text == "The name on the card is not the account holder's" and rows[0].text is None
    assert ev["seq"] < ev2["seq"] and set(ev["data"]) == {"decision", "customer_id"}
    assert [e["event"]["type"] for e in seen if e["type"] == "contact_event"] == ["video.id_verification"] * 2


@pytest.mark.parametrize(
    "decision, reason, message",
    [
        ("maybe", "", "approved or refused"),
        (None, "", "approved or refused"),
        ("refused", "", "say why"),
        ("refused", "no", "say why"),
        ("refused", "x" * 501, "at most 500"),
        ("approved", 42, "must be text"),
    ],
)
def test_bad_decisions_are_refused_and_nothing_is_recorded(desk, decision, reason, message):
    """An unknown decision, a refusal without a reason, an over-long or non-text reason: a clear error."""
    agent, _, contact = desk
    with pytest.raises(ActionError, match=message):
        do_record_id_verification(agent, contact, decision, reason)
    assert _events(contact.id, "video.id_verification") == []


def test_only_the_holder_of_an_open_video_contact_decides(desk, app):
    """Another agent, a chat contact and a closed contact are refused."""
    agent, other, contact = desk
    with pytest.raises(ActionError, match="not on your desk"):
        do_record_id_verification(other, contact, "approved")
    with pytest.raises(ActionError, match="not a video call"):
        do_record_id_verification(agent, _contact(agent.id, channel="chat"), "approved")
    with pytest.raises(ActionError, match="closed"):
        do_record_id_verification(agent, _contact(agent.id, status="closed"), "approved")


def test_camera_marks(desk):
    """Hints, summaries and a missing camera are recorded with their figures; unknown values are refused."""
    agent, _, contact = desk
    do_record_camera_hint(contact, "no_face", {"previous": "ok", "brightness": 80.5, "offset": None}, at=12.5)
    do_record_camera_summary(contact, {"samples": 40, "face_present_ratio": 0.9, "final": True, "extra": 1}, at=20)
    do_record_camera_unavailable(agent, contact, "permission_denied", "NotAllowedError")
    hint = _events(contact.id, "video.camera_hint")[0]
    assert hint.data == {"hint": "no_face", "previous": "ok", "brightness": 80.5, "offset": None, "media_at": 12.5}
    summary = _events(contact.id, "video.camera_summary")[0]
    assert summary.data["face_present_ratio"] == 0.9 and summary.data["final"] is True and "extra" not in summary.data
    assert _events(contact.id, "video.camera_unavailable")[0].text == "NotAllowedError"
    with pytest.raises(ActionError):
        do_record_camera_hint(contact, "blurry", {})
    with pytest.raises(ActionError):
        do_record_camera_unavailable(agent, contact, "because")


def test_api_records_and_refuses(app, client, auth):
    """POST id-verification: 200 with the event; 400 with the message for bad input; 403 for someone else's
    contact or a grader; 401 logged out."""
    with app.app_context():
        agent_id = factories.user("vidapi").id
        factories.user("vidother")
        factories.user("vidgrader", role="grader")
        cid = _contact(agent_id).id
    url = f"/api/video/contacts/{cid}/id-verification"
    assert client.post(url, json={"decision": "approved"}).status_code == 401
    auth.login("vidapi")
    r = client.post(url, json={"decision": "refused", "reason": "ID number does not match"})
    assert r.status_code == 200 and r.get_json()["event"]["data"]["decision"] == "refused"
    r = client.post(url, json={"decision": "refused"})
    assert r.status_code == 400 and "say why" in r.get_json()["error"]
    assert client.post(url, data="nope", content_type="text/plain").status_code == 400
    r = client.post(f"/api/video/contacts/{cid}/camera-unavailable", json={"reason": "no_device"})
    assert r.status_code == 200
    auth.logout()
    auth.login("vidother")
    assert client.post(url, json={"decision": "approved"}).status_code == 403
    auth.logout()
    auth.login("vidgrader")
    assert client.post(url, json={"decision": "approved"}).status_code == 403
    with app.app_context():
        assert len(_events(cid, "video.id_verification")) == 1


def test_desk_page_carries_the_video_panel(app, client, auth):
    """The desk includes the video call panel (hidden until a video contact is shown) and its module, with
    the hint texts in the page language."""
    with app.app_context():
        factories.user("vidpage")
    auth.login("vidpage")
    html = client.get("/desk?lang=zh_CN").get_data(as_text=True)
    assert 'id="video-call"' in html and "js/desk_video.js" in html and 'id="id-check"' in html
    assert "video-config" in html


def test_practice_video_call_is_queued_for_the_trainee(app, client, auth):
    """Starting video practice creates a simulated video contact reserved for the trainee, with the claimed
    CRM customer; a chat scenario or an unknown id is refused."""
    from scenarios.loader import load_pack_into_db

    with app.app_context():
        factories.user("vidprac", level="L4")
        load_pack_into_db("scenarios/packs/en")
    auth.login("vidprac")
    html = client.get("/desk?lang=en").get_data(as_text=True)
    assert 'id="video-practice"' in html and "en-video-refund-other-card" in html
    r = client.post("/api/video/practice", json={"scenario_id": "en-video-refund-other-card"})
    assert r.status_code == 201, r.get_json()
    c = r.get_json()["contact"]
    assert c["channel"] == "video" and c["queue"] == "video.general" and c["simulated"]
    assert c["customer_name"] == "Jason Brooks" and c["customer_id"] is not None
    assert client.post("/api/video/practice", json={"scenario_id": "en-delivery-status"}).status_code == 400
    assert client.post("/api/video/practice", json={"scenario_id": "nope"}).status_code == 400
