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
