"""A PostgreSQL session left idle in a transaction is ended by the server after ``DB_IDLE_IN_TRANSACTION_SECONDS``
(app.py sets ``idle_in_transaction_session_timeout`` on every connection): a stalled host's open write lets go of
the rows it holds instead of holding them until TCP notices, and the app goes on with new connections."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from extensions import db
from simulator.models import Exercise
from simulator.ownership import Ownership
from tests.markers import needs_postgresql

from . import factories

# idle_in_transaction_session_timeout is a PostgreSQL setting; SQLite, one file of one host, has no session a stalled
# host could leave open (its busy timeout bounds the wait).
pytestmark = needs_postgresql

TIMEOUT = 1  # DB_IDLE_IN_TRANSACTION_SECONDS of the tests below


@pytest.mark.app_config(DB_IDLE_IN_TRANSACTION_SECONDS=TIMEOUT)
def test_a_stalled_write_is_ended_after_the_timeout_its_lease_row_freed_and_the_app_goes_on(app):
    """A driver stalls (SIGSTOP, a paused VM) in the middle of a fenced write on an exercise's row: its session is
    idle in a transaction holding the row. After the timeout the server ends that session: another process takes
    the lease at once (no LeaseBusy) and the stalled write, resumed, fails with nothing written; the stalled
    thread's next use of the database, and the next request, work on new connections. (Before: the row was held
    for as long as the stall lasted - the taker got LeaseBusy after its lock wait - and the stale write committed
    once it resumed.)"""
    with app.app_context():
        ex = Exercise(name="drill", mix={"x": 1}, rate_per_minute=1, duration_seconds=60, seed=2)
        db.session.add(ex)
        db.session.commit()
        ex_id = ex.id
        stale = Ownership("host-1-stalled")
        lease = stale.take_lease("exercise", ex_id)
        factories.user("t1", role="trainee", level="L5")
        db.session.remove()
    writing, outcome = threading.Event(), {}

    def stalled_driver():
        with app.app_context():
            try:
                with stale.fenced("exercise", ex_id, lease):  # holds the row until its commit
                    db.session.execute(update(Exercise).where(Exercise.id == ex_id).values(name="stale write"))
                    writing.set()
                    time.sleep(TIMEOUT + 4)  # stopped mid-write, idle in its transaction
                outcome["write"] = "committed"
            except DBAPIError as e:
                outcome["write"] = type(e.orig).__name__
        with app.app_context():  # resumed: its next use of the database
            outcome["next"] = db.session.scalar(text("SELECT 1"))

    thread = threading.Thread(target=stalled_driver)
    thread.start()
    try:
        assert writing.wait(10)
        time.sleep(TIMEOUT + 0.5)  # the stall outlasts the timeout
        with app.app_context():
            began = time.monotonic()
            taken = Ownership("host-2-adopter").take_lease("exercise", ex_id)  # LeaseBusy while the row is held
            assert time.monotonic() - began < 1.0  # taken at once: the row was already free
            assert taken == lease + 1
            db.session.remove()
    finally:
        thread.join(30)
    assert outcome == {"write": "IdleInTransactionSessionTimeout", "next": 1}  # ended by the server
    with app.app_context():
        row = db.session.get(Exercise, ex_id)
        assert (row.name, row.driver) == ("drill", "host-2-adopter")
        assert db.session.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == f"{TIMEOUT}s"
    http = app.test_client()  # the app's next request
    assert http.post("/login", data={"username": "t1", "password": "pass1234"}).status_code == 302


@pytest.mark.parametrize(
    "expected",
    [
        pytest.param("30s", id="default"),
        pytest.param("2500ms", id="2.5", marks=pytest.mark.app_config(DB_IDLE_IN_TRANSACTION_SECONDS=2.5)),
        pytest.param("0", id="off", marks=pytest.mark.app_config(DB_IDLE_IN_TRANSACTION_SECONDS=0)),
    ],
)
def test_the_timeout_is_the_configured_one_and_zero_leaves_the_servers_own(app, expected):
    """``DB_IDLE_IN_TRANSACTION_SECONDS`` (env ``KEFU_DB_IDLE_IN_TRANSACTION_SECONDS``, 30 by default) is every
    connection's timeout; 0 sets none (the server's own, 0 here: none)."""
    with app.app_context():
        assert db.session.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == expected
