"""Regrading in worker processes, one per core: move recognition (jieba) is CPU-bound Python, so one process
grades about 70 contacts a second; several processes split the contact ids between them.

Where the platform can fork, workers are forked from this process, so they start at once with jieba's
dictionary and the content already loaded; each drops the database connections it inherited (a connection
must never be shared between processes) and runs the same ``regrade`` on its share. Elsewhere, workers are
spawned and build their own app from this one's database and Redis settings.

A worker that dies (killed, out of memory) breaks the pool: its share and the shares the pool then cancels are
graded again in this process once the pool is down. Regrading is idempotent (a contact whose scorecard was already
stored by the dead worker grades to the same scorecard and is not stored twice), so nothing is lost or doubled.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_all_start_methods, get_context

from flask import current_app

from config import Config
from extensions import db

from .regrade import RegradeReport, regrade

# What a worker needs to reach the same data as the parent app.
_SHARED_KEYS = ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "REDIS_EMBEDDED_PATH", "REDIS_PREFIX", "SECRET_KEY",
                "GRADING_EVALUATORS", "CONTENT_DIR")  # fmt: skip
_MIN_PER_WORKER = 100  # below this, starting a process (about 2 s with jieba) costs more than it saves

_worker_app = None


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _init_spawned(overrides: dict) -> None:
    global _worker_app
    from app import create_app

    _worker_app = create_app(Config, SIMULATOR_ENABLED=False, GRADING_AUTO=False, **overrides)


def _init_forked() -> None:
    with _worker_app.app_context():
        db.engine.dispose(close=False)  # the parent's pooled connections stay the parent's


def _run_share(ids: list[int]) -> RegradeReport:
    with _worker_app.app_context():
        return regrade(ids)


def regrade_in_workers(
    contact_ids: list[int], workers: int | None = None, progress=None, min_per_worker: int = _MIN_PER_WORKER
) -> RegradeReport:
    """``regrade`` split over ``workers`` processes (default: one per core); falls back to this process
    when there are too few contacts to be worth it. ``progress(n)`` is called as each share finishes."""
    ids = sorted(set(contact_ids))
    workers = min(workers or default_workers(), max(1, len(ids) // max(1, min_per_worker)))
    if workers <= 1:
        return regrade(ids, progress=progress)
    global _worker_app
    # Interleaved shares: contacts recorded at the same time (similar sizes) are spread over every worker.
    shares = [ids[i::workers] for i in range(workers)]
    total = RegradeReport()
    if "fork" in get_all_start_methods():
        db.session.remove()
        _worker_app = current_app._get_current_object()
        pool_args = {"mp_context": get_context("fork"), "initializer": _init_forked}
    else:
        overrides = {k: current_app.config.get(k) for k in _SHARED_KEYS}
        pool_args = {"mp_context": get_context("spawn"), "initializer": _init_spawned, "initargs": (overrides,)}
    unfinished: list[list[int]] = []
    with ProcessPoolExecutor(workers, **pool_args) as pool:
        futures = {pool.submit(_run_share, share): share for share in shares}
        for fut in as_completed(futures):
            try:
                part = fut.result()
            except BrokenProcessPool:
                unfinished.append(futures[fut])
                continue
            _add(total, part)
            if progress:
                progress(len(futures[fut]))
    if unfinished:
        # A worker died: the pool is gone, this process grades what it had not reported (see the module docstring).
        total.shares_regraded_here = len(unfinished)
        _add(total, regrade(sorted(i for share in unfinished for i in share), progress=progress))
    return total


def _add(total: RegradeReport, part: RegradeReport) -> None:
    total.graded += part.graded
    total.changed += part.changed
    total.skipped += part.skipped
    total.errors.update(part.errors)
