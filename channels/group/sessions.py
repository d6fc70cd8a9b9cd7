"""Starting group rooms: a trainee's own practice room, or a lead's one-to-many session for a trainee or for
every trainee of a group (the console's floor links here)."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import Group, User
from contacts.actions import ActionError
from contacts.models import Contact
from extensions import db

from .actions import do_open_group_room, open_rooms_for


def start_group_room(
    starter: User,
    scenario_id: str,
    *,
    audience: int = 20,
    mix: dict | None = None,
    agent_ids: list[int] | None = None,
    group_id: int | None = None,
    seed: int | None = None,
) -> list[Contact]:
    """Open one group room per agent, each with its own simulated audience of ``audience`` customers (0-50) in
    the scenario's mix or ``mix`` (``{"off_topic": .1, "rude": .05, "individual": .15}``).

    Who is served: ``agent_ids`` (trainees, or the lead themselves), every trainee of ``group_id``, or - given
    neither - the starter. A trainee may start a room only for themselves; a lead for themselves and the
    trainees of the groups they lead; an admin for anyone. An agent who already serves an open room is refused
    (one room at a time). Returns the rooms opened."""
    if starter.role not in ("trainee", "lead", "admin"):
        raise ActionError("only trainees, leads and admins start group rooms")
    agents: list[User] = []
    if group_id is not None:
        group = db.session.get(Group, _int(group_id, "group id"))
        if group is None:
            raise ActionError("no such group")
        if starter.role == "lead" and group.lead_id != starter.id:
            raise ActionError("you do not lead this group")
        if starter.role == "trainee":
            raise ActionError("a trainee starts a room only for themselves")
        agents = list(
            db.session.scalars(select(User).where(User.group_id == group.id, User.role == "trainee").order_by(User.id))
        )
        if not agents:
            raise ActionError("the group has no trainees")
    elif agent_ids:
        if not isinstance(agent_ids, list) or len(agent_ids) > 100:
            raise ActionError("agent_ids must be a list of at most 100 user ids")
        for aid in agent_ids:
            user = db.session.get(User, _int(aid, "agent id"))
            if user is None or user.role not in ("trainee", "lead", "admin"):
                raise ActionError(f"no agent {aid}")
            allowed = (
                user.id == starter.id
                or starter.role == "admin"
                or (starter.role == "lead" and user.role == "trainee" and starter.leads_group_of(user))
            )
            if not allowed:
                raise ActionError(f"you may not start a room for {user.display_name}")
            agents.append(user)
    else:
        agents = [starter]
    busy = [a.display_name for a in agents if open_rooms_for(a)]
    if busy:
        raise ActionError(f"already serving an open group room: {', '.join(busy)}")
    rooms = []
    for i, agent in enumerate(agents):
        rooms.append(
            do_open_group_room(
                agent,
                scenario_id,
                audience=audience,
                mix=mix,
                started_by=starter,
                seed=None if seed is None else int(seed) + i,
            )
        )
    return rooms


def _int(value, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as e:
        raise ActionError(f"{what} must be a number") from e
