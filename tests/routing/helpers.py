"""Helpers for the routing tests: contacts through contacts.actions, agents through routing.actions."""

from __future__ import annotations

from accounts.models import User
from contacts.actions import do_create_contact
from contacts.models import Contact
from extensions import db
from routing.actions import do_set_agent_state, get_acd


def contact(queue="chat.general", **kw) -> Contact:
    return do_create_contact("chat", queue, **kw)


def agent(user_id: int, state: str = "available", **kw) -> dict:
    return do_set_agent_state(db.session.get(User, user_id), state, **kw)


def fresh(contact_id: int) -> Contact:
    return db.session.get(Contact, contact_id, populate_existing=True)


def waiting(queue="chat.general") -> list[int]:
    return get_acd().waiting(queue)
