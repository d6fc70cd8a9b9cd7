"""Monitoring actions: a lead watches a live contact, coaches the trainee privately, takes the contact over,
and (voice) listens, whispers or barges in. Each one is a ``do_*`` action that records a ``monitor.*`` event on
the contact (committed) and publishes it.

Who may do what (``monitor_rights``):

- a lead: everything, on contacts held by agents of the groups they lead (a contact still waiting in a queue
  may be watched by every lead, as the floor shows it to all of them, unless it is reserved for an agent of
  another group); never on a contact they hold themselves;
- an admin: everything, on every contact;
- a grader (quality assurance): silent monitoring only (watch a chat, listen to a call), on every contact;
- a trainee: nothing.

Silent monitoring (``monitor.watch``, ``monitor.listen``, ``monitor.stop``) is recorded for the review but not
shown on the trainee's desk (contacts.events.AGENT_HIDDEN). Coaching notes, whisper and barge reach the desk,
and no ``monitor.*`` event ever reaches the customer (it is not in CUSTOMER_VISIBLE).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from accounts.models import User
from accounts.scope import lead_sees_contact
from contacts import lifecycle
from contacts.actions import ActionError
from contacts.events import append_event, publish_contact_event
from contacts.models import Contact
from extensions import db

SILENT_MODES = ("watch", "listen")
VOICE_MODES = ("listen", "whisper", "barge")
VOICE_CHANNELS = ("voice", "video")
COACH_MAX_CHARS = 1000


def led_agent_ids(lead: User) -> set[int]:
    ids = set(db.session.scalars(select(User.id).where(User.group_id.in_(lead.led_group_ids()))))
    return ids


def monitor_rights(user: User, contact: Contact) -> set[str]:
    """What ``user`` may do on ``contact``: a subset of watch, listen, whisper, barge, coach, take_over."""
    everything = {"watch", "listen", "whisper", "barge", "coach", "take_over"}
    if user is None or not user.is_authenticated:
        return set()
    if user.role == "admin":
        rights = set(everything)
    elif user.role == "grader":
        rights = {"watch", "listen"}
    elif user.role == "lead":
        if contact.agent_id is None:
            if not lead_sees_contact(user, contact):  # reserved for an agent of another group
                return set()
            rights = {"watch"}
        elif contact.agent_id == user.id or contact.agent_id not in led_agent_ids(user):
            return set()
        else:
            rights = set(everything)
    else:
        return set()
    if contact.agent_id is None or contact.agent_id == user.id:
        rights &= {"watch", "listen"}  # nobody to coach or take over from
    if contact.channel not in VOICE_CHANNELS:
        rights -= set(VOICE_MODES)
    return rights


def require_right(user: User, contact: Contact, right: str) -> None:
    """ActionError unless ``user`` may do ``right`` on ``contact`` (the message says why)."""
    rights = monitor_rights(user, contact)
    if right in rights:
        return
    if not rights:
        if user.role == "lead":
            raise ActionError(f"contact {contact.id} is outside your groups")
        raise ActionError(f"role '{user.role}' may not monitor contacts")
    if right in VOICE_MODES and contact.channel not in VOICE_CHANNELS:
        raise ActionError(f"contact {contact.id} is a {contact.channel} contact; only calls can be listened to")
    if user.role == "grader":
        raise ActionError("graders monitor silently; coaching and taking over are for leads")
    raise ActionError(f"you may not {right.replace('_', ' ')} on contact {contact.id}")


def _record(contact: Contact, type: str, user: User, *, text: str | None = None, data: dict | None = None, rooms=()):
    ev, _ = append_event(contact, type, "lead", actor_id=user.id, text=text, data=data or {})
    return publish_contact_event(ev, extra_rooms=rooms)["event"]


def _live(contact: Contact) -> None:
    if contact.status not in ("queued", "active"):
        raise ActionError(f"contact {contact.id} is {contact.status}; only live contacts can be monitored")


def do_start_monitoring(user: User, contact: Contact, mode: str = "watch") -> dict:
    """Start (or switch) monitoring a live contact: ``watch`` (chat, silent), ``listen`` (a call, silent),
    ``whisper`` (only the agent hears the lead) or ``barge`` (agent and customer hear the lead). Records
    ``monitor.<mode>`` with the monitor's name; returns the event."""
    if mode not in ("watch", *VOICE_MODES):
        raise ActionError("monitoring mode must be watch, listen, whisper or barge")
    require_right(user, contact, mode)
    _live(contact)
    return _record(contact, f"monitor.{mode}", user, data={"mode": mode, "monitor_name": user.display_name})


def do_stop_monitoring(user: User, contact: Contact, mode: str) -> dict:
    """The lead stopped monitoring (closed the page, hung up the monitor leg). Recorded as ``monitor.stop``."""
    if mode not in ("watch", *VOICE_MODES):
        raise ActionError("monitoring mode must be watch, listen, whisper or barge")
    require_right(user, contact, "watch" if mode == "watch" else "listen")
    return _record(contact, "monitor.stop", user, data={"mode": mode})


def do_send_coaching_note(user: User, contact: Contact, text) -> dict:
    """A private note from the lead to the agent on this contact: shown on the agent's desk, recorded on the
    contact (``monitor.coach``), never sent to the customer."""
    require_right(user, contact, "coach")
    _live(contact)
    if not isinstance(text, str) or not text.strip():
        raise ActionError("write the coaching note first")
    text = text.strip()
    if len(text) > COACH_MAX_CHARS:
        raise ActionError(f"coaching note is {len(text)} characters; the limit is {COACH_MAX_CHARS}")
    return _record(contact, "monitor.coach", user, text=text, data={"to_agent_id": contact.agent_id})


def do_take_over_contact(user: User, contact: Contact) -> dict:
    """The lead takes the contact over and becomes its agent: the trainee's seat is freed, the contact moves to
    the lead's desk (``monitor.takeover`` tells both desks) and the lead wraps it up as any agent would. One
    transaction (contacts.lifecycle); the seat moves after the commit."""
    require_right(user, contact, "take_over")
    from_agent_id = contact.agent_id

    def record(c: Contact) -> dict:
        return _record(
            c,
            "monitor.takeover",
            user,
            data={"from_agent_id": from_agent_id, "agent_id": user.id, "agent_name": user.display_name},
            rooms=[("/desk", f"agent:{from_agent_id}"), ("/desk", f"agent:{user.id}")],
        )

    event = lifecycle.do_take_over_contact(contact, user, record=record)
    current_app.logger.info("contact %s taken over by %s from %s", contact.id, user.id, from_agent_id)
    return event


def do_acknowledge_alert(user: User, alert_id) -> dict:
    """A lead has seen to a live alert: it leaves the floor, and ``monitor.alert_ack`` is recorded on the
    contact. Refused for an alert the lead may not see."""
    from .alerts import acknowledge_alert, get_alert, visible_alerts

    alert = get_alert(str(alert_id or ""))
    if alert is None:
        raise ActionError("no such live alert (it may have cleared already)")
    if alert["id"] not in {a["id"] for a in visible_alerts(user)}:
        raise ActionError("this alert is outside your groups")
    contact = db.session.get(Contact, alert["contact_id"])
    if contact is None:
        raise ActionError(f"no contact {alert['contact_id']}")
    acknowledge_alert(alert["id"])
    return _record(contact, "monitor.alert_ack", user, data={"alert": alert["id"], "kind": alert["kind"]})
