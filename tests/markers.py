"""Skip markers shared by the test modules: one condition and one reason each, written once."""

from __future__ import annotations

import os

import pytest


def on_postgresql() -> bool:
    """The suite runs on a PostgreSQL server (DATABASE_URL=postgresql://...), not on a SQLite file per test."""
    return os.environ.get("DATABASE_URL", "").startswith("postgresql")


# What such a test shows exists on a database server only: advisory locks, server settings, a lock wait between
# connections or processes. Each module says which beside its mark.
needs_postgresql = pytest.mark.skipif(
    not on_postgresql(), reason="needs PostgreSQL: set DATABASE_URL=postgresql://... (skipped on SQLite)"
)
