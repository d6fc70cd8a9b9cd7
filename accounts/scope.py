"""Who supervises whom, and so who may see a contact: the one place the group rule lives.

A lead supervises the members of the groups they lead (and themselves); an admin everyone. A contact belongs
to the agent holding it or, while nobody holds it, to the agent it is reserved for (a trainee's own practice
customer); a contact with neither is waiting in a shared queue and is every lead's business. Every view,
socket event and floor push that scopes by group asks here, so the rule cannot drift between them.

The /floor rooms are named here too (the console joins them, publishers and the console's push relay send to
them): ``floor:queue`` for contacts nobody holds, ``floor:group:<id>`` per group, ``floor:lead:<user>`` for a
lead's own contacts and state, ``floor:all`` for admins.
"""

from __future__ import annotations

from sqlalchemy import select

from extensions import db

from .models import Group, User

ALL_ROOM = "floor:all"  # admins: everything
QUEUE_ROOM = "floor:queue"  # every lead and admin: contacts nobody holds or is reserved for


def group_room(group_id: int) -> str:
    return f"floor:group:{group_id}"


def lead_room(user_id: int) -> str:
    return f"floor:lead:{user_id}"


def supervised_ids(user) -> set[int] | None:
    """Ids of the users ``user`` supervises: a lead's groups' members and the lead; None means everyone
    (admins); the empty set for anyone else."""
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    if user.role == "admin":
        return None
    if user.role != "lead":
        return set()
    led = select(Group.id).where(Group.lead_id == user.id)
    return set(db.session.scalars(select(User.id).where(User.group_id.in_(led)))) | {user.id}


def supervises(user, agent_id: int | None) -> bool:
    """Whether ``user`` (a lead or an admin) supervises the agent ``agent_id``."""
    if agent_id is None:
        return False
    ids = supervised_ids(user)
    return ids is None or agent_id in ids


def holder_id(contact) -> int | None:
    """The agent a contact belongs to: who holds it, else whom it is reserved for, else nobody."""
    return contact.agent_id if contact.agent_id is not None else contact.reserved_agent_id


def lead_sees_contact(user, contact) -> bool:
    """A lead (or admin) and a contact: their group's (or their own), or one waiting for anybody."""
    holder = holder_id(contact)
    if holder is None:
        return user.role in ("lead", "admin")
    return supervises(user, holder)


def may_see_contact(user, contact) -> bool:
    """Trainees see the contacts they hold; leads those of their groups and unreserved ones waiting in a
    queue; graders and admins every contact."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role in ("grader", "admin"):
        return True
    if user.role == "trainee":
        return contact.agent_id == user.id
    if user.role == "lead":
        return lead_sees_contact(user, contact)
    return False


def floor_rooms_of_agent(agent_id: int | None, conn=None) -> list[tuple[str, str]]:
    """The /floor rooms that may hear about ``agent_id``'s state and contacts: admins, the agent's group lead,
    and the agent itself when it is a lead; a contact for nobody in particular goes to the queue room.

    Reads the agent's group on ``conn`` (a Core connection) when given, so a publisher inside another action's
    transaction does not flush that action's session."""
    if agent_id is None:
        return [("/floor", QUEUE_ROOM)]
    stmt = select(User.group_id).where(User.id == agent_id)
    gid = conn.execute(stmt).scalar() if conn is not None else db.session.execute(stmt).scalar()
    rooms = [("/floor", ALL_ROOM), ("/floor", lead_room(agent_id))]
    if gid is not None:
        rooms.append(("/floor", group_room(gid)))
    return rooms


def floor_rooms_of_user(user) -> list[str]:
    """The /floor rooms a lead's or admin's console joins."""
    rooms = [QUEUE_ROOM, lead_room(user.id)]
    if user.role == "admin":
        rooms.append(ALL_ROOM)
    rooms += [group_room(gid) for gid in user.led_group_ids()]
    return rooms
