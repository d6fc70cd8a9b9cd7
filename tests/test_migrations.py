"""The Alembic migrations build exactly the schema the models describe (so `make run`'s db upgrade is right)."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from app import create_app
from config import TestingConfig
from extensions import db
from tests.markers import needs_postgresql


def _sqlite_app(tmp_path):
    """An app on an empty SQLite file of its own (the migrations are run on it, not create_all)."""
    return create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.db'}",
        REDIS_EMBEDDED_PATH="/tmp/kefu-test-redis.db",
        REDIS_PREFIX="kefu-test-mig:",
    )


def test_upgrade_matches_models(tmp_path):
    """`db upgrade` on an empty SQLite file leaves no difference between the database and the models."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("checked on the embedded SQLite database; the PostgreSQL run uses create_all")
    app = _sqlite_app(tmp_path)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_lease_migration_downgrades_with_an_exercise_in_use(tmp_path):
    """The simulator-lease migration goes down and up again on SQLite while a contact belongs to an exercise (its
    downgrade once copied the exercises table, which the contacts' foreign key refused)."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("checked on the embedded SQLite database")
    from flask_migrate import downgrade
    from sqlalchemy import inspect, text

    app = _sqlite_app(tmp_path)
    with app.app_context():
        upgrade(revision="a8c0e2f4b6d7")
        with db.engine.begin() as conn:
            ex_cols = {c["name"]: c for c in inspect(conn).get_columns("exercises")}
            ct_cols = {c["name"]: c for c in inspect(conn).get_columns("contacts")}
            assert "exercise_id" in ct_cols and "lease" in ex_cols
            conn.execute(text("PRAGMA foreign_keys=ON"))
            ex_id = _insert_minimal(conn, "exercises", ex_cols, {})
            _insert_minimal(conn, "contacts", ct_cols, {"exercise_id": ex_id})
        downgrade(revision="f7b9d1e3a5c6")
        with db.engine.connect() as conn:
            names = {c["name"] for c in inspect(conn).get_columns("exercises")}
            tables = set(inspect(conn).get_table_names())
            rows = conn.execute(text("SELECT count(*) FROM contacts WHERE exercise_id = :e"), {"e": ex_id}).scalar()
        assert "lease" not in names and "driver" not in names and rows == 1
        assert not any(t.startswith("_alembic_tmp") for t in tables)
        upgrade()


def _insert_minimal(conn, table: str, columns: dict, values: dict) -> int:
    """Insert a row giving every NOT NULL column without a default a plain value of its type; returns its id."""
    from sqlalchemy import text

    row = dict(values)
    for name, col in columns.items():
        if name in row or name == "id" or col["nullable"] or col.get("default") is not None:
            continue
        kind = str(col["type"]).upper()
        if "INT" in kind or "NUMERIC" in kind or "FLOAT" in kind or "BOOL" in kind:
            row[name] = 0
        elif "DATETIME" in kind or "TIMESTAMP" in kind:
            row[name] = "2026-12-04 00:00:00"
        elif "JSON" in kind:
            row[name] = "{}"
        else:
            row[name] = "x"
    keys = ", ".join(row)
    conn.execute(text(f"INSERT INTO {table} ({keys}) VALUES ({', '.join(':' + k for k in row)})"), row)  # noqa: S608
    return conn.execute(text("SELECT max(id) FROM " + table)).scalar()  # noqa: S608


SWEEP_INDEX = "ix_contacts_status_closed_at"
SWEEP_INDEX_REVISION = "c2e4a6b8d0f1"


def _sweep_index(conn) -> list[str] | None:
    """The columns of the contacts' index on (status, closed_at), None when there is none."""
    from sqlalchemy import inspect

    found = {ix["name"]: ix["column_names"] for ix in inspect(conn).get_indexes("contacts")}
    return found.get(SWEEP_INDEX)


def _round_trip(app) -> None:
    """Upgrade to the head: the index is there; down one revision: gone; up again: back."""
    from flask_migrate import downgrade

    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            assert _sweep_index(conn) == ["status", "closed_at"]
        downgrade(revision=SWEEP_INDEX_REVISION + "-1")
        with db.engine.connect() as conn:
            assert _sweep_index(conn) is None
        upgrade()
        with db.engine.connect() as conn:
            assert _sweep_index(conn) == ["status", "closed_at"]


def test_the_grading_sweeps_index_migrates_up_and_down_and_its_query_uses_it(tmp_path):
    """The contacts' index on (status, closed_at) is made by its migration and dropped by its downgrade (SQLite), and
    SQLite's plan for the grading sweep's query (grading/sweep.py, run every minute) searches the contacts through
    it (a range of closed_at within status, read in the order the sweep pages in) rather than going through every
    closed contact of all time. (Before: no such index; the plan searched the contacts by status alone and sorted
    what it found.)"""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("checked on the embedded SQLite database; PostgreSQL: the next test")
    from sqlalchemy import event

    app = _sqlite_app(tmp_path)
    _round_trip(app)
    statements: list[tuple[str, tuple]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "FROM contacts" in statement and "exercises" in statement:
            statements.append((statement, parameters))

    sweeper = app.extensions["kefu_grading"].sweeper
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", keep)
        try:
            assert sweeper._page(0.0, 1e12, None) == []
            assert sweeper._page(0.0, 1e12, (5.0, 3)) == []  # a later page, after (closed_at, id)
        finally:
            event.remove(db.engine, "before_cursor_execute", keep)
        assert len(statements) == 2
        with db.engine.connect() as conn:
            for statement, parameters in statements:
                plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
                contacts = [step for step in plan if " contacts " in f"{step} "]
                assert contacts == [
                    f"SEARCH contacts USING INDEX {SWEEP_INDEX} (status=? AND closed_at>? AND closed_at<?)"
                ]
                assert not any("TEMP B-TREE" in step for step in plan), plan  # in (closed_at, id) order as read


@needs_postgresql
def test_the_grading_sweeps_index_migrates_up_and_down_on_postgresql():
    """The same migration's upgrade and downgrade on a PostgreSQL database of its own (DATABASE_URL names the
    server; skipped without one)."""
    url = os.environ["DATABASE_URL"]
    import uuid

    import psycopg

    base = url.replace("postgresql+psycopg://", "postgresql://")
    name = f"{os.environ.get('KEFU_MP_DB_PREFIX', '')}kefu_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        app = create_app(
            TestingConfig,
            SQLALCHEMY_DATABASE_URI="postgresql+psycopg://" + base.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name,
            REDIS_PREFIX=f"kefu-test-mig-{uuid.uuid4().hex[:6]}:",
        )
        _round_trip(app)
        with app.app_context():
            db.engine.dispose()
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
