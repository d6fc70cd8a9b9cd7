"""Appending to a contact's recording, and publishing typed events.

``append_event`` is the only writer of ContactEvent. ``send_event`` is the only publisher: it emits to the
Socket.IO rooms the action chose, calls in-process listeners (the simulator, the floor figures), and publishes on
Redis for other processes: on the pub/sub channel ``<prefix>events`` and, for contact events, on the shared log
``<prefix>events:log`` (contacts/stream.py), which tells which listener kinds this process already dealt with.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flask import current_app, g, has_app_context
from socketio.manager import Manager as LocalManager
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from clock import clock
from concurrency import off_hub_thread, spawn_on_hub
from extensions import db, redis_store, socketio

from . import hot_sql, payload_json
from .event_connections import dropped, shelf_for
from .event_types import validate_event
from .models import Contact, ContactEvent, event_dict
from .redis_writer import redis_writer
from .transaction import in_action, on_commit

log = logging.getLogger(__name__)

# Event types a customer may see on their own contact; everything else (ticket changes, KB searches, notes)
# is internal to the centre.
CUSTOMER_VISIBLE = frozenset({"message", "typing", "assignment", "contact.ended", "csat.invited", "transfer"})

# Recorded for grading and leads, never sent to the live desk: the trainee must read the customer's mood from
# their words, not from the simulator's state; silent monitoring is silent (console/monitoring.py).
AGENT_HIDDEN = frozenset({"customer.state", "monitor.watch", "monitor.listen", "monitor.stop", "monitor.alert_ack"})

_listeners: list[tuple[Callable[[dict], object], str | None]] = []
_listeners_lock = threading.Lock()


def subscribe(listener: Callable[[dict], object], kind: str | None = None) -> None:
    """Register an in-process listener; it must return quickly (hand work to its own thread). A listener of a
    ``kind`` that also consumes the shared log (contacts/stream.py) returns True when it dealt with the event here
    (no other process of that kind needs it), False when it passed on it, None when the event is not for this app
    (tests build several apps in one process); the log entry carries the answer."""
    with _listeners_lock:
        if all(fn != listener for fn, _ in _listeners):
            _listeners.append((listener, kind))


def unsubscribe(listener: Callable[[dict], object]) -> None:
    with _listeners_lock:
        _listeners[:] = [(fn, k) for fn, k in _listeners if fn != listener]


# Built once: Core statements on the tables, not the ORM entities. On this hot path (every message) the ORM's
# bulk-DML layer and a fresh statement per call (whose cache key SQLAlchemy must compute each time) cost more
# than the database work. (The ORM Contact in the session keeps its old event_count until the commit expires it.)
_contacts, _events = Contact.__table__, ContactEvent.__table__
_NEXT_SEQ = (
    update(_contacts)
    .where(_contacts.c.id == bindparam("contact_id"))
    .values(event_count=_contacts.c.event_count + 1)
    .returning(_contacts.c.event_count)
)
_INSERT_EVENT = insert(_events).returning(_events.c.id)


def session_in_transaction() -> bool:
    """True when this context's ORM session holds a transaction; asks without creating a session (creating one
    just to ask was a tenth of a chat line's cost)."""
    return db.session.registry.has() and db.session().in_transaction()


def event_connection(shelved: bool = False):
    """The pooled connection that a fresh handler's chat line or typing change reads the contact head and writes
    its event on: one checkout per socket event instead of one per statement group (put back when the app context
    ends, see ``close_event_connection``). Use it only while the ORM session holds no transaction of its own. The
    head read begins the line's one transaction on it and the event's write commits it; a handler that refuses the
    line in between leaves it to the teardown, which rolls it back. ``shelved``: the caller's first statement is
    the head read, which may take a connection an earlier event left on the shelf (contacts/event_connections.py)
    and retries on a fresh one if the database dropped it meanwhile; other callers check one out of the pool."""
    conn = g.get("_kefu_event_conn")
    if conn is None or conn.closed:
        engine = db.engine
        conn = shelf_for(engine).take() if shelved else None
        if conn is None:
            conn = engine.connect()
        else:
            g._kefu_event_conn_reused = True
        g._kefu_event_conn = conn
    return conn


def read_row(statement, params: dict):
    """The first row of a read (a contact's head on the message path): on the session's connection when the
    session holds a transaction (the caller may have changes of its own to read), otherwise on the handler's
    event connection, in the transaction that the event's write then commits (one transaction for the line: on
    PostgreSQL one round trip less than ending the read first). Beginning the ORM session for this read made the
    event's write commit the whole session (the slow path of append_event)."""
    if session_in_transaction():
        return db.session.connection().execute(statement, params).first()
    conn = event_connection(shelved=True)
    reused = g.pop("_kefu_event_conn_reused", False)
    if not conn.in_transaction():
        conn.begin()
    try:
        return hot_sql.read_first(conn, statement, params)
    except DBAPIError as e:
        if not (reused and dropped(conn, e)):
            raise
    # The shelved connection was dropped by the database (a restart) while it waited: nothing was done on it, so
    # the read runs again on a connection from the pool, which pings it first (as the checkout always did).
    log.warning("a shelved event connection was dropped by the database; reading on a fresh one")
    with contextlib.suppress(Exception):
        conn.invalidate()
        conn.close()
    g._kefu_event_conn = conn = db.engine.connect()
    conn.begin()
    return hot_sql.read_first(conn, statement, params)


def close_event_connection(_exc=None) -> None:
    """Put the handler's event connection on its engine's shelf for the next event, its transaction ended, or
    back in the pool (teardown of the app context; contacts/event_connections.py)."""
    g.pop("_kefu_event_conn_reused", None)
    conn = g.pop("_kefu_event_conn", None)
    if conn is not None:
        shelf_for(conn.engine).put(conn)


def append_event(
    contact: Contact | int,
    type: str,
    actor: str,
    *,
    actor_id: int | None = None,
    text: str | None = None,
    data: dict | None = None,
    client_id: str | None = None,
    commit: bool = True,
) -> tuple[ContactEvent | RecordedEvent, bool]:
    """Append one event to a contact's log with the next sequence number and a server timestamp.

    Returns ``(event, created)``. When ``client_id`` repeats one already recorded for this contact (a client
    resending after a dropped socket), the existing event is returned with ``created=False`` and nothing is
    written twice: the unique (contact, client_id) index decides, so the common case costs no extra lookup.
    The event must match its type's schema (contacts/event_types.py), or EventSchemaError is raised and nothing
    is written. With ``commit=True`` the event is durable when this returns. Inside an action
    (``transaction.atomic``) the event is written with the action and committed with it, whatever ``commit`` says.
    """
    contact_id = contact if isinstance(contact, int) else contact.id
    fields = {"type": type, "actor": actor, "actor_id": actor_id, "client_id": client_id, "text": text}
    fields["data"] = data or {}
    validate_event(type, actor, text, fields["data"])  # EventSchemaError: nothing is written
    if in_action():
        # Part of an action (contacts/transaction.py): written on the session's connection, committed with the
        # rest of the action. A resend is found by a lookup (an IntegrityError would undo the whole action).
        if client_id:
            existing = db.session.scalar(
                select(ContactEvent).where(ContactEvent.contact_id == contact_id, ContactEvent.client_id == client_id)
            )
            if existing is not None:
                return existing, False
        values, event_id = _insert(db.session.connection(), contact_id, fields)
        return RecordedEvent(id=event_id, **values), True
    try:
        if commit and not session_in_transaction():
            # Nothing of the caller's is pending (a chat line or a typing change in a fresh handler): a connection
            # of its own, begun and committed here, costs much less than beginning and committing the session.
            conn = event_connection()
            with conn.get_transaction() or conn.begin():  # the one the head read began, if it did
                values, event_id = _insert_hot(conn, contact_id, fields)
            return RecordedEvent(id=event_id, **values), True
        values, event_id = _insert(db.session.connection(), contact_id, fields, returning=commit)
        if not commit:
            event = ContactEvent(**values)
            db.session.add(event)
            return event, True
        db.session.commit()  # with whatever the caller changed in the session
    except IntegrityError:
        db.session.rollback()  # also undoes the sequence increment
        if client_id:  # a resend (or a race with the same retry): return what was recorded first
            existing = db.session.scalar(
                select(ContactEvent).where(ContactEvent.contact_id == contact_id, ContactEvent.client_id == client_id)
            )
            if existing is not None:
                return existing, False
        raise
    return RecordedEvent(id=event_id, **values), True


def _insert(conn, contact_id: int, fields: dict, *, returning: bool = True) -> tuple[dict, int | None]:
    """Take the contact's next sequence number and (``returning``) insert the event on ``conn``."""
    # Atomic per-contact sequence on SQLite and PostgreSQL alike: the row update serialises writers.
    seq = conn.execute(_NEXT_SEQ, {"contact_id": contact_id}).scalar_one()
    values = {"contact_id": contact_id, "seq": seq, "ts": clock.timestamp(), **fields}
    if not returning:
        return values, None
    return values, conn.execute(_INSERT_EVENT, values).scalar_one()


def _insert_hot(conn, contact_id: int, fields: dict) -> tuple[dict, int]:
    """As ``_insert``, the same statements run on the DB-API cursor of ``conn`` (contacts/hot_sql.py: a chat line's
    fast path, ~4x cheaper than SQLAlchemy's Core execution); ``conn`` is in a transaction the caller began."""
    seq = hot_sql.write_first(conn, _NEXT_SEQ, {"contact_id": contact_id})[0]
    values = {"contact_id": contact_id, "seq": seq, "ts": clock.timestamp(), **fields}
    return values, hot_sql.write_first(conn, _INSERT_EVENT, values, _events)[0]


@dataclass(frozen=True)
class RecordedEvent:
    """A ContactEvent just written: the same fields and ``as_dict`` as the row, without reading it back."""

    id: int
    contact_id: int
    seq: int
    type: str
    actor: str
    actor_id: int | None
    ts: float
    client_id: str | None
    text: str | None
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return event_dict(self)


def customer_view(ev: dict) -> dict:
    """What the customer sees of an event: no staff ids, no internal notes."""
    data = ev.get("data") or {}
    keep = {"typing": ("typing",), "assignment": ("agent_name",), "contact.ended": ("reason",), "transfer": ()}
    return {
        "contact_id": ev["contact_id"],
        "seq": ev["seq"],
        "type": ev["type"],
        "actor": ev["actor"],
        "ts": ev["ts"],
        "client_id": ev["client_id"] if ev["actor"] == "customer" else None,
        "text": ev["text"] if ev["type"] == "message" else None,
        "data": {k: data[k] for k in keep.get(ev["type"], ()) if k in data},
    }


def contact_room(contact_id: int) -> str:
    return f"contact:{contact_id}"


def _nobody_in(namespace: str, room: str, skip_sid: str | None = None) -> bool:
    """True when this process alone serves Socket.IO (no message queue) and nobody (but ``skip_sid``) is in
    ``room``: emitting would encode a packet for no one. (Every chat line goes to its contact's /floor room, empty
    unless a lead watches; the customer's room holds only the customer, who wrote the line.) With a message
    queue, members may sit in other processes, so every emit goes out."""
    server = socketio.server
    if server is None or type(server.manager) is not LocalManager:
        return False
    members = server.manager.rooms.get(namespace, {}).get(room)
    return not members or (skip_sid is not None and len(members) == 1 and skip_sid in members)


def send_event(event: dict, rooms: Iterable[tuple[str, str]] = (), skip_sid: str | None = None) -> None:
    """Publish a typed event (``event["type"]`` is required) to Socket.IO ``(namespace, room)`` pairs (all but
    the ``skip_sid`` socket), to Redis channel ``<prefix>events``, and to in-process listeners. Never raises into
    the caller's action: the event is already committed, so a failed publish is logged, not lost."""
    assert "type" in event, "events are typed"
    if in_action():  # published once the action has committed; a rollback publishes nothing
        on_commit(send_event, event, list(rooms), skip_sid)
        return
    if off_hub_thread():
        _on_hub(send_event, event, list(rooms), skip_sid)
        return
    for namespace, room in rooms:
        if _nobody_in(namespace, room, skip_sid):
            continue
        try:
            socketio.emit("event", event, to=room, namespace=namespace, skip_sid=skip_sid)
        except Exception:  # a dead socket must not undo a committed action
            log.exception("emit failed for %s %s", namespace, room)
    with _listeners_lock:
        listeners = list(_listeners)
    runs, handled = [], []
    for listener, kind in listeners:
        try:
            answer = listener(event)
        except Exception:
            log.exception("listener %r failed", listener)
            answer = False  # another process of its kind may still handle it from the log
        if kind is not None and answer is not None:
            runs.append(kind)
            if answer:
                handled.append(kind)
    try:
        if redis_store.client is not None:
            # pipelined and in order from a background worker (contacts/redis_writer.py); pub/sub delivers to
            # whoever listens at that moment, so publishing a few ms after the emit changes nothing for a subscriber
            encoded = payload_json.dumps(event)
            commands = [("publish", (redis_store.key("events"), encoded))]
            if event["type"] == "contact_event" and has_app_context():
                from .stream import get_event_log

                commands.extend(get_event_log(current_app).append_commands(event, runs, handled, encoded))
            redis_writer.submit(redis_store.client, commands)
    except Exception:
        log.exception("redis publish failed")


def publish_contact_event(
    ev: ContactEvent | RecordedEvent, extra_rooms: Iterable[tuple[str, str]] = (), *, skip_sid: str | None = None
) -> dict:
    """Publish a recorded ContactEvent: to the desk and floor rooms of its contact, and to the customer's
    room when the customer may see it. ``skip_sid``: the socket that caused the event and gets it in its ack
    instead (a chat line, a typing change), so it is not sent the same event twice."""
    event = ev.as_dict()  # from the values kept at append time: no reload after the commit
    payload = {"type": "contact_event", "event": event}
    room = contact_room(event["contact_id"])
    rooms = [("/floor", room)] if event["type"] in AGENT_HIDDEN else [("/desk", room), ("/floor", room)]
    rooms.extend(extra_rooms)
    if in_action():  # once the action has committed; a rollback publishes nothing
        on_commit(_deliver, payload, rooms, skip_sid)
    else:
        _deliver(payload, rooms, skip_sid)
    return payload


def _deliver(payload: dict, rooms: list[tuple[str, str]], skip_sid: str | None) -> None:
    if off_hub_thread():
        _on_hub(_deliver_contact_event, payload, rooms, skip_sid)
    else:
        _deliver_contact_event(payload, rooms, skip_sid)


def _deliver_contact_event(payload: dict, rooms: list[tuple[str, str]], skip_sid: str | None = None) -> None:
    send_event(payload, rooms, skip_sid)
    event = payload["event"]
    if event["type"] in CUSTOMER_VISIBLE and not _nobody_in("/customer", contact_room(event["contact_id"]), skip_sid):
        try:
            socketio.emit(
                "event",
                {"type": "contact_event", "event": customer_view(event)},
                to=contact_room(event["contact_id"]),
                namespace="/customer",
                skip_sid=skip_sid,
            )
        except Exception:
            log.exception("emit to customer failed")


def _on_hub(fn, *args) -> None:
    """Under gevent, the Socket.IO sockets (and the Redis publisher) belong to the hub thread: an event recorded
    on a native thread (the media loop's workers) is delivered from a greenlet there, in the app's context."""
    app = current_app._get_current_object() if has_app_context() else None

    def deliver() -> None:
        if app is None:
            fn(*args)
            return
        with app.app_context():
            fn(*args)

    spawn_on_hub(deliver)
