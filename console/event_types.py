"""The schemas of the lead's events on a contact: monitoring, coaching, take-over, alerts (contacts/event_types.py)."""

from __future__ import annotations

from contacts.event_types import EventData, event


class Monitor(EventData):
    mode: str
    monitor_name: str | None = None


class Coach(EventData):
    to_agent_id: int | None = None


class TakeOver(EventData):
    from_agent_id: int | None = None
    agent_id: int
    agent_name: str


class AlertAck(EventData):
    alert: str
    kind: str


LEAD = ("lead",)

EVENT_TYPES = [
    event("monitor.watch", "A lead started watching the chat (silent).", Monitor, actors=LEAD),
    event("monitor.listen", "A lead started listening to the call (silent).", Monitor, actors=LEAD),
    event("monitor.whisper", "A lead started whispering to the agent on the call.", Monitor, actors=LEAD),
    event("monitor.barge", "A lead barged into the call.", Monitor, actors=LEAD),
    event("monitor.stop", "A lead stopped monitoring.", Monitor, actors=LEAD),
    event(
        "monitor.coach",
        "A lead's private note to the agent; the text is the note.",
        Coach,
        actors=LEAD,
        text="required",
    ),  # fmt: skip
    event("monitor.takeover", "A lead took the contact over and became its agent.", TakeOver, actors=LEAD),
    event("monitor.alert_ack", "A lead saw to a live alert on this contact.", AlertAck, actors=LEAD),
]
