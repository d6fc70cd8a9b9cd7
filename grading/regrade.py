"""Bulk regrading (``flask grading regrade``; grading/parallel.py runs it in worker processes): many contacts'
scorecards recomputed from their recordings, chunk by chunk, and the ungradeable list tried again.

A chunk is graded whole, then stored in one short write transaction. When that transaction fails (a constraint, a
trigger, a lost connection, at a write or at the commit), it is rolled back and the chunk is stored again one
contact per transaction: the contact whose scorecard the database refuses is reported in ``errors`` and listed as
ungradeable (``do_record_ungradeable``, as auto-grading lists one), the others are stored, and the regrade goes on
with the next chunk. A savepoint per scorecard would keep the one transaction, but the SQLite engine (pysqlite's
own transaction handling, app.py) does not support them: a SAVEPOINT taken before the first write starts the
transaction itself, and its RELEASE commits it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, update

from clock import clock
from extensions import db
from scenarios import registry

from .actions import (
    GradingError,
    _compute,
    _grade_and_store,
    _Graded,
    _no_longer_ungradeable,
    _save,
    current_scorecard,
    do_record_ungradeable,
    lock_contact_for_grading,
    lock_contacts_for_grading,
    rubric_for,
)
from .models import Scorecard, UngradeableContact
from .recording import load_recordings
from .rubric import Rubric

log = logging.getLogger(__name__)

NOT_STORED = "its scorecard could not be stored: "  # the start of the reason a refused write is listed with


@dataclass
class RegradeReport:
    """What a regrade did: contacts graded, scorecards that changed (new or different), contacts skipped
    (no rubric), errors (contact id -> message) and the worker shares graded again after a worker died."""

    graded: int = 0
    changed: int = 0
    skipped: int = 0
    errors: dict[int, str] = field(default_factory=dict)
    # Shares of a regrade in worker processes graded again in the parent because a worker died (grading.parallel).
    shares_regraded_here: int = 0


def regrade(contact_ids: list[int], progress: Callable[[int], None] | None = None, chunk: int = 200) -> RegradeReport:
    """Recompute the scorecards of ``contact_ids`` (the code path of ``flask grading regrade``): recordings
    and current scorecards are read in chunks, each chunk under its contacts' grading locks (waiting for an
    auto-grading of one of them in progress), graded whole, then stored in one short write transaction.
    ``progress(n)`` is called with the number of contacts done in each chunk. A contact that fails to grade or to
    store is reported in ``errors`` and the regrade goes on (see the module's docstring); so is one whose recording
    cannot be read (``_regrade_part``). Publishes nothing: a bulk regrade is not live feedback."""
    report = RegradeReport()
    ids = sorted(set(contact_ids))
    rubrics = registry.list_rubrics()
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        _regrade_part(part, rubrics, report, chunk)
        if progress:
            progress(len(part))
    return report


def _regrade_part(part: list[int], rubrics: list[Rubric], report: RegradeReport, chunk: int) -> None:
    """Grade and store one chunk. A chunk that cannot be read (a recording that fails to load) is read again one
    contact at a time, so only the contact at fault is reported."""
    graded = RegradeReport()
    try:
        results = _grade_chunk(part, rubrics, graded, chunk)
    except Exception as e:
        db.session.rollback()
        if len(part) > 1:
            log.exception("the chunk of contacts %s..%s could not be read; reading them one by one", part[0], part[-1])
            for cid in part:
                _regrade_part([cid], rubrics, report, chunk)
        else:
            log.exception("the recording of contact %s could not be read", part[0])
            report.errors[part[0]] = f"its recording could not be read: {type(e).__name__}: {e}"
        return
    report.skipped += graded.skipped
    report.errors.update(graded.errors)
    _store_chunk(results, rubrics, report)


def _grade_chunk(part: list[int], rubrics: list[Rubric], report: RegradeReport, chunk: int) -> list[_Graded]:
    """Grade the contacts of one chunk under their grading locks, writing nothing; counts the skipped ones and
    reports those whose grading raised in ``report``."""
    lock_contacts_for_grading(part)  # before anything of the chunk is read, held to its commit (_store_chunk)
    current = {
        (s.contact_id, s.rubric_id): s
        for s in db.session.scalars(
            select(Scorecard).where(Scorecard.contact_id.in_(part), Scorecard.current.is_(True))
        )
    }
    results: list[_Graded] = []
    for recording in load_recordings(part, chunk=chunk):
        rubric = rubric_for(recording, rubrics)
        if rubric is None:
            report.skipped += 1
            continue
        try:
            results.append(_compute(recording, rubric, current.get((recording.contact_id, rubric.id))))
        except Exception as e:  # one broken recording must not stop a regrade of thousands
            log.exception("grading contact %s failed", recording.contact_id)
            report.errors[recording.contact_id] = f"{type(e).__name__}: {e}"
    return results


def _store_chunk(results: list[_Graded], rubrics: list[Rubric], report: RegradeReport) -> None:
    """Store a graded chunk in one short write transaction; if it fails, one contact per transaction.

    On SQLite a write transaction begins at the first write and holds the file's one write lock to the commit:
    storing each scorecard as it was graded held it across the grading of the rest of the chunk (20-40 s), and
    another worker process's write gave up after the busy timeout ("database is locked")."""
    # Read before the write: after a rollback the rows are expired, and reading them would query again.
    previous_ids = [r.previous.id if r.previous is not None else None for r in results]
    try:
        changed = [_save(result)[1] for result in results]
        _no_longer_ungradeable([r.recording.contact_id for r in results])
        db.session.commit()
    except Exception:
        db.session.rollback()  # the chunk's locks go with it: each contact takes its own again
        log.exception("storing a chunk of %d scorecards failed; storing them one by one", len(results))
    else:
        report.graded += len(changed)
        report.changed += sum(changed)
        return
    for result, previous_id in zip(results, previous_ids, strict=True):
        _store_alone(result, previous_id, rubrics, report)


def _store_alone(result: _Graded, previous_id: int | None, rubrics: list[Rubric], report: RegradeReport) -> None:
    """Store one contact's scorecard in its own transaction, under its grading lock; a failure is reported and the
    contact listed as ungradeable. Graded afresh if another grading replaced its current scorecard since the chunk
    read it (the locks were let go with the chunk's rollback), so that newer scorecard is not set aside for one
    from an older reading."""
    cid = result.recording.contact_id
    try:
        lock_contact_for_grading(cid)
        current = current_scorecard(cid, result.rubric.id)
        if (current.id if current is not None else None) == previous_id:
            _row, changed = _save(result)
            _no_longer_ungradeable([cid])
        else:
            _recording, _rubric, _row, changed = _grade_and_store(cid, rubrics)
        db.session.commit()
    except Exception as e:
        db.session.rollback()
        log.exception("the scorecard of contact %s could not be stored", cid)
        reason = str(e) if isinstance(e, GradingError) else f"{NOT_STORED}{type(e).__name__}: {e}"
        report.errors[cid] = reason
        _list_ungradeable(cid, reason)
    else:
        report.graded += 1
        report.changed += int(changed)


def _list_ungradeable(contact_id: int, reason: str) -> None:
    """List a contact whose scorecard could not be stored as ungradeable (the sweep passes over it; ``flask grading
    regrade --ungradeable`` tries it again); logged only if that fails too (the database away)."""
    try:
        lock_contact_for_grading(contact_id)
        do_record_ungradeable(contact_id, reason)
    except Exception:
        db.session.rollback()
        log.exception("contact %s could not be listed as ungradeable", contact_id)


def ungradeable_ids() -> list[int]:
    """Ids of the contacts listed as ungradeable, in order."""
    return list(db.session.scalars(select(UngradeableContact.contact_id).order_by(UngradeableContact.contact_id)))


def regrade_ungradeable(progress: Callable[[int], None] | None = None) -> RegradeReport:
    """Grade every contact listed as ungradeable again (``flask grading regrade --ungradeable``), each in its own
    transaction: one that grades now leaves the list; one that still fails stays, with the new failure as its
    reason and now as its time, and is reported in ``errors``. Publishes nothing, as ``regrade``."""
    report = RegradeReport()
    rubrics = registry.list_rubrics()
    for cid in ungradeable_ids():
        try:
            _recording, _rubric, _row, changed = _grade_and_store(cid, rubrics)
            db.session.commit()
        except Exception as e:  # a GradingError, or one broken recording: the others are still tried
            db.session.rollback()
            if not isinstance(e, GradingError):
                log.exception("grading contact %s failed", cid)
            reason = str(e) if isinstance(e, GradingError) else f"{type(e).__name__}: {e}"
            report.errors[cid] = reason
            db.session.execute(
                update(UngradeableContact)
                .where(UngradeableContact.contact_id == cid)
                .values(reason=reason[:500], recorded_at=clock.timestamp())
            )
            db.session.commit()
        else:
            report.graded += 1
            report.changed += int(changed)
        if progress:
            progress(1)
    return report
