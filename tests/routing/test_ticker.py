"""The background ticker: periodic callbacks in an app context, failures logged, ACW expiry on its own."""

from __future__ import annotations

import time

from accounts.models import User
from clock import clock
from contacts.actions import do_wrap_up_contact
from extensions import db
from routing.actions import agent_snapshot
from routing.ticker import register_periodic, start_ticker

from .helpers import agent, contact, fresh


def _wait_for(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_ticker_runs_callbacks_and_survives_failures(app):
    """Registered callbacks run repeatedly inside an app context; one that raises does not stop the thread."""
    from flask import current_app

    seen = []

    def good():
        seen.append(current_app.name)

    def bad():
        raise RuntimeError("boom")

    register_periodic(app, bad)
    register_periodic(app, good)
    register_periodic(app, good)  # twice is once
    ticker = start_ticker(app)
    assert start_ticker(app) is ticker and app.extensions["kefu_ticker"] is ticker
    assert _wait_for(lambda: len(seen) >= 3)
    assert ticker.is_alive() and ticker.ticks >= len(seen) - 1
    ticker.stop()
    assert not ticker.is_alive()
    n = len(seen)
    time.sleep(3 * app.config["TICK_SECONDS"])
    assert len(seen) == n


def test_ticker_ends_acw_and_dispatches(app, make_user):
    """With the ticker running, an agent in ACW comes back when ACW_SECONDS pass and takes the waiting contact."""
    ann = make_user("ann")
    with app.app_context():
        agent(ann)
        c1 = fresh(contact().id)
        do_wrap_up_contact(c1, db.session.get(User, ann), "resolved")
        c2 = contact().id
    start_ticker(app)
    clock.advance(app.config["ACW_SECONDS"] + 0.1)

    def answered():
        with app.app_context():
            return fresh(c2).agent_id == ann

    assert _wait_for(answered)
    with app.app_context():
        assert agent_snapshot(ann)["state"] == "available"
    app.extensions["kefu_ticker"].stop()
