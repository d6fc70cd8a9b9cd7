"""ACD actions: enqueue, abandon, transfer, release a seat, dispatch, agent states; the ticker's ``tick`` and
the rebuild of live state from the database.

The atomic part (who gets which contact) is one Lua script in Redis (routing/acd.py, routing/lua.py); these
functions add what needs the database and the app: users, recorded state changes, published events.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy import select

from accounts.models import LEVEL_RANK, User
from clock import clock
from contacts.errors import ActionError
from contacts.events import send_event
from contacts.lifecycle import do_assign_contact
from contacts.models import Contact, ContactEvent
from extensions import db

from .acd import ACD, Assignment
from .figures import queue_figures  # noqa: F401  (part of this module's public API)
from .models import AgentStateChange

log = logging.getLogger(__name__)

AGENT_ROLES = ("trainee", "lead", "admin")
AGENT_STATES = ("available", "away", "acw", "offline")
SEAT_STATUSES = ("active", "wrap_up")  # a contact holds its agent's seat until the wrap-up
QUEUE_RE = re.compile(r"^([a-z][a-z0-9_]*)\.([A-Za-z0-9_\-]{1,48}|\*)$")
DISPATCH_BATCH = 200


def get_acd() -> ACD:
    return current_app.extensions["kefu_acd"]


# -- agents' attributes -----------------------------------------------------------------------------------------


def agent_level(user: User) -> str:
    """The level the ACD routes by: leads and admins count as L3; a trainee without a level as L5."""
    if user.role in ("lead", "admin"):
        return "L3"
    return user.level if user.level in LEVEL_RANK else "L5"


# Seats per channel type: channels registers each type's ``capacity(app)`` from its init_app, so routing, below
# channels, imports none of them. A channel that registered none holds one seat.
_capacity_of: dict[str, Callable[[Flask], int]] = {}


def register_channel_capacity(channel: str, capacity: Callable[[Flask], int]) -> None:
    """channels' init_app, for every channel type it knows: how many of its contacts an agent holds at once."""
    _capacity_of[channel] = capacity


def channel_capacities() -> dict[str, int]:
    """Seats per enabled channel, as each channel's ``capacity(app)`` says (chat: CHAT_CAPACITY, email:
    EMAIL_CAPACITY, else the class default; 1 for a channel without a class)."""
    caps = {}
    for ch in current_app.config["ENABLED_CHANNELS"]:
        capacity = _capacity_of.get(ch)
        caps[ch] = int(capacity(current_app)) if capacity is not None else 1
    return caps


def validate_queue(queue, *, channel: str | None = None, wildcard: bool = False) -> str:
    """A queue id is ``<enabled channel>.<name>`` (``chat.general``); ``chat.*`` (every chat queue) only where
    ``wildcard`` is allowed."""
    q = str(queue or "").strip()
    m = QUEUE_RE.match(q)
    if not m or len(q) > 64:
        raise ActionError(f"{q!r} is not a queue id like 'chat.general'")
    if m.group(1) not in current_app.config["ENABLED_CHANNELS"]:
        raise ActionError(f"queue {q!r} belongs to channel {m.group(1)!r}, which is not enabled")
    if channel is not None and m.group(1) != channel:
        raise ActionError(f"queue {q!r} is not a {channel} queue")
    if m.group(2) == "*" and not wildcard:
        raise ActionError(f"{q!r} names every {m.group(1)} queue; choose one queue")
    return q


def _seats_from_db(agent_id: int) -> dict[int, str]:
    rows = db.session.execute(
        select(Contact.id, Contact.channel).where(Contact.agent_id == agent_id, Contact.status.in_(SEAT_STATUSES))
    )
    return {cid: ch for cid, ch in rows}


def agent_snapshot(agent_id: int) -> dict:
    """An agent's live state: state, effective_state (``on_call`` while it holds a call, ``busy`` when available
    but every seat is taken), since, reason, level, load and capacity per channel, served queues, idle_since,
    acw_until."""
    return get_acd().snapshots([int(agent_id)])[0]


def floor_agents() -> list[dict]:
    """Snapshots of every agent registered with the ACD (ever set a state), ordered by id."""
    acd = get_acd()
    return acd.snapshots(acd.agent_ids())


def _publish_agent(agent_id: int, snapshot: dict | None = None) -> dict:
    snap = snapshot or agent_snapshot(agent_id)
    # the floor hears it through console/pushes.py, in the rooms of those who supervise this agent
    send_event({"type": "agent_state", "agent": snap}, [("/desk", f"agent:{agent_id}")])
    return snap


def _record_state(agent_id: int, state: str, reason: str | None, ts: float) -> None:
    db.session.add(AgentStateChange(agent_id=agent_id, state=state, reason=reason, ts=ts))


def do_set_agent_state(user: User, state: str, reason: str | None = None, *, queues: list[str] | None = None) -> dict:
    """Set an agent's state: ``available``, ``away`` (with an optional reason), ``acw`` or ``offline``.

    The first call registers the agent with the ACD: its level (leads/admins count as L3), the queues it
    serves (``queues``, default every queue of the enabled channels, ``<channel>.*``), its capacity per
    channel, and the contacts it already holds (from the database). A later call with ``queues`` replaces the
    list. ``busy`` is never set by hand: it is how an available agent with every seat taken shows. Each change
    is recorded (AgentStateChange) and published as ``agent_state``. Returns the agent's snapshot.
    """
    if user is None or user.role not in AGENT_ROLES:
        raise ActionError("only trainees, leads and admins take contacts")
    if not user.active:
        raise ActionError("this account is disabled")
    if state == "busy":
        raise ActionError("busy is not set by hand: an available agent shows busy when every seat is taken")
    if state not in AGENT_STATES:
        raise ActionError(f"agent state must be one of {', '.join(AGENT_STATES)}")
    reason = ((reason or "").strip() or None) if state == "away" else None
    if reason and len(reason) > 80:
        raise ActionError("away reason is over 80 characters")
    if queues is not None:
        if not isinstance(queues, list | tuple) or not queues:
            raise ActionError("queues must be a non-empty list of queue ids")
        queues = list(dict.fromkeys(validate_queue(q, wildcard=True) for q in queues))
    acd = get_acd()
    now = clock.timestamp()
    seats = None if acd.agent_exists(user.id) else _seats_from_db(user.id)
    level = agent_level(user)
    prev_state, prev_reason = acd.set_agent(
        user.id,
        state,
        now=now,
        rank=LEVEL_RANK[level],
        level=level,
        name=user.display_name,
        capacities=channel_capacities(),
        default_queues=[f"{ch}.*" for ch in current_app.config["ENABLED_CHANNELS"]],
        queues=queues,
        reason=reason,
        acw_until=now + current_app.config["ACW_SECONDS"] if state == "acw" else None,
        seats=seats,
    )
    if (prev_state, prev_reason) != (state, reason):
        _record_state(user.id, state, reason, now)
        db.session.commit()
    snap = _publish_agent(user.id)
    if state == "available":
        do_dispatch()
        snap = agent_snapshot(user.id)
    return snap


# -- contacts ---------------------------------------------------------------------------------------------------


def _required_rank(contact: Contact) -> int:
    return LEVEL_RANK.get(contact.required_level or "", 0)


def do_enqueue_contact(contact: Contact) -> None:
    """Put a queued contact in its queue (priority 1 = VIP first, its required level, waiting since
    ``created_at``), count the offer, and dispatch. Raises when Redis cannot take it (the contact's opener
    then records it abandoned); a failed dispatch afterwards is only logged (the ticker dispatches again)."""
    get_acd().enqueue(
        contact.id,
        contact.queue,
        contact.channel,
        enqueued_at=contact.created_at,
        priority=contact.priority or 0,
        rank=_required_rank(contact),
        target_agent_id=contact.reserved_agent_id,
    )
    try:
        do_dispatch()
    except Exception:
        log.exception("dispatch after enqueueing contact %s failed", contact.id)


def do_remove_from_queue(contact: Contact) -> tuple[str, float] | None:
    """A waiting customer left: take the contact out of its queue and count the abandonment (with its wait)
    in the queue's figures. Returns (queue, seconds waited there); None, and nothing happens, if the contact
    is not waiting."""
    return get_acd().remove(contact.id, clock.timestamp(), current_app.config["SERVICE_LEVEL_SECONDS"])


def _resolve_agent(target) -> User:
    text = str(target or "").strip()
    if not text:
        raise ActionError("name the agent to transfer to")
    if text.isdigit():
        user = db.session.get(User, int(text))
    else:
        user = db.session.scalar(select(User).where(User.username == text))
    if user is None:
        raise ActionError(f"no agent {text!r}")
    if user.role not in AGENT_ROLES or not user.active:
        raise ActionError(f"{user.display_name} does not take contacts")
    return user


def resolve_transfer(contact: Contact, agent: User, target_kind: str, target) -> dict:
    """Check a transfer's target and say where the contact goes (writes nothing; ActionError when it is not a
    target). ``target_kind`` "queue": ``target`` is a queue id of the contact's channel; "level": "L5"/"L4"/"L3",
    only agents of at least that level (a transfer never lowers what the contact already requires); "agent": a
    user id or username, only that agent. Returns ``{"queue", "target_agent_id", "required_level"}``.
    """
    queue, required, target_agent = contact.queue, contact.required_level, None
    if target_kind == "queue":
        queue = validate_queue(target, channel=contact.channel)
    elif target_kind == "level":
        level = str(target or "").strip().upper()
        if level not in LEVEL_RANK:
            raise ActionError(f"level must be one of {', '.join(LEVEL_RANK)}, not {target!r}")
        if LEVEL_RANK[level] > LEVEL_RANK.get(required or "", 0):
            required = level
    elif target_kind == "agent":
        target_agent = _resolve_agent(target)
        if target_agent.id == agent.id:
            raise ActionError("you cannot transfer a contact to yourself")
        if LEVEL_RANK[agent_level(target_agent)] < LEVEL_RANK.get(required or "", 0):
            raise ActionError(
                f"{target_agent.display_name} is {agent_level(target_agent)}; this contact needs {required}"
            )
    else:
        raise ActionError("transfer target must be a queue, a level or an agent")
    return {"queue": queue, "target_agent_id": target_agent.id if target_agent else None, "required_level": required}


def requeue_for_transfer(contact_id: int, from_agent_id: int, resolved: dict) -> None:
    """After a transfer committed (the contact is ``queued`` again): free the sender's seat and put the contact at
    the front of its new queue (its customer has already waited), for the target agent only, or for anyone but
    the sender; then dispatch."""
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.status != "queued":
        return
    acd = get_acd()
    now = clock.timestamp()
    acd.release(from_agent_id, contact_id, now)
    target_agent_id = resolved.get("target_agent_id")
    acd.enqueue(
        contact_id,
        contact.queue,
        contact.channel,
        enqueued_at=now,
        order_ts=contact.created_at,
        rank=LEVEL_RANK.get(contact.required_level or "", 0),
        target_agent_id=target_agent_id,
        exclude_agent_id=None if target_agent_id else from_agent_id,
        transferred=True,
    )
    _publish_agent(from_agent_id)
    do_dispatch()


def move_seat(contact_id: int, from_agent_id: int | None, to_agent_id: int) -> None:
    """After a take-over committed: the seat goes from the trainee to the lead (a lead not yet on the ACD gets it
    when it registers), and both are republished."""
    acd = get_acd()
    if from_agent_id is not None:
        acd.release(from_agent_id, contact_id, clock.timestamp())
    acd.reseat(to_agent_id, _seats_from_db(to_agent_id))
    if from_agent_id is not None:
        _publish_agent(from_agent_id)
    if acd.agent_exists(to_agent_id):
        _publish_agent(to_agent_id)


def do_release_seat(agent: User, contact: Contact) -> dict:
    """The agent wrapped the contact up: its seat on that channel is freed (once; never below 0) and the agent
    goes to ACW until now + ACW_SECONDS (an agent who set itself away or offline stays so). Then dispatch.
    Returns the agent's snapshot."""
    acd = get_acd()
    now = clock.timestamp()
    acw_seconds = current_app.config["ACW_SECONDS"]
    _, prev, state = acd.release(agent.id, contact.id, now, acw_until=now + acw_seconds if acw_seconds > 0 else None)
    if state == "acw" and prev != "acw":
        _record_state(agent.id, "acw", None, now)
        db.session.commit()
    snap = _publish_agent(agent.id)
    do_dispatch()
    return snap


def do_dispatch() -> list[Assignment]:
    """Assign waiting contacts to free agents until nothing more matches.

    Each (contact, agent) pair comes out of the Lua script with the agent's seat already taken; it is then
    made active on the desk (``contacts.actions.do_assign_contact``) and the answer counted in the queue's
    figures (wait = now - enqueued_at). A contact whose customer left in the meantime gives the seat back.
    """
    acd = get_acd()
    sl = current_app.config["SERVICE_LEVEL_SECONDS"]
    done: list[Assignment] = []
    while True:
        batch = acd.dispatch(clock.timestamp(), max_assign=DISPATCH_BATCH)
        failed = False
        for a in batch:
            contact = db.session.get(Contact, a.contact_id, populate_existing=True)
            if contact is None or contact.status in ("abandoned", "closed"):
                acd.release(a.agent_id, a.contact_id, clock.timestamp())
                continue
            try:
                do_assign_contact(a.contact_id, a.agent_id)
            except Exception:
                log.exception("assigning contact %s to agent %s failed; it goes back", a.contact_id, a.agent_id)
                db.session.rollback()
                acd.release(a.agent_id, a.contact_id, clock.timestamp())
                _enqueue_waiting(db.session.get(Contact, a.contact_id), count_offer=False)
                failed = True
                continue
            acd.count_answer(a.queue, a.wait, sl)
            done.append(a)
        if failed or len(batch) < DISPATCH_BATCH:
            break
    for agent_id in dict.fromkeys(a.agent_id for a in done):
        _publish_agent(agent_id)
    return done


# -- the ticker and restarts ------------------------------------------------------------------------------------


def tick() -> list[int]:
    """Periodic work: agents whose ACW ran out become available (recorded and published), then dispatch.
    Returns the ids of those agents."""
    now = clock.timestamp()
    back = get_acd().expire_acw(now)
    for agent_id in back:
        _record_state(agent_id, "available", None, now)
    if back:
        db.session.commit()
        for agent_id in back:
            _publish_agent(agent_id)
    do_dispatch()
    return back


def _enqueue_waiting(contact: Contact | None, *, count_offer: bool) -> bool:
    """Put a queued contact back as the database describes it: a contact that has had an agent came back by
    transfer (front of its queue, with the target or the excluded sender from its last transfer event)."""
    if contact is None or contact.status != "queued":
        return False
    kw = {"priority": contact.priority or 0, "target_agent_id": contact.reserved_agent_id}
    enqueued_at = contact.created_at
    if contact.agent_id is not None:
        ev = db.session.scalar(
            select(ContactEvent)
            .where(ContactEvent.contact_id == contact.id, ContactEvent.type == "transfer")
            .order_by(ContactEvent.seq.desc())
            .limit(1)
        )
        data = ev.data if ev is not None else {}
        target = data.get("target_agent_id")
        enqueued_at = ev.ts if ev is not None else contact.created_at
        kw = {
            "transferred": True,
            "order_ts": contact.created_at,
            "target_agent_id": target,
            "exclude_agent_id": None if target else data.get("from_agent_id", contact.agent_id),
        }
    return get_acd().enqueue(
        contact.id,
        contact.queue,
        contact.channel,
        enqueued_at=enqueued_at,
        rank=_required_rank(contact),
        count_offer=count_offer,
        **kw,
    )


def rebuild_live_state() -> dict:
    """Rebuild the ACD's live state from the database (at start, or after Redis lost it): every ``queued``
    contact goes back into its queue in order, and every registered agent's seats are recounted from the
    contacts it holds. Queue figures and agent states stay as Redis has them. Returns what was rebuilt."""
    acd = get_acd()
    acd.clear_waiting()
    contacts = db.session.scalars(select(Contact).where(Contact.status == "queued").order_by(Contact.created_at))
    queued = sum(_enqueue_waiting(c, count_offer=False) for c in contacts)
    agents = acd.agent_ids()
    for agent_id in agents:
        acd.reseat(agent_id, _seats_from_db(agent_id))
    return {"queued": queued, "agents": len(agents)}


class AcdRouter:
    """The ACD's part in a contact's life, as contacts.lifecycle asks for it (``Router``)."""

    def enqueue(self, contact_id: int) -> None:
        do_enqueue_contact(db.session.get(Contact, contact_id))

    def remove(self, contact_id: int) -> tuple[str, float] | None:
        return get_acd().remove(contact_id, clock.timestamp(), current_app.config["SERVICE_LEVEL_SECONDS"])

    resolve_transfer = staticmethod(resolve_transfer)
    requeue_for_transfer = staticmethod(requeue_for_transfer)
    move_seat = staticmethod(move_seat)

    def release_seat(self, agent_id: int, contact_id: int) -> None:
        agent = db.session.get(User, agent_id)
        if agent is not None:
            do_release_seat(agent, db.session.get(Contact, contact_id))
