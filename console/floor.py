"""What a lead sees on the floor: the agents of their groups, the queues and the live contacts."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import User
from contacts.models import Contact
from extensions import db


def visible_agent_ids(lead: User) -> set[int] | None:
    """Agent ids a lead may watch; None means every agent (admins)."""
    if lead.role == "admin":
        return None
    ids = set(db.session.scalars(select(User.id).where(User.group_id.in_(lead.led_group_ids()))))
    ids.add(lead.id)
    return ids


def may_watch(lead: User, contact: Contact) -> bool:
    """A lead watches contacts of agents in their groups (and unassigned ones waiting in queue)."""
    ids = visible_agent_ids(lead)
    return ids is None or contact.agent_id is None or contact.agent_id in ids


def floor_snapshot(lead: User) -> dict:
    from routing.actions import floor_agents, queue_figures

    ids = visible_agent_ids(lead)
    users = {u.id: u for u in db.session.scalars(select(User).where(User.role.in_(("trainee", "lead", "admin"))))}
    agents = []
    for a in floor_agents():
        aid = a.get("agent_id")
        if ids is not None and aid not in ids:
            continue
        u = users.get(aid)
        agents.append({**a, "name": u.display_name if u else a.get("name", str(aid))})
    q = select(Contact).where(Contact.status.in_(("queued", "active", "wrap_up"))).order_by(Contact.created_at)
    contacts = [c.summary() for c in db.session.scalars(q) if ids is None or c.agent_id is None or c.agent_id in ids]
    return {"agents": agents, "queues": queue_figures(), "contacts": contacts}
