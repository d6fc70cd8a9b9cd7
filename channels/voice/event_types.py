"""The schemas of a call's events (contacts/event_types.py). Media-side reports may leave a field empty (None)."""

from __future__ import annotations

from typing import Any

from contacts.event_types import EventData, NoData, event


class Answered(EventData):
    agent_id: int


class Reason(EventData):
    reason: str | None = None


class QuickPhrase(EventData):
    move: str


class CallEnded(EventData):
    reason: str
    seconds: float | None = None


class Metrics(EventData):
    """Dead air, overtalk, response latency and hold, from the recorded legs (channels/voice/metrics)."""

    version: int | None = None
    duration: float | None = None
    frame_ms: int | None = None
    thresholds: dict[str, Any] | None = None
    legs: dict[str, Any] | None = None
    dead_air: dict[str, Any] | None = None
    overtalk: dict[str, Any] | None = None
    response_latency: dict[str, Any] | None = None
    hold: dict[str, Any] | None = None
    status: str | None = None
    error: str | None = None


class Outbound(EventData):
    callback_id: int
    origin_contact_id: int | None = None
    due_at: float | None = None


class Leg(EventData):
    leg: str


class ConnectFailed(EventData):
    leg: str
    reason: str | None = None
    timeout: float | None = None


class Recording(EventData):
    files: dict[str, Any]
    started_at: float
    offset: float


class Utterance(EventData):
    move: str | None = None
    interrupt: bool | None = None
    offset: float | None = None
    seconds: float | None = None


class Hearing(EventData):
    mode: str | None = None
    engine: str | None = None
    reason: str | None = None


class Heard(EventData):
    turn: int | None = None
    start: float | None = None
    end: float | None = None
    confidence: float | None = None
    latency: float | None = None
    recognition_s: float | None = None
    early: bool | None = None
    error: str | None = None
    dropped: str | None = None
    acts: list[str] | None = None
    emotion: list[int] | None = None
    revealed: list[str] | None = None


class QueueAnnouncement(EventData):
    position: int
    queue: str
    seconds: float | None = None


class Transcript(EventData):
    """Both legs transcribed after the call (channels/voice/transcripts.py)."""

    status: str
    segments: list[dict[str, Any]] = []
    reason: str | None = None
    engine: str | None = None
    lang: str | None = None
    seconds: float | None = None
    audio_seconds: dict[str, float] | None = None
    problems: list[str] | None = None


EVENT_TYPES = [
    event("call.answered", "The agent answered the call.", Answered, actors=("agent", "lead")),
    event("call.held", "The agent put the caller on hold (``reason``).", Reason, actors=("agent", "lead")),
    event("call.resumed", "The caller was taken off hold.", Reason, actors=("agent", "lead")),
    event("call.muted", "The agent muted their microphone.", NoData, actors=("agent", "lead")),
    event("call.unmuted", "The agent unmuted their microphone.", NoData, actors=("agent", "lead")),
    event("call.quick_phrase", "The agent marked a service phrase as said.", QuickPhrase, actors=("agent", "lead")),
    event(
        "call.ended",
        "The call was hung up (by whom, why, how long).",
        CallEnded,
        actors=("agent", "customer", "system", "lead"),
    ),  # fmt: skip
    event("call.metrics", "Dead air, overtalk, latency and hold measured on the recording.", Metrics),
    event("call.outbound", "A callback call was placed.", Outbound, actors=("agent", "lead")),
    event("call.connected", "A leg's audio connected.", Leg),
    event("call.connect_failed", "A leg's audio did not connect; the text says why.", ConnectFailed, text="optional"),
    event("call.recording", "The call's recording started (files per leg).", Recording),
    event(
        "call.utterance",
        "The simulated caller spoke; the text is what was said.",
        Utterance,
        actors=("customer",),
        text="optional",
    ),  # fmt: skip
    event("call.hearing", "How the simulated caller hears the trainee (recognition or Mark as said).", Hearing),
    event("call.heard", "One recognised turn of the trainee; the text is the words.", Heard, text="optional"),
    event(
        "call.queue_announcement",
        "The caller heard their place in the queue; the text is the announcement.",
        QueueAnnouncement,
        text="optional",
    ),  # fmt: skip
    event(
        "call.transcript",
        "Both legs transcribed after the call; the text is the whole transcript.",
        Transcript,
        text="optional",
    ),  # fmt: skip
]
