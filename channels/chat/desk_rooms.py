"""A desk hears a contact only while the contact is on it: when a contact leaves an agent's desk (transferred,
taken over by a lead, wrapped up) the /desk sockets in its room stop receiving its events.

The /desk room of a contact holds only desks (customers listen on /customer, leads on /floor), and a contact
is on one agent's desk at a time; so the room is closed when the contact leaves, and the next holder's desk
joins it again when the contact is assigned (``join_contact``). Closing a room reaches every web process
through Socket.IO's message queue, where leaving one socket's membership could not.
"""

from __future__ import annotations

import logging

from contacts.events import contact_room, subscribe
from extensions import socketio

log = logging.getLogger(__name__)

# Events after which the contact is no longer on the desk that held it.
LEAVES_DESK = frozenset({"transfer", "monitor.takeover", "wrap_up", "contact.abandoned"})


def close_desk_room(event: dict) -> None:
    """contacts.events listener: close a contact's /desk room after an event that takes it off its desk
    (the event itself has been delivered to that room already)."""
    if event.get("type") != "contact_event":
        return
    ev = event.get("event") or {}
    if ev.get("type") not in LEAVES_DESK:
        return
    try:
        socketio.server.close_room(contact_room(ev["contact_id"]), namespace="/desk")
    except Exception:
        log.exception("could not close the desk room of contact %s", ev.get("contact_id"))


def init_desk_rooms(app) -> None:
    subscribe(close_desk_room)
