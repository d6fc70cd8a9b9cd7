"""A bulk regrade in worker processes survives a worker that dies: the shares it (and the broken pool) did not
report are graded in the parent, every contact ends with one current scorecard, and the report says so."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from extensions import db
from grading import parallel
from grading.models import Scorecard

from .test_regrade_write_failure import _contacts

pytestmark = pytest.mark.app_config(GRADING_AUTO=False)

_PARENT = os.getpid()
_POISON: set[int] = set()


def _dying_share(ids: list[int]):
    """A worker's share, except that a worker process given a poisoned contact dies at once (as a killed or
    out-of-memory worker does); in the parent it grades as usual. Module level, so the pool can pickle it."""
    if os.getpid() != _PARENT and _POISON & set(ids):
        os._exit(9)
    return _real_run_share(ids)


_real_run_share = parallel._run_share


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_a_worker_that_dies_leaves_its_share_to_the_parent(app, monkeypatch):
    ids = _contacts(app, 6)
    monkeypatch.setattr(parallel, "_run_share", _dying_share)
    monkeypatch.setattr(f"{__name__}._POISON", {ids[1]})
    done: list[int] = []
    with app.app_context():
        report = parallel.regrade_in_workers(ids, workers=2, min_per_worker=1, progress=done.append)
        db.session.expire_all()
        current = db.session.execute(
            select(Scorecard.contact_id, func.count()).where(Scorecard.current.is_(True)).group_by(Scorecard.contact_id)
        ).all()
    assert dict(current) == {i: 1 for i in ids}
    assert report.graded == 6 and not report.errors and report.shares_regraded_here >= 1
    assert sum(done) == 6  # progress reached the end: the dead share counted once, when the parent graded it
