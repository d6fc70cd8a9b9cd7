"""Taking one viewer's need offline: a one-to-one web-chat contact for the presenter (the chat channel's own
customer side, so the contact is routed, recorded and graded like any chat)."""

from __future__ import annotations

from flask import current_app, url_for
from sqlalchemy import select

from channels.chat.customer_side import customer_say, start_chat
from contacts.actions import ActionError
from contacts.events import append_event, send_event
from contacts.models import Contact, ContactEvent
from extensions import db

from .actions import _comment, _publish, _require_live, _require_presenter, viewer_room

# The chat scenario a simulated complaining viewer continues with, per language.
COMPLAINT_SCENARIOS = {"zh_CN": "zh-late-delivery-complaint", "en": "en-late-delivery-complaint"}


def do_move_viewer_to_chat(contact: Contact, presenter_id: int, comment_seq) -> dict:
    """Move the viewer who wrote comment ``comment_seq`` to a one-to-one chat reserved for the presenter.

    A simulated complaining viewer becomes the simulator's complaint customer; a simulated viewer with a
    question opens a chat with that question; a person (staff or guest) is sent a private link to the new
    chat. Records ``livestream.moved_to_chat`` with the new contact's id. A viewer already moved is refused.
    """
    _require_presenter(contact, presenter_id)
    _require_live(contact)
    comment = _comment(contact, comment_seq)
    viewer = comment.data.get("viewer")
    for ev in db.session.scalars(
        select(ContactEvent).where(
            ContactEvent.contact_id == contact.id, ContactEvent.type == "livestream.moved_to_chat"
        )
    ):
        if ev.data.get("viewer") == viewer:
            raise ActionError(f"{comment.data.get('name')} is already in chat contact {ev.data.get('chat_contact_id')}")
    sim = comment.data.get("sim") or {}
    name = comment.data.get("name") or "viewer"
    chat_id = None
    engine = current_app.extensions.get("kefu_simulator")
    if sim.get("kind") == "complaint" and engine is not None and contact.lang in COMPLAINT_SCENARIOS:
        chat_id = engine.start_customer(
            COMPLAINT_SCENARIOS[contact.lang], started_by=presenter_id, reserve_for=presenter_id
        )
    if chat_id is None:
        chat = start_chat(
            lang=contact.lang,
            queue="chat.complaints" if sim.get("kind") == "complaint" else "chat.general",
            customer_name=name,
            subject=f"livestream {contact.id}",
            simulated=bool(sim),
            reserved_agent_id=presenter_id,
        )
        chat_id = chat.id
        if sim:  # nobody types for a simulated viewer: their comment opens the chat
            customer_say(chat, comment.text)
        else:
            # Only this viewer's sockets get the customer token: the chat page resumes the contact with it.
            send_event(
                {
                    "type": "livestream_private",
                    "stream_id": contact.id,
                    "chat_contact_id": chat.id,
                    "token": chat.customer_token,
                    "link": url_for("customer.customer_chat"),
                },
                [("/livestream", viewer_room(contact.id, viewer))],
            )
    ev, _ = append_event(
        contact,
        "livestream.moved_to_chat",
        "agent",
        actor_id=presenter_id,
        data={"comment_seq": comment.seq, "viewer": viewer, "name": name, "chat_contact_id": chat_id},
    )
    append_event(
        chat_id,
        "livestream.origin",
        "system",
        data={"livestream_id": contact.id, "comment_seq": comment.seq, "viewer": viewer},
    )
    return _publish(ev)
