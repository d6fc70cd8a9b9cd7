"""The schemas of a livestream's events (contacts/event_types.py)."""

from __future__ import annotations

from typing import Any

from contacts.event_types import EventData, event

STAFF = ("agent", "lead")


class Started(EventData):
    title: str
    group_id: int | None = None
    presenter_id: int
    started_by: int
    audience_size: int
    comment_rate: float
    seed: int
    brief: dict[str, Any] | None = None  # a skill exam's session brief: {id, text, points} the presenter covers


class Comment(EventData):
    viewer: str
    name: str
    sim: dict[str, Any] | None = None


class CommentRef(EventData):
    comment_seq: int
    viewer: str | None = None


class Reply(EventData):
    comment_seq: int | None = None
    viewer: str | None = None


class MovedToChat(CommentRef):
    name: str
    chat_contact_id: int


class Origin(CommentRef):
    livestream_id: int


class Publishing(EventData):
    kind: str


class Dropped(EventData):
    reason: str


class Recording(EventData):
    files: list[dict[str, Any]]
    duration: float | None = None


class Samples(EventData):
    samples: list[dict[str, Any]]


class ViewerJoined(EventData):
    viewer: str | None = None
    viewers: int | None = None


EVENT_TYPES = [
    event("livestream.started", "A livestream opened (title, presenter, audience settings).", Started, actors=STAFF),
    event(
        "livestream.comment",
        "A viewer's comment; the text is the comment.",
        Comment,
        actors=("audience",),
        text="required",
    ),  # fmt: skip
    event("livestream.answered", "The presenter marked a comment answered.", CommentRef, actors=STAFF),
    event(
        "livestream.pinned",
        "The presenter pinned a comment; the text is the comment.",
        CommentRef,
        actors=STAFF,
        text="optional",
    ),  # fmt: skip
    event("livestream.reply", "The presenter wrote in the live chat.", Reply, actors=STAFF, text="required"),
    event("livestream.moved_to_chat", "A viewer was moved to a one-to-one chat contact.", MovedToChat, actors=STAFF),
    event("livestream.origin", "On the chat contact: the livestream comment it came from.", Origin),
    event("livestream.publishing", "The presenter's camera or microphone reached the server.", Publishing),
    event("livestream.publisher_dropped", "The presenter's media stopped.", Dropped),
    event("livestream.recording", "The livestream's recording (files, duration).", Recording),
    event("livestream.presenter_samples", "Samples of the presenter's camera and voice, for grading.", Samples),
    event("livestream.viewer_joined", "A viewer joined.", ViewerJoined),
]
