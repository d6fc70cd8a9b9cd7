"""/desk: the trainee's live channel. Thin handlers: validate -> action -> ack."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_socketio import Namespace, join_room

from accounts.roles import remember_socket_identity, socket_identity, socket_role_required
from contacts.actions import (
    ActionError,
    do_end_contact,
    do_post_message,
    do_set_typing,
    do_transfer_contact,
    do_wrap_up_contact,
    get_contact,
    get_contact_head,
    open_contacts_for_agent,
)
from contacts.events import contact_room
from extensions import db
from routing.actions import agent_snapshot, do_set_agent_state, queue_figures
from routing.figures import shared_queue_figures
from routing.presence import DISCONNECTED, get_presence

from .acks import ack_errors
from .transcript import events_after

AGENT_ROLES = ("trainee", "lead", "admin")


def _payload(data) -> dict:
    if not isinstance(data, dict):
        raise ActionError("expected a JSON object")
    return data


def _me() -> int:
    """This socket's user id (remembered at connect: no user query per event on the hot path)."""
    return socket_identity()["id"]


def _own_contact(data):
    contact = get_contact(_payload(data).get("contact_id"))
    if contact.agent_id != _me():
        raise ActionError(f"contact {contact.id} is not on your desk")
    return contact


def _own_contact_head(data):
    """As _own_contact, reading only the contact's head (the message path's cheap read)."""
    head = get_contact_head(_payload(data).get("contact_id"))
    if head.agent_id != _me():
        raise ActionError(f"contact {head.id} is not on your desk")
    return head


class DeskNamespace(Namespace):
    """An agent whose last desk socket drops - counted over every web process (routing/presence.py) - is set
    away (reason "desk disconnected") so the ACD stops offering contacts to a desk nobody sees; the contacts
    already held stay theirs, and reconnecting puts the agent back to available."""

    # Quick per-line events, run on the connection's reader without a task each (concurrency.py).
    inline_events = frozenset({"send", "typing", "figures"})

    def on_connect(self, auth=None):
        if not current_user.is_authenticated or current_user.role not in AGENT_ROLES:
            return False  # refuse the connection
        remember_socket_identity()
        join_room(f"agent:{current_user.id}")
        for c in open_contacts_for_agent(current_user.id):
            join_room(contact_room(c.id))
        get_presence().desk_opened(current_user.id)

        snap = agent_snapshot(current_user.id)
        if snap.get("state") == "away" and snap.get("reason") == DISCONNECTED:
            do_set_agent_state(current_user._get_current_object(), "available")
        db.session.remove()

    def on_disconnect(self, reason=None):
        if not current_user.is_authenticated:
            return
        if get_presence().desk_closed(current_user.id) > 0:
            return  # another desk of theirs is open, on this process or another

        try:
            if agent_snapshot(current_user.id).get("state") in ("available", "acw"):
                do_set_agent_state(current_user._get_current_object(), "away", reason=DISCONNECTED)
        finally:
            db.session.remove()

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_hello(self, data=None):
        """The desk's state after (re)connecting: agent state, open contacts and their events."""
        contacts = []
        for c in open_contacts_for_agent(current_user.id):
            join_room(contact_room(c.id))
            contacts.append({"contact": c.summary(), "events": events_after(c, 0, staff=True)})
        return {"ok": True, "agent": agent_snapshot(current_user.id), "contacts": contacts, "queues": queue_figures()}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_set_state(self, data):
        """Switch agent state: available, away (with a reason) or offline."""
        data = _payload(data)
        state = data.get("state")
        if state not in ("available", "away", "offline"):
            raise ActionError("state must be available, away or offline")
        snap = do_set_agent_state(current_user._get_current_object(), state, reason=data.get("reason"))
        return {"ok": True, "agent": snap}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_join_contact(self, data):
        """Join a newly assigned contact's room and get its events so far."""
        contact = _own_contact(data)
        join_room(contact_room(contact.id))
        return {"ok": True, "contact": contact.summary(), "events": events_after(contact, 0, staff=True)}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_send(self, data):
        """Send a message to the customer. ``client_id`` makes a resend after a dropped socket idempotent."""
        contact = _own_contact_head(data)
        if contact.status != "active":
            raise ActionError(f"contact {contact.id} is {contact.status}")
        ev, created = do_post_message(
            contact, "agent", data.get("text"), actor_id=_me(), client_id=data.get("client_id"), skip_sid=request.sid
        )
        return {"ok": True, "event": ev, "duplicate": not created}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_typing(self, data):
        """Typing started or stopped; the ack carries the recorded event (this socket is not sent it again)."""
        contact = _own_contact_head(data)
        ev = do_set_typing(contact, "agent", bool(data.get("typing")), actor_id=_me(), skip_sid=request.sid)
        return {"ok": True, "event": ev}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_sync(self, data):
        """Events after ``after_seq``: a reconnecting desk catches up without losing or doubling any."""
        contact = _own_contact(data)
        try:
            after = int(data.get("after_seq", 0))
        except (TypeError, ValueError) as e:
            raise ActionError("after_seq must be a number") from e
        join_room(contact_room(contact.id))
        return {"ok": True, "contact": contact.summary(), "events": events_after(contact, after, staff=True)}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_end(self, data):
        """End the conversation; the contact moves to wrap-up."""
        contact = _own_contact(data)
        do_end_contact(contact, "agent", actor_id=current_user.id, reason="agent_ended")
        return {"ok": True, "contact": contact.summary()}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_wrap_up(self, data):
        """Close with a wrap-up code and notes; after-call work starts."""
        contact = _own_contact(data)
        do_wrap_up_contact(contact, current_user._get_current_object(), data.get("code"), data.get("notes") or "")
        return {"ok": True, "contact": contact.summary()}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_transfer(self, data):
        """Transfer to a queue, a level or a named agent, with a note."""
        contact = _own_contact(data)
        do_transfer_contact(
            contact,
            current_user._get_current_object(),
            target_kind=data.get("target_kind"),
            target=str(data.get("target") or ""),
            note=data.get("note") or "",
        )
        return {"ok": True, "contact": contact.summary()}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_figures(self, data=None):
        """Queue figures (at most a second old) and the agent's own state, for the desk's periodic refresh."""
        return {"ok": True, "queues": shared_queue_figures(), "agent": agent_snapshot(_me())}

    @socket_role_required(*AGENT_ROLES)
    @ack_errors
    def on_send_article(self, data):
        """Send a KB article's customer-facing text (``text``: as the agent edited it) and record kb.send."""
        from .articles import do_send_article

        contact = _own_contact(data)
        text = data.get("text")
        if text is not None and not isinstance(text, str):
            raise ActionError("text must be a string")
        ev = do_send_article(contact, current_user._get_current_object(), str(data.get("slug") or ""), text)
        return {"ok": True, "event": ev}
