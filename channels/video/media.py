"""The web side of a video call's media: what ``video_offer`` needs from the contact (the scene its simulated
customer shows), and recording the camera events the media worker reports (run by the voice channel's event
sink, in its thread with an app context)."""

from __future__ import annotations

from contacts.models import Contact

from .actions import do_record_camera_hint, do_record_camera_summary


def video_offer_fields(contact: Contact) -> dict:
    """``scene`` (the scenario's video section, a plain dict) and ``lang`` for the media worker."""
    from media.video_render import scene_spec
    from scenarios.registry import get_scenario

    scenario = get_scenario(contact.scenario_id) if contact.simulated and contact.scenario_id else None
    return {"scene": scene_spec(scenario) if scenario is not None else None, "lang": contact.lang}


def apply_camera_event(contact: Contact, event: dict) -> None:
    """Record a ``camera_hint`` or ``camera_summary`` media event on the video contact."""
    if event.get("type") == "camera_hint":
        do_record_camera_hint(contact, str(event.get("hint")), event.get("data") or {}, at=event.get("at"))
    else:
        do_record_camera_summary(contact, event.get("summary") or {}, at=event.get("at"))
