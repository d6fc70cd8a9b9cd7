"""One contact's graders take turns across processes (grading.actions.lock_contact_for_grading, a PostgreSQL advisory
lock held to the end of the grading's transaction): a grader's Grade button and the ungradeable list's retry wait
for an auto-grading of the same contact in progress, so a grading and a failing one never interleave."""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import text

from extensions import db
from grading.actions import LOCK_CLASS, current_scorecard, do_grade_contact

from .test_panels import build_world

PG = os.environ.get("DATABASE_URL", "")

pytestmark = [
    pytest.mark.app_config(GRADING_AUTO=False),
    pytest.mark.skipif(
        not PG.startswith("postgresql"),
        reason="PostgreSQL only (DATABASE_URL): the lock is a PostgreSQL advisory lock; SQLite serves one process",
    ),
]


def test_the_grade_button_waits_for_a_grading_of_the_same_contact_in_progress(app):
    """Another process holds the contact's grading lock (an auto-grading in progress): do_grade_contact (the review
    page's button) waits for it, then grades (before: it graded at once beside the other)."""
    world = build_world(app)
    contact_id, warm = world["contacts"]
    with app.app_context():
        do_grade_contact(warm)  # the first grading loads the language model (seconds): not what is timed here
    key = (LOCK_CLASS << 32) | contact_id
    done = threading.Event()
    errors: list[BaseException] = []

    def grade() -> None:
        with app.app_context():
            try:
                do_grade_contact(contact_id)
            except BaseException as e:  # reported by the assertion below
                errors.append(e)
            finally:
                db.session.remove()
                done.set()

    with app.app_context():
        other = db.engine.connect()  # the other process's connection
        try:
            other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            thread = threading.Thread(target=grade)
            thread.start()
            assert not done.wait(1.0), "graded while another grading of the contact held its lock"
            other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            other.commit()
        finally:
            other.close()
        assert done.wait(30)
        thread.join()
        assert not errors, errors
        assert current_scorecard(contact_id) is not None
