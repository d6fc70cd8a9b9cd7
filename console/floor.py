"""What a lead sees on the floor: the agents of their groups, the queues, the live contacts and the alerts."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from accounts.models import Group, User
from contacts.models import Contact
from extensions import db
from routing.actions import floor_agents, queue_figures

LIVE_STATUSES = ("queued", "active", "wrap_up")


def visible_agent_ids(lead: User) -> set[int] | None:
    """Agent ids a lead may watch: their groups' members and themselves; None means every agent (admins)."""
    if lead.role == "admin":
        return None
    from .monitoring import led_agent_ids

    return led_agent_ids(lead) | {lead.id}


def floor_snapshot(lead: User) -> dict:
    """The floor of ``lead``'s groups (every group for admins):

    - ``agents``: each agent's live state, effective state (busy when every seat is taken), time in state
      (``since``), load per channel and group; members of the groups who never signed in show as offline;
    - ``queues``: waiting count, longest wait, service level, ASA, abandon rate per queue (routing.figures);
    - ``contacts``: the live contacts (queued, active, in wrap-up) of these agents and those waiting in queue;
    - ``by_channel``: how many of those are active / queued / in wrap-up per channel;
    - ``alerts``: the live alerts this lead may see (console/alerts.py);
    - ``groups``: the groups shown.
    """
    from .alerts import visible_alerts

    ids = visible_agent_ids(lead)
    q = select(User).where(User.role.in_(("trainee", "lead", "admin")))
    if ids is not None:
        q = q.where(User.id.in_(ids))
    users = {u.id: u for u in db.session.scalars(q)}
    groups_q = select(Group).order_by(Group.name)
    if lead.role != "admin":
        groups_q = groups_q.where(Group.lead_id == lead.id)
    groups = {g.id: g.name for g in db.session.scalars(groups_q)}
    agents = []
    seen = set()
    for a in floor_agents():
        aid = a.get("agent_id")
        if ids is not None and aid not in ids:
            continue
        seen.add(aid)
        agents.append(_agent_row(a, users.get(aid), groups))
    for aid, u in sorted(users.items()):
        if aid not in seen and u.active and (u.role == "trainee" or aid == lead.id) and (ids is not None):
            agents.append(_agent_row({"agent_id": aid, "state": "offline", "effective_state": "offline"}, u, groups))
    cq = select(Contact).where(Contact.status.in_(LIVE_STATUSES)).order_by(Contact.created_at)
    if ids is not None:
        # a contact nobody holds is every lead's, unless it is reserved for an agent of another group
        unheld = Contact.agent_id.is_(None) & (Contact.reserved_agent_id.is_(None) | Contact.reserved_agent_id.in_(ids))
        cq = cq.where(unheld | Contact.agent_id.in_(ids))
    contacts = [c.summary() for c in db.session.scalars(cq)]
    by_channel: dict[str, Counter] = {}
    for c in contacts:
        by_channel.setdefault(c["channel"], Counter())[c["status"]] += 1
    return {
        "agents": agents,
        "queues": queue_figures(),
        "contacts": contacts,
        "by_channel": {ch: {s: n.get(s, 0) for s in LIVE_STATUSES} for ch, n in sorted(by_channel.items())},
        "alerts": visible_alerts(lead),
        "groups": [{"id": gid, "name": name} for gid, name in groups.items()],
    }


def _agent_row(snap: dict, user: User | None, groups: dict[int, str]) -> dict:
    gid = user.group_id if user else None
    return {
        **snap,
        "name": user.display_name if user else snap.get("name") or str(snap.get("agent_id")),
        "level": snap.get("level") or (user.level if user else None),
        "group_id": gid,
        "group": groups.get(gid),
    }
