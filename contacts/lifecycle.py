"""A contact's life, owned here for every channel: open, assign, transfer, take over, end, abandon, wrap up, close,
set its customer. No other package sets a Contact's fields or records its lifecycle events; they call these.

Every action is one transaction (contacts/transaction.py): it validates, takes the contact's row (``_lock``: SELECT
... FOR UPDATE on PostgreSQL), moves the status with a conditional UPDATE (``... WHERE status IN (...)``, which
also serialises writers on SQLite), records its events, commits once and publishes after the commit. Two sockets
ending and wrapping up the same contact at once therefore record each transition once.

What the ACD or the surveys must do around a transition is theirs: routing and tickets register it in their
``init_app`` (``register_router``, ``on_ended``), so this package imports neither.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from accounts.models import User
from clock import clock
from extensions import db

from .errors import ActionError
from .events import append_event, publish_contact_event, send_event
from .models import Contact, ContactEvent
from .transaction import atomic, in_action, on_commit

_contacts = Contact.__table__


# -- what other packages plug in ----------------------------------------------------------------------------------


class Router(Protocol):
    """The ACD's part in a contact's life (routing registers one in its init_app)."""

    def enqueue(self, contact_id: int) -> None:
        """Offer a queued, committed contact to agents (Redis), and dispatch."""

    def remove(self, contact_id: int) -> tuple[str, float] | None:
        """Take a waiting contact out of its queue; (queue, seconds waited) or None when it was not waiting."""

    def resolve_transfer(self, contact: Contact, agent: User, target_kind: str, target) -> dict:
        """Check a transfer target (ActionError when it is not one): {"queue", "target_agent_id",
        "required_level"}. Writes nothing."""

    def requeue_for_transfer(self, contact_id: int, from_agent_id: int, resolved: dict) -> None:
        """After the transfer committed: free the sender's seat, queue the contact for the target, dispatch."""

    def move_seat(self, contact_id: int, from_agent_id: int, to_agent_id: int) -> None:
        """After a take-over committed: the seat moves from one agent to the other."""

    def release_seat(self, agent_id: int, contact_id: int) -> None:
        """After a wrap-up committed: free the agent's seat; after-call work starts; dispatch."""


_router: Router | None = None
_on_ended: list[Callable[[Contact], None]] = []


def register_router(router: Router) -> None:
    """routing's init_app: the one ACD this process routes with."""
    global _router
    _router = router


def on_ended(hook: Callable[[Contact], None]) -> None:
    """Call ``hook(contact)`` inside the ending action's transaction, after ``contact.ended`` (tickets invites
    to the CSAT survey there, so the end and the invitation are recorded together or not at all)."""
    if hook not in _on_ended:
        _on_ended.append(hook)


def router() -> Router:
    if _router is None:
        raise RuntimeError("no router registered (routing.init_app registers it)")
    return _router


# -- shared steps -------------------------------------------------------------------------------------------------


def floor_summary(contact: Contact) -> None:
    """Tell the floor (leads' console, queue figures) that a contact changed state. The one place the floor's
    ``contact_state`` is built; console/pushes.py relays it to the floor rooms allowed to see it."""
    send_event({"type": "contact_state", "contact": contact.summary()})


def _lock(contact: Contact) -> Contact:
    """Re-read the contact's row, locked until the action commits, so the checks that follow see the latest
    status and a concurrent transition waits. PostgreSQL: SELECT ... FOR UPDATE. SQLite has no row locks: a
    no-op UPDATE of the row takes the database's write lock first (a second writer waits for the commit, then
    reads what it committed); ``_move``'s conditional UPDATE is the guard on both."""
    session = db.session
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(_contacts).where(_contacts.c.id == contact.id).values(status=_contacts.c.status))
    session.execute(
        select(Contact).where(Contact.id == contact.id).with_for_update().execution_options(populate_existing=True)
    )
    return contact


def _move(contact: Contact, from_statuses: tuple[str, ...], **values) -> bool:
    """Set ``values`` on the contact only if its status is still one of ``from_statuses``: one conditional
    UPDATE, so of two racing transitions exactly one moves the contact. False when it had moved already."""
    res = db.session.execute(
        update(_contacts).where(_contacts.c.id == contact.id, _contacts.c.status.in_(from_statuses)).values(**values)
    )
    if res.rowcount != 1:
        return False
    for name, value in values.items():
        set_committed_value(contact, name, value)
    return True


def lock_contact(contact: Contact) -> Contact:
    """Inside an action: hold the contact's row until the commit (PostgreSQL) and re-read it, so a channel's own
    check-then-record (a call hung up twice at once) is serialised like the lifecycle's transitions. On SQLite
    the action's first write takes the database's write lock."""
    return _lock(contact)


def _moved_meanwhile(contact: Contact) -> ActionError:
    db.session.refresh(contact)
    return ActionError(f"contact {contact.id} is {contact.status} now; it changed meanwhile")


def _report_to_senders(contact: Contact, result: dict) -> None:
    """Tell every agent who transferred this contact what became of it (taken by whom, closed how)."""
    senders = {
        e.data.get("from_agent_id")
        for e in db.session.scalars(
            select(ContactEvent).where(ContactEvent.contact_id == contact.id, ContactEvent.type == "transfer")
        )
    }
    senders.discard(None)
    senders.discard(contact.agent_id)
    payload = {"type": "transfer_result", "contact_id": contact.id, "customer_name": contact.customer_name, **result}
    send_event(payload, [("/desk", f"agent:{sid}") for sid in sorted(senders)])


# -- open -----------------------------------------------------------------------------------------------------------


def do_open_contact(
    channel: str,
    queue: str,
    *,
    lang: str = "zh_CN",
    customer_id: int | None = None,
    customer_name: str | None = None,
    subject: str | None = None,
    priority: int = 0,
    required_level: str | None = None,
    scenario_id: str | None = None,
    exercise_id: int | None = None,
    simulated: bool = False,
    reserved_agent_id: int | None = None,
    agent: User | None = None,
    created_data: dict | None = None,
    token_bytes: int = 24,
) -> Contact:
    """Open a contact and record ``contact.created``. Without ``agent`` it is queued (or reserved, with
    ``reserved_agent_id``) and offered by the ACD once committed; with ``agent`` (a group room, a livestream) it
    is assigned to that agent at once (``assignment`` recorded too) and never queued. ``created_data``: what
    the channel adds to ``contact.created`` (a group room's scenario, a livestream's settings stay in their own
    events).

    The contact gets a fresh ``customer_token``: the customer side (a person's browser or the simulator) proves
    with it that it is this contact's customer. If the ACD cannot take a queued contact, the contact is recorded
    as abandoned (``routing_unavailable``) and ActionError raised: no queued contact is left behind to be
    offered after a restart.
    """
    if not isinstance(channel, str) or not channel or len(channel) > 16:
        raise ActionError("a contact needs a channel")
    if not isinstance(queue, str) or not queue or len(queue) > 64:
        raise ActionError("a contact needs a queue")
    now = clock.timestamp()
    with atomic():
        contact = Contact(
            channel=channel,
            queue=queue,
            lang=lang,
            customer_id=customer_id,
            customer_name=customer_name,
            subject=subject,
            priority=priority,
            required_level=required_level,
            scenario_id=scenario_id,
            exercise_id=exercise_id,
            simulated=simulated,
            reserved_agent_id=reserved_agent_id,
            customer_token=secrets.token_urlsafe(token_bytes),
            status="queued" if agent is None else "active",
            agent_id=None if agent is None else agent.id,
            created_at=now,
            assigned_at=None if agent is None else now,
        )
        db.session.add(contact)
        db.session.flush()
        contact_id = contact.id
        data = {
            "channel": channel,
            "queue": queue,
            "priority": priority,
            "required_level": required_level,
            "scenario_id": scenario_id,
            "simulated": simulated,
            "reserved_agent_id": reserved_agent_id,
            **(created_data or {}),
        }
        ev, _ = append_event(contact, "contact.created", "system", data=data)
        publish_contact_event(ev)
        if agent is not None:
            _record_assignment(contact, agent, wait=0.0, transferred=False)
        floor_summary(contact)
    if agent is None:
        if in_action():  # opened inside a larger action: offered once that commits
            on_commit(_enqueue_or_abandon, contact_id)
            return contact  # the outer action's session holds it until that commits
        _enqueue_or_abandon(contact_id)
    # The commit expired the instance, and what ran after it (publishing to in-process listeners, the dispatch and
    # its assignment actions) may have ended the session it belonged to: a caller reading ``contact.id`` from the
    # old instance then got DetachedInstanceError (seen once in /customer ``start`` under overload). The contact is
    # handed back as the caller's current session has it (the same instance when that session is still the one).
    return db.session.get(Contact, contact_id)


def _enqueue_or_abandon(contact_id: int) -> None:
    """Offer a committed queued contact to the ACD; if it cannot take it, record the contact abandoned
    (``routing_unavailable``) and raise ActionError, so no queued contact is left for a restart to offer. Takes
    the id, not the instance: it runs after the commit, when the instance may no longer have a session."""
    try:
        router().enqueue(contact_id)
    except Exception as e:
        contact = db.session.get(Contact, contact_id)
        if contact is not None:
            do_abandon_contact(contact, reason="routing_unavailable", actor="system")
        raise ActionError("routing is unavailable; the contact could not be queued, try again") from e


# -- assign, transfer, take over -----------------------------------------------------------------------------------


def _record_assignment(contact: Contact, agent: User, *, wait: float, transferred: bool) -> None:
    ev, _ = append_event(
        contact,
        "assignment",
        "system",
        data={
            "agent_id": agent.id,
            "agent_name": agent.display_name,
            "wait_seconds": round(wait, 3),
            "after_transfer": transferred,
        },
    )
    publish_contact_event(ev, extra_rooms=[("/desk", f"agent:{agent.id}")])


def do_assign_contact(contact_id: int, agent_id: int) -> Contact:
    """The ACD chose ``agent_id`` for this queued contact: make it active on the agent's desk. ActionError when
    the contact is no longer queued (the customer left meanwhile)."""
    with atomic():
        contact = db.session.get(Contact, contact_id)
        agent = db.session.get(User, agent_id)
        if contact is None or agent is None:
            raise ActionError(f"no contact {contact_id} or agent {agent_id}")
        _lock(contact)
        now = clock.timestamp()
        transferred = contact.agent_id is not None and contact.agent_id != agent_id
        values = {"agent_id": agent_id, "status": "active"}
        if contact.assigned_at is None:
            values["assigned_at"] = now
        if not _move(contact, ("queued",), **values):
            raise _moved_meanwhile(contact)
        _record_assignment(contact, agent, wait=now - contact.created_at, transferred=transferred)
        floor_summary(contact)
        if transferred:
            _report_to_senders(contact, {"status": "taken", "agent_name": agent.display_name})
    return contact


def do_transfer_contact(contact: Contact, agent: User, *, target_kind: str, target: str, note: str) -> Contact:
    """Transfer an active contact to a queue, a level or a named agent, with a note for the receiver.

    The contact goes back to routing with the target as a constraint; the receiver sees the note, and the
    sender is told who took it (the ``assignment`` event carries ``after_transfer``).
    """
    if target_kind not in ("queue", "level", "agent"):
        raise ActionError("transfer target must be a queue, a level or an agent")
    note = (note or "").strip()
    if not note:
        raise ActionError("a transfer needs a note for the receiver")
    if len(note) > 1000:
        raise ActionError("transfer note is over 1000 characters")
    with atomic():
        _lock(contact)
        if contact.agent_id != agent.id:
            raise ActionError("only the agent holding a contact can transfer it")
        if contact.status != "active":
            raise ActionError(f"contact {contact.id} is {contact.status}; only active contacts can be transferred")
        resolved = router().resolve_transfer(contact, agent, target_kind, target)
        if not _move(
            contact,
            ("active",),
            status="queued",
            queue=resolved["queue"],
            required_level=resolved["required_level"],
        ):
            raise _moved_meanwhile(contact)
        ev, _ = append_event(
            contact,
            "transfer",
            "agent",
            actor_id=agent.id,
            text=note,
            data={"from_agent_id": agent.id, "target_kind": target_kind, "target": target, **resolved},
        )
        publish_contact_event(ev, extra_rooms=[("/desk", f"agent:{agent.id}")])
        floor_summary(contact)
        on_commit(router().requeue_for_transfer, contact.id, agent.id, dict(resolved))
    return contact


def do_take_over_contact(contact: Contact, lead: User, *, record: Callable[[Contact], dict]) -> dict:
    """A lead takes an active contact over and becomes its agent; the seat moves after the commit. ``record``
    records the console's own event (``monitor.takeover``) in the same transaction and returns it."""
    with atomic():
        _lock(contact)
        if contact.status != "active":
            raise ActionError(f"contact {contact.id} is {contact.status}; only an active contact can be taken over")
        from_agent_id = contact.agent_id
        if not _move(contact, ("active",), agent_id=lead.id):
            raise _moved_meanwhile(contact)
        event = record(contact)
        floor_summary(contact)
        on_commit(router().move_seat, contact.id, from_agent_id, lead.id)
    return event


# -- end, abandon, wrap up, close -------------------------------------------------------------------------------


def do_end_contact(contact: Contact, actor: str, *, actor_id: int | None = None, reason: str = "ended") -> Contact:
    """The conversation is over (agent ended it, customer left satisfied or gave up). The agent goes on to
    wrap-up; the customer is invited to a CSAT survey (``on_ended`` hooks). A queued contact is abandoned
    instead; an ended, closed or abandoned one is left as it is (ending twice records nothing)."""
    with atomic():
        _lock(contact)
        if contact.status == "queued":
            return do_abandon_contact(contact, reason=reason)
        if contact.status != "active":
            return contact
        if not _move(contact, ("active",), status="wrap_up", ended_at=clock.timestamp()):
            return contact  # another socket ended it first
        _record_end(contact, actor, actor_id, reason)
    return contact


def _record_end(contact: Contact, actor: str, actor_id: int | None, reason: str, **extra) -> None:
    ev, _ = append_event(contact, "contact.ended", actor, actor_id=actor_id, data={"reason": reason, **extra})
    publish_contact_event(ev)
    for hook in list(_on_ended):
        hook(contact)
    floor_summary(contact)


def do_abandon_contact(contact: Contact, *, reason: str = "abandoned", actor: str = "customer") -> Contact:
    """A waiting customer left before an agent answered (counts against the queue's abandon rate).
    ``contact.abandoned`` records the reason and, when the contact was still in a queue, which queue and how
    long the customer waited there (``queue``, ``wait_seconds``)."""
    with atomic():
        _lock(contact)
        if contact.status != "queued":
            return contact
        now = clock.timestamp()
        if not _move(contact, ("queued",), status="abandoned", ended_at=now, closed_at=now):
            return contact
        try:
            removed = router().remove(contact.id)
        except Exception:  # Redis down: the rebuild at start never queues an abandoned contact again
            removed = None
        data = {"reason": reason}
        if removed is not None:
            data.update(queue=removed[0], wait_seconds=round(removed[1], 3))
        ev, _ = append_event(contact, "contact.abandoned", actor, data=data)
        publish_contact_event(ev)
        floor_summary(contact)
    return contact


def check_wrap_up(contact: Contact, code, notes, *, extra_codes: tuple[str, ...] = ()) -> tuple[str, str]:
    """The cleaned (code, notes) of a wrap-up, or ActionError: the code must be one of the content pack's
    ``wrap_up_codes`` for the contact's language (or ``extra_codes``, a channel's own)."""
    code = code.strip() if isinstance(code, str) else ""
    if not code:
        raise ActionError("choose a wrap-up code")
    if code not in extra_codes:
        known = wrap_up_codes(contact.lang)
        if known is not None and code not in known:
            raise ActionError(f"{code[:40]!r} is not a wrap-up code; choose one of the list")
        if known is None and len(code) > 40:
            raise ActionError("choose a wrap-up code")
    if notes is not None and not isinstance(notes, str):
        raise ActionError("wrap-up notes must be text")
    notes = notes or ""
    if len(notes) > 2000:
        raise ActionError("wrap-up notes are over 2000 characters")
    return code, notes


_code_lists: list[Callable[[str], list[str] | None]] = []


def register_wrap_up_codes(source: Callable[[str], list[str] | None]) -> None:
    """scenarios' init_app: where the wrap-up codes of a language come from (the loaded content pack)."""
    if source not in _code_lists:
        _code_lists.append(source)


def wrap_up_codes(lang: str) -> set[str] | None:
    """The wrap-up codes of the loaded content pack for ``lang``; None when no pack is loaded for it (a sandbox
    without content has no list to check against, and takes any code of up to 40 characters)."""
    for source in _code_lists:
        codes = source(lang)
        if codes is not None:
            return set(codes)
    return None


def do_wrap_up_contact(contact: Contact, agent: User, code: str, notes: str = "") -> Contact:
    """Close a contact with a wrap-up code from the pack's list; an active contact is ended first, in the same
    transaction. The agent's seat is freed and after-call work (ACW) starts once it is committed. A bad code
    records nothing and leaves the contact as it was."""
    code, notes = check_wrap_up(contact, code, notes)
    with atomic():
        _lock(contact)
        if contact.agent_id != agent.id:
            raise ActionError("only the agent holding a contact can wrap it up")
        if contact.status not in ("active", "wrap_up"):
            raise ActionError(f"contact {contact.id} is {contact.status}; only an ended contact can be wrapped up")
        now = clock.timestamp()
        if contact.status == "active":
            if _move(contact, ("active",), status="wrap_up", ended_at=now):
                _record_end(contact, "agent", agent.id, "agent_closed")
            else:  # ended meanwhile (the agent's other socket): wrap that end up
                db.session.refresh(contact)
        if not _move(contact, ("wrap_up",), status="closed", wrap_up_code=code, closed_at=now):
            raise _moved_meanwhile(contact)
        ev, _ = append_event(contact, "wrap_up", "agent", actor_id=agent.id, text=notes or None, data={"code": code})
        publish_contact_event(ev)
        floor_summary(contact)
        _report_to_senders(contact, {"status": "closed", "agent_name": agent.display_name, "code": code})
        on_commit(router().release_seat, agent.id, contact.id)
    return contact


def do_close_contact(
    contact: Contact,
    actor: str,
    *,
    actor_id: int | None = None,
    reason: str,
    code: str | None = None,
    notes: str = "",
    end_data: dict | None = None,
    extra_rooms: tuple[tuple[str, str], ...] = (),
    record: Callable[..., object] | None = None,
) -> Contact:
    """Close a contact that holds no ACD seat (a group room, a livestream) in one step: ``contact.ended`` (with
    ``end_data``) and, with ``code``, ``wrap_up``; both also go to ``extra_rooms`` (a livestream's viewers).
    ``record(contact, type, actor, actor_id=, text=, data=)``: the channel's own way to append and publish these
    two events (a group room folds them into its live view), inside this transaction. ActionError when the
    contact is already closed."""
    if record is None:

        def record(c, type, actor, *, actor_id=None, text=None, data=None):
            ev, _ = append_event(c, type, actor, actor_id=actor_id, text=text, data=data)
            publish_contact_event(ev, extra_rooms=extra_rooms)

    with atomic():
        _lock(contact)
        if contact.status in ("closed", "abandoned"):
            raise ActionError(f"contact {contact.id} is already {contact.status}")
        was = contact.status
        now = clock.timestamp()
        values = {"status": "closed", "closed_at": now, "ended_at": contact.ended_at or now}
        if code is not None:
            values["wrap_up_code"] = code
        if not _move(contact, (was,), **values):
            raise _moved_meanwhile(contact)
        if was != "wrap_up":
            record(contact, "contact.ended", actor, actor_id=actor_id, data={"reason": reason, **(end_data or {})})
        if code is not None:
            record(contact, "wrap_up", actor, actor_id=actor_id, text=notes or None, data={"code": code})
        floor_summary(contact)
    return contact


# -- customer ---------------------------------------------------------------------------------------------------


def set_contact_customer(contact: Contact, customer_id: int) -> None:
    """Link the contact to a CRM customer, inside the caller's action (tickets' CRM verification)."""
    with atomic():
        if contact.customer_id != customer_id:
            db.session.execute(update(_contacts).where(_contacts.c.id == contact.id).values(customer_id=customer_id))
            set_committed_value(contact, "customer_id", customer_id)


def set_contact_csat(contact: Contact, score: int) -> None:
    """Keep the customer's CSAT answer on the contact, inside the caller's action (tickets' survey)."""
    with atomic():
        db.session.execute(update(_contacts).where(_contacts.c.id == contact.id).values(csat=score))
        set_committed_value(contact, "csat", score)
