"""The grading sweep's lock (grading/sweep.py): one sweeper in the centre at a time, however long a sweep takes. On
the test Redis (embedded by default) and database; the gradings are replaced by slow stand-ins that record who
graded what."""

from __future__ import annotations

import threading
import time

import pytest

from clock import clock
from extensions import redis_store
from grading.auto import AutoGrader

from .test_auto_grading_log import _closed

LOCK_SECONDS = 1  # GRADING_SWEEP_SECONDS below: the lock's timeout


def _slow(grader, monkeypatch, seconds: float, graded: list) -> threading.Event:
    """Make ``grader``'s gradings take ``seconds`` each and record (grader, contact) in ``graded``; the event is set
    once a grading has begun."""
    began = threading.Event()

    def grade(contact_id, wrapped_up_at):
        began.set()
        time.sleep(seconds)
        graded.append((grader, contact_id))

    monkeypatch.setattr(grader, "_grade", grade)
    return began


def _sweep_in_thread(app, sweeper, swept: list) -> threading.Thread:
    def run():
        with app.app_context():
            swept.extend(sweeper.sweep_if_first())

    thread = threading.Thread(target=run, name="first-sweeper")
    thread.start()
    return thread


def _second_sweeps_while(app, alive, second: AutoGrader, *, beat=None) -> list[list[int]]:
    """A second process's sweeper tries to sweep every 0.1 s while ``alive()``; ``beat()`` runs in between (this
    process's heartbeat). Returns what each of its tries swept."""
    tries = []
    while alive():
        with app.app_context():
            tries.append(second.sweeper.sweep_if_first())
        if beat is not None:
            beat()
        time.sleep(0.1)
    return tries


@pytest.mark.app_config(GRADING_AUTO=False, GRADING_SWEEP_SECONDS=LOCK_SECONDS)
def test_a_sweep_longer_than_its_lock_still_excludes_a_second_sweeper(app, monkeypatch):
    """A sweep of four contacts taking 0.6 s each (2.4 s) outlasts its lock's 1 s timeout: a second process's sweeper
    trying every 0.1 s meanwhile sweeps nothing, and each contact is graded once, by the first. (Before: the lock
    expired after 1 s, the second sweeper took it and graded the contacts the first had not marked yet beside it -
    the one the first was grading among them.)"""
    now = clock.timestamp()
    ids = _closed(app, [now - 400, now - 300, now - 200, now - 150])
    graded: list = []
    first, second = app.extensions["kefu_grading"], AutoGrader(app)
    began = _slow(first, monkeypatch, 0.6, graded)
    _slow(second, monkeypatch, 0.6, graded)
    swept: list[int] = []
    thread = _sweep_in_thread(app, first.sweeper, swept)
    assert began.wait(10)
    tries = _second_sweeps_while(app, thread.is_alive, second)
    thread.join()
    assert swept == ids
    assert [t for t in tries if t] == []
    assert len(tries) > 15
    assert graded == [(first, cid) for cid in ids]


@pytest.mark.app_config(GRADING_SWEEP_SECONDS=LOCK_SECONDS)
def test_a_grading_longer_than_the_sweeps_lock_keeps_it_while_the_process_beats(app, monkeypatch):
    """One grading taking 2.5 s, longer than the sweep lock's 1 s timeout: the sweep runs on its thread, started by a
    beat, and the process's heartbeat keeps renewing the lock meanwhile - a second process's sweeper sweeps nothing
    and the contact is graded once. (Before: the lock expired during the grading and the second sweeper graded the
    contact too.)"""
    (cid,) = _closed(app, [clock.timestamp() - 400])
    graded: list = []
    first, second = app.extensions["kefu_grading"], AutoGrader(app)
    liveness = app.extensions["kefu_liveness"]
    began = _slow(first, monkeypatch, 2.5, graded)
    _slow(second, monkeypatch, 2.5, graded)
    liveness.step()  # the beat that starts the sweep (the liveness periodic hook)
    assert began.wait(10)
    tries = _second_sweeps_while(app, lambda: not graded, second, beat=liveness.step)
    assert first.sweeper.wait(1, 10) is not None
    first.stop()
    assert [t for t in tries if t] == []
    assert len(tries) > 10
    assert graded == [(first, cid)]


@pytest.mark.app_config(GRADING_AUTO=False, GRADING_SWEEP_SECONDS=60)
def test_a_sweep_that_lost_its_lock_grades_no_further_contact(app, monkeypatch):
    """The lock is no longer the sweep's (expired while its process stalled, and taken by another process's sweep):
    the sweep stops before its next contact, leaving the rest to the sweep holding the lock. (Before: it went on
    grading its whole page beside the other.)"""
    now = clock.timestamp()
    ids = _closed(app, [now - 400, now - 300, now - 200])
    first = app.extensions["kefu_grading"]
    tried: list[int] = []
    lock = redis_store.key("grading", "sweep")

    def grade(contact_id, wrapped_up_at):
        tried.append(contact_id)
        if contact_id == ids[0]:  # meanwhile the lock expired and another process's sweep took it
            redis_store.client.set(lock, "other-process token", ex=60)

    monkeypatch.setattr(first, "_grade", grade)
    with app.app_context():
        assert first.sweeper.sweep_if_first() == [ids[0]]
    assert tried == [ids[0]]
    assert redis_store.client.get(lock) == "other-process token"  # left to its holder
