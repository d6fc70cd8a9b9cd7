"""The database pool of a server database: enough connections kept open for a busy process (config.py)."""

from __future__ import annotations

import os
import threading

from sqlalchemy import text

from tests.markers import needs_postgresql

PG = os.environ.get("DATABASE_URL", "")

pytestmark = needs_postgresql  # the pool of a server database


def test_a_burst_of_concurrent_work_keeps_its_connections_open(app):
    """12 requests at once, twice: the second burst reuses the first one's connections (SQLAlchemy's default pool
    of 5 closed 7 of them on return and opened them again: a backend forked per checkout under load)."""
    from extensions import db

    with app.app_context():
        engine = db.engine
    assert engine.pool.size() >= 12
    barrier = threading.Barrier(12)

    def burst(pids: list[int]) -> None:
        def one() -> None:
            with engine.connect() as conn:
                barrier.wait(10)
                pids.append(conn.execute(text("SELECT pg_backend_pid()")).scalar())
                barrier.wait(10)

        threads = [threading.Thread(target=one) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)

    first: list[int] = []
    burst(first)
    second: list[int] = []
    burst(second)
    assert len(set(first)) == 12
    assert set(second) == set(first)


def test_the_pool_is_sized_from_the_environment(monkeypatch):
    from config import TestingConfig

    monkeypatch.setenv("KEFU_DB_POOL_SIZE", "7")
    monkeypatch.setenv("KEFU_DB_MAX_OVERFLOW", "3")

    class Sized(TestingConfig):
        SQLALCHEMY_DATABASE_URI = PG
        SQLALCHEMY_ENGINE_OPTIONS: dict = {}

    Sized.init()
    assert Sized.SQLALCHEMY_ENGINE_OPTIONS["pool_size"] == 7
    assert Sized.SQLALCHEMY_ENGINE_OPTIONS["max_overflow"] == 3
    assert Sized.SQLALCHEMY_ENGINE_OPTIONS["pool_pre_ping"] is True
