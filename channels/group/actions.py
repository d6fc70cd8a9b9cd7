"""do_* actions of the group room. A room is one contact (channel ``group``) held by its agent; customers are
members of it, and every state change is one event on the room's recording:

``group.opened`` (the needs and audience), ``group.member_joined``, ``message`` (a customer's question, or an
agent reply with ``mentions`` / ``reply_to`` / ``cluster``), ``group.announcement`` (pinned), ``group.unpinned``,
``group.moved_private`` (the one-to-one chat contact opened for a member), ``group.member_left``,
``customer.state`` (a simulated member's recognition; never sent to the agent), ``contact.ended`` + ``wrap_up``.

Each action records its event through ``recording.record``: appended (committed), folded into the live
RoomState and published.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

from flask import current_app
from sqlalchemy import select

from accounts.models import User
from contacts.actions import ActionError
from contacts.lifecycle import check_wrap_up, do_close_contact, do_open_contact
from contacts.models import Contact
from contacts.transaction import atomic
from extensions import db, socketio
from scenarios.group import GroupContentError, Mix, find_group_scenario

from .recording import (
    GROUP_QUEUE,
    STAFF_ROLES,
    may_serve,
    member_room,
    record,
    room_lock,
    room_state,
    token_hash,
)
from .room import Member, RoomState

GROUP_WRAP_UP = "GROUP"  # the room's own wrap-up code, offered beside the pack's (templates/group/room.html)


def do_open_group_room(
    agent: User,
    scenario_id: str,
    *,
    audience: int = 20,
    mix: dict | None = None,
    started_by: User | None = None,
    seed: int | None = None,
    exercise_id: int | None = None,
) -> Contact:
    """Open a group room for ``agent`` (a trainee or a lead) with a simulated audience of ``audience`` customers
    (0 to GROUP_MAX_AUDIENCE) drawn from the group scenario's needs and ``mix`` (shares of off-topic, rude and
    individual customers). The room is a contact held by the agent at once (no queue); people may join it too
    with the room's join link. ``exercise_id``: the exercise (a skill exam) the room belongs to. Returns the room
    contact."""
    if agent is None or agent.role not in STAFF_ROLES:
        raise ActionError("a group room is served by a trainee or a lead")
    try:
        scenario, lang = find_group_scenario(scenario_id)
    except GroupContentError as e:
        raise ActionError(str(e)) from e
    try:
        audience = int(audience)
    except (TypeError, ValueError) as e:
        raise ActionError("audience size must be a whole number") from e
    top = int(current_app.config.get("GROUP_MAX_AUDIENCE", 50))
    if not 0 <= audience <= top:
        raise ActionError(f"audience size must be from 0 to {top}")
    try:
        mix_model = Mix.model_validate({**scenario.mix.model_dump(), **(mix or {})})
    except Exception as e:
        raise ActionError(f"audience mix: {e}") from e
    if seed is None:
        seed = secrets.randbelow(2**31)
    by = started_by or agent
    with atomic():  # the room, its settings and its agent are recorded together or not at all
        room = do_open_contact(
            "group",
            GROUP_QUEUE,
            lang=lang,
            customer_name=scenario.room_name[:80],
            subject=scenario.title[:200],
            scenario_id=scenario.id,
            exercise_id=exercise_id,
            simulated=audience > 0,
            reserved_agent_id=agent.id,
            agent=agent,
            token_bytes=18,  # the join link's token
        )
        record(
            room,
            "group.opened",
            "lead" if by.role in ("lead", "admin") and by.id != agent.id else "agent",
            actor_id=by.id,
            data={
                "scenario_id": scenario.id,
                "lang": lang,
                "room_name": scenario.room_name,
                "agent_id": agent.id,
                "audience": audience,
                "mix": mix_model.model_dump(),
                "seed": seed,
                "started_by": by.id,
                "needs": [n.snapshot() for n in scenario.needs],
            },
        )
    audience_driver = current_app.extensions.get("kefu_group_audience")
    if audience_driver is not None and audience > 0:
        audience_driver.start_room(room.id, scenario, lang, audience, mix_model, seed)
    return room


def _open_room(room: Contact) -> RoomState:
    state = room_state(room.id)
    if room.status != "active" or not state.open:
        raise ActionError(f"group room {room.id} is closed")
    return state


def do_join_group_member(room: Contact, name: str, *, simulated: bool = False) -> tuple[str, str | None]:
    """A customer joins the room under ``name``. Returns (member id, member token); the token (people only)
    proves later posts are this member's. Refused when the room is closed or full."""
    name = (name or "").strip()
    if not name or len(name) > 40:
        raise ActionError("give a name of 1 to 40 characters")
    with room_lock(room.id), atomic():
        # The room's row, locked: a join through another web process at the same moment waits for this one, and
        # the view read next (caught up from the recording) has its member, so no member id is given twice (the
        # room lock is only this process's).
        db.session.execute(select(Contact.id).where(Contact.id == room.id).with_for_update())
        state = _open_room(room)
        top = int(current_app.config.get("GROUP_MAX_MEMBERS", 60))
        if len(state.members) >= top:
            raise ActionError(f"the room is full ({top} members)")
        member_id = f"m{len(state.members) + 1}"
        token = None if simulated else secrets.token_urlsafe(18)
        record(
            room,
            "group.member_joined",
            "customer",
            data={
                "member": member_id,
                "name": name,
                "simulated": simulated,
                "token_hash": token_hash(token) if token else None,
            },
        )
    return member_id, token


def member_for_token(room: Contact, member_id, token) -> Member:
    """The member holding ``token``; ActionError otherwise (a person can only post as themselves)."""
    member = room_state(room.id).members.get(str(member_id or ""))
    if member is None or member.simulated or not token or member.token_hash != token_hash(str(token)):
        raise ActionError("unknown member")
    return member


_buckets_lock = threading.Lock()


def _allow(room_id: int, member_id: str) -> bool:
    """Per-customer rate limit: GROUP_MEMBER_RATE messages a second with a burst of GROUP_MEMBER_BURST."""
    rate = float(current_app.config.get("GROUP_MEMBER_RATE", 0.5))
    burst = float(current_app.config.get("GROUP_MEMBER_BURST", 4))
    now = time.monotonic()
    # The buckets belong to the app, not the module: another app in the same process (a test's fresh database)
    # reuses room and member ids, and must not inherit their spent tokens.
    buckets: dict[tuple[int, str], list[float]] = current_app.extensions.setdefault("kefu_group_post_buckets", {})
    with _buckets_lock:
        tokens, last = buckets.get((room_id, member_id), [burst, now])
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1:
            buckets[(room_id, member_id)] = [tokens, now]
            return False
        buckets[(room_id, member_id)] = [tokens - 1, now]
        return True


def _check_text(text, limit_key: str = "GROUP_MESSAGE_MAX_CHARS") -> str:
    if not isinstance(text, str) or not text.strip():
        raise ActionError("empty message")
    limit = int(current_app.config.get(limit_key, 1000))
    if len(text) > limit:
        raise ActionError(f"message is {len(text)} characters; the limit is {limit}")
    return text


def _check_client_id(client_id):
    if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 64):
        raise ActionError("client_id must be a string of at most 64 characters")
    return client_id


def do_post_group_message(
    room: Contact,
    member_id: str,
    text: str,
    *,
    client_id: str | None = None,
    need: str | None = None,
    kind: str | None = None,
) -> tuple[dict, bool]:
    """A member posts in the room (a question, small talk, a thanks). Rate-limited per member; ``need`` and
    ``kind`` are the simulator's own labels of its line (a person's question is classified by its words)."""
    text = _check_text(text)
    _check_client_id(client_id)
    state = _open_room(room)
    member = state.members.get(member_id)
    if member is None:
        raise ActionError("unknown member")
    if member.status in ("left", "private"):
        raise ActionError(
            "you are no longer in this room" if member.status == "left" else "you were moved to a private chat"
        )
    if not _allow(room.id, member_id):
        raise ActionError("too many messages; slow down")
    data = {"member": member_id, "name": member.name, "simulated": member.simulated}
    if member.simulated:
        data.update({"need": need, "kind": kind})
    ev, created, _ = record(room, "message", "customer", text=text, data=data, client_id=client_id)
    return ev, created


def _staff(room: Contact, user: User) -> RoomState:
    if not may_serve(user, room):
        raise ActionError("this group room is not yours")
    return _open_room(room)


def do_reply_in_group(
    room: Contact,
    agent: User,
    text: str,
    *,
    mentions: list | None = None,
    reply_to: str | None = None,
    cluster: str | None = None,
    client_id: str | None = None,
) -> tuple[dict, list[str]]:
    """The agent posts one-to-many: @mentions several members, answers one member's message (``reply_to``), or
    answers a whole need cluster (``cluster``: everyone asking that need sees it as addressed to them). Returns
    (event, ids of members it answered)."""
    text = _check_text(text)
    _check_client_id(client_id)
    state = _staff(room, agent)
    if mentions is not None and not isinstance(mentions, list):
        raise ActionError("mentions must be a list of member ids")
    mentions = [str(m) for m in (mentions or [])]
    if len(mentions) > 60:
        raise ActionError("at most 60 mentions in one reply")
    unknown = [m for m in mentions if m not in state.members]
    if unknown or (reply_to is not None and str(reply_to) not in state.members):
        raise ActionError(f"unknown member(s): {unknown or [reply_to]}")
    if cluster is not None and state.need(str(cluster)) is None:
        raise ActionError(f"unknown need cluster {cluster!r}")
    data = {
        "mentions": mentions,
        "mention_names": [state.members[m].name for m in mentions],
        "reply_to": str(reply_to) if reply_to is not None else None,
        "cluster": str(cluster) if cluster is not None else None,
    }
    actor = "agent" if agent.id == room.agent_id else "lead"
    ev, _, answered = record(room, "message", actor, actor_id=agent.id, text=text, data=data, client_id=client_id)
    return ev, [m.id for m in answered]


def do_pin_announcement(room: Contact, agent: User, text: str, *, cluster: str | None = None) -> tuple[dict, list[str]]:
    """Pin an announcement to the top of the room: everyone sees it; it answers every waiting member whose need
    it covers."""
    text = _check_text(text)
    state = _staff(room, agent)
    if cluster is not None and state.need(str(cluster)) is None:
        raise ActionError(f"unknown need cluster {cluster!r}")
    if len(state.pinned) >= int(current_app.config.get("GROUP_MAX_PINNED", 10)):
        raise ActionError("too many pinned announcements; unpin one first")
    data = {"cluster": str(cluster) if cluster is not None else None, "pinned": True}
    ev, _, answered = record(room, "group.announcement", "agent", actor_id=agent.id, text=text, data=data)
    return ev, [m.id for m in answered]


def do_unpin_announcement(room: Contact, agent: User, announcement_seq) -> dict:
    """Take a pinned announcement down (the recording keeps it)."""
    state = _staff(room, agent)
    try:
        seq = int(announcement_seq)
    except (TypeError, ValueError) as e:
        raise ActionError("announcement_seq must be a number") from e
    if seq not in state.pinned:
        raise ActionError(f"no pinned announcement {seq}")
    ev, _, _ = record(room, "group.unpinned", "agent", actor_id=agent.id, data={"announcement_seq": seq})
    return ev


# How a simulated member's individual need goes on as a one-to-one chat: the simulator registers its starter from
# its init_app (simulator/channel_hooks.py), so this channel imports nothing of the simulator.
# (scenario id, started_by=, reserve_for=) -> the chat contact's id; ActionError when it cannot start.
PrivateCustomerStarter = Callable[..., int]
_private_customer: PrivateCustomerStarter | None = None


def register_private_customer(starter: PrivateCustomerStarter) -> None:
    """simulator's init_app: who plays a simulated member in the private chat it is moved to."""
    global _private_customer
    _private_customer = starter


def do_move_member_to_private(room: Contact, agent: User, member_id: str) -> tuple[dict, Contact, str | None]:
    """Move a member's individual need to a one-to-one chat contact reserved for the room's agent. A simulated
    member goes on as the need's private chat scenario; a person gets the new contact's token on their own
    socket. Returns (event, chat contact, customer token for a person)."""
    state = _staff(room, agent)
    member = state.members.get(str(member_id))
    if member is None:
        raise ActionError("unknown member")
    if member.status in ("private", "left"):
        raise ActionError(f"{member.name} is {'already in a private chat' if member.status == 'private' else 'gone'}")
    need = state.need(member.need)
    scenario_id = need.get("private_scenario") if need else None
    engine = current_app.extensions.get("kefu_simulator")
    if member.simulated and scenario_id and engine is not None and _private_customer is not None:
        contact_id = _private_customer(scenario_id, started_by=agent.id, reserve_for=room.agent_id)
        contact = db.session.get(Contact, contact_id)
    else:
        from channels.chat.customer_side import start_chat

        contact = start_chat(
            lang=room.lang,
            queue="chat.general",
            customer_name=member.name,
            subject=(need or {}).get("title"),
            simulated=member.simulated,
            reserved_agent_id=room.agent_id,
        )
    data = {
        "member": member.id,
        "name": member.name,
        "need": member.need,
        "individual": bool(need and need.get("individual")),
        "private_contact_id": contact.id,
        "private_scenario": scenario_id if member.simulated else None,
    }
    ev, _, _ = record(room, "group.moved_private", "agent", actor_id=agent.id, data=data)
    token = None
    if not member.simulated:
        token = contact.customer_token
        socketio.emit(
            "event",
            {"type": "group.private", "room_id": room.id, "contact_id": contact.id, "token": token},
            to=member_room(room.id, member.id),
            namespace="/group",
        )
    return ev, contact, token


def do_leave_group_member(room: Contact, member_id: str, reason: str = "left") -> dict | None:
    """A member leaves (satisfied, impatient, or closed their page). Leaving twice does nothing."""
    state = room_state(room.id)
    member = state.members.get(str(member_id))
    if member is None:
        raise ActionError("unknown member")
    if member.status == "left" or not state.open:
        return None
    reason = reason if reason in ("satisfied", "impatient", "left", "moved") else "left"
    ev, _, _ = record(
        room,
        "group.member_left",
        "customer",
        data={"member": member.id, "name": member.name, "reason": reason, "status_before": member.status},
    )
    return ev


def do_record_member_state(room_id: int, data: dict) -> None:
    """Record a simulated member's mind after a reaction (recognised answer, patience); hidden from the agent,
    read by review and the floor."""
    record(room_id, "customer.state", "simulator", data=data)


def do_close_group_room(room: Contact, user: User, *, code: str = "GROUP", notes: str = "") -> Contact:
    """End the session: the room stops taking posts (members still waiting count as unanswered) and is wrapped
    up with ``code``; a simulated room is then graded like any practice contact."""
    if not may_serve(user, room):
        raise ActionError("this group room is not yours")
    if room.status == "closed":
        raise ActionError(f"group room {room.id} is already closed")
    code, notes = check_wrap_up(room, code, notes, extra_codes=(GROUP_WRAP_UP,))
    state = room_state(room.id)
    waiting = sorted(m.id for m in state.members.values() if m.status == "waiting")

    def fold(c, type, actor, *, actor_id=None, text=None, data=None):
        record(c, type, actor, actor_id=actor_id, text=text, data=data)

    # The room's lock before the contact's row, the order every post in the room takes them (record()).
    with room_lock(room.id):
        do_close_contact(
            room,
            "agent",
            actor_id=user.id,
            reason="room_closed",
            code=code,
            notes=notes,
            end_data={"waiting": waiting},
            record=fold,
        )
    driver = current_app.extensions.get("kefu_group_audience")
    if driver is not None:
        driver.stop_room(room.id)
    return room


def open_rooms_for(user: User) -> list[Contact]:
    """Rooms this user serves now."""
    return list(
        db.session.scalars(
            select(Contact)
            .where(Contact.channel == "group", Contact.agent_id == user.id, Contact.status == "active")
            .order_by(Contact.id)
        )
    )
