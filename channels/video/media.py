"""The web side of a video call's media: what ``video_offer`` needs from the contact (the scene its simulated
customer shows, or that a person shows their own camera), recording the camera and video-recording events the
media worker reports (run by the voice channel's event sink, in its thread with an app context), and the
video files of a call cut off by a restart."""

from __future__ import annotations

from contacts.models import Contact, ContactEvent
from extensions import db
from scenarios.registry import get_scenario

from .actions import do_record_camera_hint, do_record_camera_summary, do_record_video_recording


def video_offer_fields(contact: Contact) -> dict:
    """``scene`` (the scenario's video section, a plain dict) and ``lang`` for the media worker; ``person``
    when a person plays the customer (their own camera is relayed)."""
    from media.video_render import scene_spec

    if not contact.simulated:
        return {"person": True, "lang": contact.lang}
    scenario = get_scenario(contact.scenario_id) if contact.scenario_id else None
    return {"scene": scene_spec(scenario) if scenario is not None else None, "lang": contact.lang}


def apply_video_event(contact: Contact, event: dict) -> None:
    """Record a ``camera_hint``, ``camera_summary`` or ``video_recording`` media event on the video contact."""
    kind = event.get("type")
    if kind == "camera_hint":
        do_record_camera_hint(contact, str(event.get("hint")), event.get("data") or {}, at=event.get("at"))
    elif kind == "video_recording":
        do_record_video_recording(contact, event)
    else:
        do_record_camera_summary(contact, event.get("summary") or {}, at=event.get("at"))


def repair_video_recordings(contact: Contact, root) -> dict:
    """After a restart: make every video file of the call (named by its ``video.recording`` events) complete
    and seekable up to where its writer stopped. Returns {leg: seconds kept or None}."""
    from sqlalchemy import select

    from media.video_recorder import repair_webm

    evs = db.session.scalars(
        select(ContactEvent).where(ContactEvent.contact_id == contact.id, ContactEvent.type == "video.recording")
    )
    return {e.data["leg"]: repair_webm(root / e.data["path"]) for e in evs if (e.data or {}).get("path")}
