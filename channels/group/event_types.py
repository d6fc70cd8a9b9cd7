"""The schemas of a group room's own events (contacts/event_types.py); its lines are ``message`` events."""

from __future__ import annotations

from typing import Any

from contacts.event_types import EventData, event

STAFF = ("agent", "lead")


class Opened(EventData):
    scenario_id: str
    lang: str
    room_name: str
    agent_id: int
    audience: int
    mix: dict[str, float]
    seed: int
    started_by: int
    needs: list[dict[str, Any]]


class MemberJoined(EventData):
    member: str
    name: str
    simulated: bool
    token_hash: str | None = None


class MemberLeft(EventData):
    member: str
    name: str
    reason: str
    status_before: str | None = None


class Announcement(EventData):
    cluster: str | None = None
    pinned: bool


class Unpinned(EventData):
    announcement_seq: int


class MovedPrivate(EventData):
    member: str
    name: str
    need: str | None = None
    individual: bool
    private_contact_id: int
    private_scenario: str | None = None


EVENT_TYPES = [
    event("group.opened", "A group room opened (its scenario, audience mix and needs).", Opened, actors=STAFF),
    event("group.member_joined", "A customer joined the room.", MemberJoined, actors=("customer",)),
    event("group.member_left", "A customer left the room.", MemberLeft, actors=("customer", "system")),
    event(
        "group.announcement",
        "The agent pinned an announcement; the text is the announcement.",
        Announcement,
        actors=STAFF,
        text="required",
    ),  # fmt: skip
    event("group.unpinned", "An announcement was unpinned.", Unpinned, actors=STAFF),
    event("group.moved_private", "A customer was moved to a one-to-one chat.", MovedPrivate, actors=STAFF),
]
