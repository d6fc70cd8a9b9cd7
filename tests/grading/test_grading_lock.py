"""One contact's graders take turns across processes (grading.actions.lock_contact_for_grading, a PostgreSQL advisory
lock held to the end of the grading's transaction): a grader's Grade button and the ungradeable list's retry wait
for an auto-grading of the same contact in progress, so a grading and a failing one never interleave."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from extensions import db
from grading.actions import LOCK_CLASS, current_scorecard, do_grade_contact
from grading.regrade import regrade
from tests.markers import needs_postgresql

from .test_panels import build_world

# The lock is a PostgreSQL advisory lock; SQLite serves one process.
pytestmark = [pytest.mark.app_config(GRADING_AUTO=False), needs_postgresql]


def test_the_grade_button_waits_for_a_grading_of_the_same_contact_in_progress(app):
    """Another process holds the contact's grading lock (an auto-grading in progress): do_grade_contact (the review
    page's button) waits for it, then grades (before: it graded at once beside the other)."""
    world = build_world(app)
    contact_id, warm = world["contacts"]
    with app.app_context():
        do_grade_contact(warm)  # the first grading loads the language model (seconds): not what is timed here
        _waits_for_the_lock(app, contact_id, lambda: do_grade_contact(contact_id), "graded")
        assert current_scorecard(contact_id) is not None


def _in_thread(app, work) -> tuple[threading.Thread, threading.Event, list[BaseException]]:
    """Run ``work()`` in an app context of its own thread (another grader); the event is set when it ends."""
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                work()
            except BaseException as e:  # reported by the caller's assertion
                errors.append(e)
            finally:
                db.session.remove()
                done.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done, errors


def _waits_for_the_lock(app, contact_id: int, work, what: str) -> None:
    """Another process (its own connection) holds ``contact_id``'s grading lock while ``work`` runs in a thread: the
    work must still be waiting a second later, and finish without error once the lock is let go."""
    key = (LOCK_CLASS << 32) | contact_id
    other = db.engine.connect()
    try:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        thread, done, errors = _in_thread(app, work)
        assert not done.wait(1.0), f"{what} while another grading of contact {contact_id} held its lock"
        other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        other.commit()
    finally:
        other.close()
    assert done.wait(30)
    thread.join()
    assert not errors, errors
    db.session.expire_all()


def test_a_bulk_regrade_waits_for_a_grading_of_a_contact_of_its_chunk(app):
    """Another process holds the grading lock of one contact of a chunk (an auto-grading in progress): the bulk regrade
    (``flask grading regrade``) waits for it before it reads the chunk's scorecards, then grades the chunk (before: it
    graded at once beside the other, and could store a stale scorecard or relist a contact just graded)."""
    world = build_world(app)
    low, high = world["contacts"]
    assert low < high
    with app.app_context():
        do_grade_contact(low)  # loads the language model (seconds): not what is timed here
        _waits_for_the_lock(app, high, lambda: regrade([low, high]), "regraded")
        assert current_scorecard(high) is not None


def test_a_bulk_regrade_takes_its_chunks_locks_in_contact_id_order(app):
    """The bulk regrade takes the locks of a chunk in contact id order, whatever order it was given the ids in, so two
    bulk regrades over the same contacts never hold each a lock the other waits for: while it waits for the lowest
    id's lock, a higher id's lock is still free."""
    world = build_world(app)
    low, high = world["contacts"]
    with app.app_context():
        do_grade_contact(low)
        other, probe = db.engine.connect(), db.engine.connect()
        try:
            other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": (LOCK_CLASS << 32) | low})
            thread, done, errors = _in_thread(app, lambda: regrade([high, low]))
            assert not done.wait(1.0), "regraded while another grading of a contact of the chunk held its lock"
            free = probe.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": (LOCK_CLASS << 32) | high}).scalar()
            if free:
                probe.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": (LOCK_CLASS << 32) | high})
            probe.commit()
            other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": (LOCK_CLASS << 32) | low})
            other.commit()
        finally:
            other.close()
            probe.close()
        assert done.wait(30)
        thread.join()
        assert not errors, errors
        assert free, "the regrade held a higher contact id's lock while it waited for a lower one's"


def test_saving_manual_scores_waits_for_a_grading_of_the_same_contact(app):
    """A grader saves manual scores (review page, panel medians) while another process grades the contact: the save
    waits for the contact's grading lock, then builds on the scorecard that grading left (before: it wrote at once
    beside it)."""
    from grading.actions import set_manual_scores

    world = build_world(app)
    contact_id, warm = world["contacts"]
    with app.app_context():
        do_grade_contact(warm)  # loads the language model (seconds): not what is timed here
        do_grade_contact(contact_id)
        shown = current_scorecard(contact_id)

        def save() -> None:
            set_manual_scores(
                db.session.get(type(shown), shown.id), {"tone-and-wording": {"value": 3, "by": "grader1"}}
            )

        _waits_for_the_lock(app, contact_id, save, "saved")
        assert "tone-and-wording" in (current_scorecard(contact_id).manual_scores or {})
