"""The schemas of a video call's own events (contacts/event_types.py); the rest are the call's."""

from __future__ import annotations

from contacts.event_types import EventData, event


class IdVerification(EventData):
    decision: str
    customer_id: int | None = None


class CameraHint(EventData):
    hint: str
    media_at: float
    previous: str | None = None
    brightness: float | None = None
    offset: list[float] | None = None


class CameraSummary(EventData):
    samples: int | None = None
    face_present_ratio: float | None = None
    dark_ratio: float | None = None
    off_centre_ratio: float | None = None
    mean_brightness: float | None = None
    seconds: float | None = None
    hint: str | None = None
    final: bool | None = None
    media_at: float | None = None


class Reason(EventData):
    reason: str


class VideoRecording(EventData):
    leg: str
    codec: str
    path: str | None = None
    offset: float | None = None
    started_at: float | None = None
    fps: int | None = None
    width: int | None = None
    height: int | None = None


EVENT_TYPES = [
    event(
        "video.id_verification",
        "The agent approved or refused the identity card shown; the text is why.",
        IdVerification,
        actors=("agent", "lead"),
        text="optional",
    ),  # fmt: skip
    event("video.camera_hint", "A live hint about the agent's own camera (no face, too dark, off-centre).", CameraHint),
    event("video.camera_summary", "How the agent's camera looked over the call.", CameraSummary),
    event(
        "video.camera_unavailable",
        "The agent's camera could not be used; the text has the detail.",
        Reason,
        actors=("agent", "lead"),
        text="optional",
    ),  # fmt: skip
    event(
        "video.customer_camera_unavailable",
        "The customer's camera could not be used.",
        Reason,
        actors=("customer",),
        text="optional",
    ),  # fmt: skip
    event("video.recording", "A camera's recording started (leg, codec, file).", VideoRecording),
]
