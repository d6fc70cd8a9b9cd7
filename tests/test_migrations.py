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


def test_upgrade_matches_models(tmp_path):
    """`db upgrade` on an empty SQLite file leaves no difference between the database and the models."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("checked on the embedded SQLite database; the PostgreSQL run uses create_all")
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.db'}",
        REDIS_EMBEDDED_PATH="/tmp/kefu-test-redis.db",
        REDIS_PREFIX="kefu-test-mig:",
    )
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []
