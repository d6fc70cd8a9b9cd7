"""The floor's live pushes, scoped by group: each ``contact_state`` and ``agent_state`` event is relayed to the
/floor rooms of those who supervise its agent (accounts/scope.py), never to every lead.

Publishers announce a state change once (contacts, routing, group rooms, monitoring); this listener decides
who on the floor hears it, so the group rule lives in one place. A contact nobody holds goes to the agent it
is reserved for (a trainee's practice customer); with neither, to every lead (the shared queue).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from accounts.scope import floor_rooms_of_agent
from contacts.events import subscribe
from contacts.models import Contact
from extensions import db, socketio

log = logging.getLogger(__name__)

RELAYED = ("contact_state", "agent_state")


def _reserved_for(conn, contact_id) -> int | None:
    return conn.execute(select(Contact.reserved_agent_id).where(Contact.id == contact_id)).scalar()


def floor_rooms_for(event: dict, conn) -> list[tuple[str, str]]:
    """The /floor rooms that may see this state event."""
    if event["type"] == "agent_state":
        return floor_rooms_of_agent((event.get("agent") or {}).get("agent_id"), conn)
    contact = event.get("contact") or {}
    holder = contact.get("agent_id")
    if holder is None and contact.get("id") is not None:
        holder = _reserved_for(conn, contact["id"])
    return floor_rooms_of_agent(holder, conn)


def relay_floor_event(event: dict) -> None:
    """contacts.events listener: emit a state event once to the rooms that may see it (a socket in several of
    them gets it once)."""
    if event.get("type") not in RELAYED:
        return
    try:
        with db.engine.connect() as conn:
            rooms = [room for _ns, room in floor_rooms_for(event, conn)]
        socketio.emit("event", event, to=rooms, namespace="/floor")
    except Exception:  # a committed change must not be undone by a failed push; the floor's snapshot catches up
        log.exception("floor push failed for %s", event.get("type"))


def init_pushes(app) -> None:
    subscribe(relay_floor_event)
