"""A chat line's statements run straight on the DB-API cursor: the contact head read, the sequence update and the
event insert of a fresh handler's message or typing change (contacts/events.py), in one transaction.

Why: for these tiny statements SQLAlchemy's Core execution (cache key, execution context, result object) cost
about four times the database work itself: ~200 µs a message against ~40 µs for the same statements on the cursor
(SQLite; bench/README.md chat_load, "Beside a Node peer"). What stays the same: they are the same Core statements,
compiled once per dialect (SQLite and PostgreSQL alike); parameters go through the columns' own bind processors
(the event's JSON data is stored exactly as the ORM stores it); writes run inside the Connection's transaction
(``with conn.begin()``: its commit or rollback, and their events, as before) and first take the gevent SQLite
writer's turn as the ``before_cursor_execute`` listener would (``concurrency.take_writer_turn``); a DB-API error is
raised as SQLAlchemy's own (an IntegrityError stays an IntegrityError: a resend is still found by the unique index).
"""

from __future__ import annotations

from collections import namedtuple

from sqlalchemy.exc import DBAPIError

from concurrency import take_writer_turn


class _Compiled:
    """One Core statement compiled for one dialect."""

    def __init__(self, statement, dialect, table=None) -> None:
        keys = [c.key for c in table.c if not c.primary_key] if table is not None else None
        compiled = statement.compile(dialect=dialect, column_keys=keys)
        self.sql = compiled.string
        self.names = list(compiled.positiontup) if compiled.positional else None
        # the statement's own values (the literal 1 of ``event_count + 1`` is a bound parameter too)
        self.defaults = {name: bp.effective_value for name, bp in compiled.binds.items() if not bp.required}
        self.processors = {}
        for col in table.c if table is not None else ():
            proc = col.type.bind_processor(dialect)
            if proc is not None:
                self.processors[col.key] = proc
        selected = getattr(statement, "selected_columns", None)
        self.row = namedtuple("Row", [c.key for c in selected]) if selected is not None and len(selected) > 1 else None

    def params(self, values: dict):
        if self.defaults:
            values = {**self.defaults, **values}
        if self.processors:
            values = {k: (self.processors[k](v) if k in self.processors else v) for k, v in values.items()}
        if self.names is not None:
            return tuple(values[name] for name in self.names)
        return values


_compiled: dict[tuple, _Compiled] = {}


def _run(conn, statement, values: dict, table=None):
    dialect = conn.dialect
    key = (id(statement), type(dialect), dialect.paramstyle)
    c = _compiled.get(key)
    if c is None:  # the statements are module constants: compiled once per process and dialect
        c = _compiled[key] = _Compiled(statement, dialect, table)
    cursor = None
    try:
        cursor = conn.connection.driver_connection.cursor()  # fails here on a connection the driver knows closed
        cursor.execute(c.sql, c.params(values))
        row = cursor.fetchone()
    except dialect.loaded_dbapi.Error as e:
        raise DBAPIError.instance(c.sql, values, e, dialect.loaded_dbapi.Error, dialect=dialect) from e
    finally:
        if cursor is not None:
            cursor.close()
    return c.row(*row) if row is not None and c.row is not None else row


def read_first(conn, statement, values: dict):
    """The first row of a read on ``conn``, with the selected columns' names; or None. The read belongs to the
    transaction the caller began on ``conn`` (the chat line's one transaction: the head read, then the write)."""
    return _run(conn, statement, values)


def write_first(conn, statement, values: dict, table=None):
    """The first row that a write on ``conn`` returns (``RETURNING``), inside the transaction the caller began on it
    (``with conn.begin()``); ``table``: the table whose columns ``values`` are (their bind processors apply)."""
    take_writer_turn(conn)
    return _run(conn, statement, values, table)
