"""A chat line's event connection is kept on a shelf between socket events (contacts/event_connections.py): reused
without a pool checkout, shelved only with its transaction ended, bounded, given back to the pool when idle or when
the engine is disposed, and replaced without losing the line when the database dropped it while it waited."""

from __future__ import annotations

from sqlalchemy import select, text

from contacts.actions import do_create_contact, do_post_message, get_contact_head
from contacts.event_connections import Shelf, shelf_for
from contacts.events import event_connection
from contacts.models import ContactEvent
from extensions import db


def _contact(app) -> int:
    with app.app_context():
        return do_create_contact("chat", "chat.general", customer_name="货架客户").id


def _line(app, cid: int, text: str, client_id: str):
    """What a fresh socket handler does for a customer's line: the head read, then the event (one app context).
    Returns the event connection it ran on."""
    with app.app_context():
        db.session.remove()
        head = get_contact_head(cid)
        _, created = do_post_message(head, "customer", text, client_id=client_id)
        assert created
        return event_connection()


def _texts(app, cid: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(ContactEvent.text)
                .where(ContactEvent.contact_id == cid, ContactEvent.type == "message")
                .order_by(ContactEvent.seq)
            )
        )


def test_lines_reuse_one_shelved_connection_without_pool_checkouts(app):
    """Ten lines one after the other run on one Connection (each took the one the previous line shelved, its
    transaction committed; a Connection once closed is never opened again); every line is recorded in order."""
    cid = _contact(app)
    with app.app_context():
        engine = db.engine
    conns = [_line(app, cid, f"第{i}句", f"shelf-{i}") for i in range(10)]
    assert all(c is conns[0] for c in conns)
    assert _texts(app, cid) == [f"第{i}句" for i in range(10)]
    shelf = shelf_for(engine)
    assert len(shelf) == 1
    conn = shelf.take()
    assert conn is not None and not conn.in_transaction()


def test_a_refused_line_is_rolled_back_before_its_connection_is_shelved(app):
    """A head read begins a transaction; the handler refuses the line and records nothing; the teardown rolls the
    transaction back before shelving, so the next event's connection starts clean and a write of its own commits."""
    cid = _contact(app)
    with app.app_context():
        db.session.remove()
        get_contact_head(cid)
        conn = event_connection()
        assert conn.in_transaction()
    assert not conn.in_transaction() and not conn.closed
    with app.app_context():
        db.session.remove()
        head = get_contact_head(cid)
        assert event_connection() is conn  # taken from the shelf
        do_post_message(head, "customer", "干净的事务", client_id="clean-1")
        assert not conn.in_transaction()
    assert _texts(app, cid) == ["干净的事务"]


def test_the_shelf_is_bounded_and_gives_idle_connections_back(app):
    """At most ``keep`` connections wait; one older than ``max_idle`` goes back to the pool at the next touch; a
    disposed engine's shelf is emptied."""
    with app.app_context():
        engine = db.engine
        pool = engine.pool
        base = pool.checkedout()
        shelf = Shelf(keep=2, max_idle=60.0)
        conns = [engine.connect() for _ in range(3)]
        for c in conns:
            shelf.put(c)
        assert len(shelf) == 2 and conns[0].closed  # the oldest went back to the pool
        assert pool.checkedout() == base + 2
        assert shelf.take() is conns[2]  # the most recently used first
        shelf.put(conns[2])
        shelf.max_idle = 0.0
        assert shelf.take() is None  # both waited too long: given back, none handed out
        assert pool.checkedout() == base and all(c.closed for c in conns)
        real = shelf_for(engine)
        c = engine.connect()
        real.put(c)
        assert len(real) == 1
        engine.dispose()
        assert len(real) == 0 and c.closed


def test_a_shelved_connection_dropped_by_the_database_costs_no_line(app):
    """The database drops the shelved connection (closed under it: SQLite says "Cannot operate on a closed database",
    PostgreSQL a terminated backend): the next line's head read fails on it, runs again on a fresh connection from
    the pool, and the line is recorded once."""
    cid = _contact(app)
    _line(app, cid, "第一句", "drop-1")
    with app.app_context():
        engine = db.engine
        shelf = shelf_for(engine)
        conn = shelf.take()
        assert conn is not None
        postgres = engine.dialect.name == "postgresql"
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() if postgres else None
        shelf.put(conn)  # healthy when shelved
        assert len(shelf) == 1
        if postgres:
            with engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        else:
            conn.connection.dbapi_connection.close()
    _line(app, cid, "第二句", "drop-2")
    assert _texts(app, cid) == ["第一句", "第二句"]
    assert conn.invalidated or conn.closed
