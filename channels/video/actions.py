"""do_* actions of the video channel: the agent's identity decision on the card shown, and what the server
learned about the trainee's camera (hint changes, periodic summaries, no camera at all).

Each appends one event (committed) and publishes it to the contact's rooms, so the desk shows camera hints
live from the same events the recording keeps. Nothing here says whether the card matched: the desk never
learns the truth, grading compares the decision with the scenario.
"""

from __future__ import annotations

from accounts.models import User
from contacts.actions import ActionError
from contacts.events import append_event, publish_contact_event
from contacts.models import Contact

ID_DECISIONS = ("approved", "refused")
REASON_MIN_CHARS = 4
REASON_MAX_CHARS = 500
CAMERA_HINTS = ("ok", "no_face", "too_dark", "off_centre")
CAMERA_UNAVAILABLE_REASONS = ("permission_denied", "no_device", "in_use", "other")
_SUMMARY_KEYS = (
    "samples",
    "face_present_ratio",
    "dark_ratio",
    "off_centre_ratio",
    "mean_brightness",
    "seconds",
    "hint",
    "final",
)


def _video_contact(contact: Contact) -> None:
    if contact.channel != "video":
        raise ActionError(f"contact {contact.id} is a {contact.channel} contact, not a video call")


def do_record_id_verification(agent: User, contact: Contact, decision: str, reason: str = "") -> dict:
    """Record the agent's identity decision on the card the caller showed on video
    (``video.id_verification``): ``approved``, or ``refused`` with a reason the caller is told.

    Only the agent holding an active (or wrapping-up) video contact may decide; a decision can be recorded
    again (the last one stands; every one is kept). Returns the recorded event.
    """
    _video_contact(contact)
    if contact.agent_id != agent.id:
        raise ActionError("this contact is not on your desk")
    if contact.status not in ("active", "wrap_up"):
        raise ActionError(f"contact {contact.id} is {contact.status}; the identity check is closed")
    if decision not in ID_DECISIONS:
        raise ActionError("the decision must be approved or refused")
    reason = (reason or "").strip() if isinstance(reason, str) else None
    if reason is None:
        raise ActionError("the reason must be text")
    if len(reason) > REASON_MAX_CHARS:
        raise ActionError(f"the reason is {len(reason)} characters; at most {REASON_MAX_CHARS}")
    if decision == "refused" and len(reason) < REASON_MIN_CHARS:
        raise ActionError("say why the identity check is refused (the customer is told the reason)")
    data = {"decision": decision, "customer_id": contact.customer_id}
    ev, _ = append_event(contact, "video.id_verification", "agent", actor_id=agent.id, text=reason or None, data=data)
    publish_contact_event(ev)
    return ev.as_dict()


def do_record_camera_hint(contact: Contact, hint: str, data: dict, *, at: float | None = None) -> dict:
    """The server's analysis of the trainee's camera settled on a new hint (``video.camera_hint``): ok,
    no_face, too_dark or off_centre. ``at`` is the call's media time in seconds."""
    _video_contact(contact)
    if hint not in CAMERA_HINTS:
        raise ActionError(f"unknown camera hint {hint!r}")
    keep = {k: data.get(k) for k in ("previous", "brightness", "offset")}
    ev, _ = append_event(contact, "video.camera_hint", "system", data={"hint": hint, "media_at": at, **keep})
    publish_contact_event(ev)
    return ev.as_dict()


def do_record_camera_summary(contact: Contact, summary: dict, *, at: float | None = None) -> dict:
    """Figures of the trainee's camera so far (``video.camera_summary``): samples, face-present ratio,
    too-dark and off-centre ratios, mean brightness; ``final`` on the one written when the call ends."""
    _video_contact(contact)
    data = {k: summary.get(k) for k in _SUMMARY_KEYS}
    data["media_at"] = at
    ev, _ = append_event(contact, "video.camera_summary", "system", data=data)
    publish_contact_event(ev)
    return ev.as_dict()


def do_record_camera_unavailable(agent: User, contact: Contact, reason: str, detail: str = "") -> dict:
    """The trainee's browser has no camera for this call (permission denied, no device, in use): the call
    goes on voice-only and the recording says why (``video.camera_unavailable``)."""
    _video_contact(contact)
    if contact.agent_id != agent.id:
        raise ActionError("this contact is not on your desk")
    if reason not in CAMERA_UNAVAILABLE_REASONS:
        raise ActionError(f"reason must be one of {', '.join(CAMERA_UNAVAILABLE_REASONS)}")
    detail = str(detail or "")[:200]
    ev, _ = append_event(
        contact, "video.camera_unavailable", "agent", actor_id=agent.id, text=detail or None, data={"reason": reason}
    )
    publish_contact_event(ev)
    return ev.as_dict()


def do_record_video_recording(contact: Contact, data: dict) -> dict:
    """A camera of the call is being recorded (``video.recording``): the leg (agent or customer), the file
    (relative to the recordings folder), its ``offset`` in seconds from the start of the call's audio recording
    and ``started_at`` (sandbox time), frame rate and size. The file plays in step with ``call.wav`` from there.
    """
    _video_contact(contact)
    leg = str(data.get("leg") or "")
    if leg not in ("agent", "customer") or not data.get("path"):
        raise ActionError(f"a video recording needs a leg and a file, not {data!r}")
    keep = {k: data.get(k) for k in ("path", "offset", "started_at", "fps", "width", "height")}
    ev, _ = append_event(contact, "video.recording", "system", data={"leg": leg, "codec": "vp8", **keep})
    publish_contact_event(ev)
    return ev.as_dict()


def do_record_customer_camera_unavailable(contact: Contact, reason: str, detail: str = "") -> dict:
    """A role-play customer's browser has no camera for this call: they go on audio (still seeing the
    trainee), and the trainee's desk is told (``video.customer_camera_unavailable``)."""
    _video_contact(contact)
    if contact.simulated:
        raise ActionError("this call's customer is simulated")
    if contact.status not in ("queued", "active"):
        raise ActionError("this call has ended")
    if reason not in CAMERA_UNAVAILABLE_REASONS:
        raise ActionError(f"reason must be one of {', '.join(CAMERA_UNAVAILABLE_REASONS)}")
    detail = str(detail or "")[:200]
    ev, _ = append_event(
        contact, "video.customer_camera_unavailable", "customer", text=detail or None, data={"reason": reason}
    )
    publish_contact_event(ev)
    return ev.as_dict()


def do_create_video_call(queue: str = "video.general", **fields) -> Contact:
    """A customer starts a video call: a video contact in ``queue`` for the ACD (one video call per agent at a
    time). A simulated customer (``scenario_id``) is played by the server: their voice, and their camera
    showing the scenario's card, product or fault. The keyword arguments are ``do_create_call``'s: a video
    call is a voice call with cameras (channels/voice/actions.py)."""
    from channels.voice.actions import do_create_call

    return do_create_call(queue, channel="video", **fields)
