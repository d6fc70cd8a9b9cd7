"""Shared fixtures: app, client, auth, socket_client. Real SQLite (or DATABASE_URL) and real Redis."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from app import create_app
from config import TestingConfig
from extensions import db, redis_store

from . import factories


@pytest.fixture(autouse=True)
def every_recorded_event_matches_its_schema(request):
    """Every event a test records is checked against its type's schema when appended (contacts/event_types.py);
    some callers (media and simulator reports) log a refused append and go on, so a refusal anywhere fails the
    test here, unless the test is marked ``bad_events`` (it sends bad events on purpose)."""
    from contacts.event_types import refusals, refusals_count

    before = refusals_count()
    yield
    if request.node.get_closest_marker("bad_events") is None:
        assert not refusals(before), f"events refused by their schema: {refusals(before)}"


@pytest.fixture
def app(tmp_path, request):
    """A fresh app per test: its own database (SQLite file, or a schema-reset DATABASE_URL) and Redis prefix."""
    url = os.environ.get("DATABASE_URL")
    overrides = {
        "SQLALCHEMY_DATABASE_URI": _db_url(url, tmp_path),
        "REDIS_PREFIX": f"kefu-test-{uuid.uuid4().hex[:8]}:",
        "REDIS_EMBEDDED_PATH": os.environ.get("KEFU_TEST_REDIS", "/tmp/kefu-test-redis.db"),
        "SIMULATOR_ENABLED": False,
    }
    # Module-level app_config markers first, then the test's own (closest wins on a clash).
    for marker in reversed(list(request.node.iter_markers("app_config"))):
        overrides.update(marker.kwargs)
    app = create_app(TestingConfig, **overrides)
    with app.app_context():
        if url:
            _reset_schema()
        db.create_all()
    yield app
    # The app's background services stop first: one still writing while the schema is dropped deadlocks on
    # PostgreSQL (seen with a group room's audience).
    for name in ("kefu_simulator", "kefu_ticker", "kefu_grading", "kefu_group_audience"):
        svc = app.extensions.get(name)
        if svc is not None and hasattr(svc, "stop"):
            svc.stop()
    with app.app_context():
        redis_store.flush_prefix()
        db.session.remove()
        if url:
            _reset_schema()
        db.engine.dispose()


def _reset_schema():
    """A clean PostgreSQL schema for each test (drop_all cannot order the users<->groups cycle)."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    db.session.remove()
    for attempt in range(3):
        try:
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            return
        except OperationalError as e:
            # A straggling connection of an earlier test (a daemon thread finishing its write) can deadlock with
            # the drop; PostgreSQL aborts one side, and the drop goes through once the other has finished.
            if "deadlock" not in str(e) or attempt == 2:
                raise
            time.sleep(0.5)


def _db_url(url, tmp_path):
    if not url:
        return f"sqlite:///{tmp_path / 'test.db'}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@pytest.fixture
def client(app):
    return app.test_client()


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, username, password="pass1234"):
        return self.client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def make_user(app):
    def make(username, role="trainee", level="L4", password="pass1234", **kw):
        with app.app_context():
            return factories.user(username, role=role, level=level, password=password, **kw).id

    return make


@pytest.fixture
def socket_client(app, client):
    """Factory for a Socket.IO test client on a namespace, sharing the HTTP client's login cookie."""
    from extensions import socketio

    made = []

    def make(namespace, http_client=None):
        sc = socketio.test_client(app, namespace=namespace, flask_test_client=http_client or client)
        made.append((sc, namespace))
        return sc

    yield make
    for sc, ns in made:
        if sc.is_connected(ns):
            sc.disconnect(ns)


def pytest_collection_modifyitems(config, items):
    """Chromium tests run last: Playwright's sync API keeps an asyncio loop running in the main thread for the
    rest of the session, and the media tests that follow would then fail in ``asyncio.run``."""
    items.sort(key=lambda item: "/tests/e2e/" in str(item.path).replace("\\", "/"))
