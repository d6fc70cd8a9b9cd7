"""Run a calibration: check the session files, replay each through a throwaway sandbox's endpoints, grade it
with the centre's rubric (the examiner's manual-item scores fed in as a panel's), and compare."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .replay import ScratchCentre
from .report import Compared, manual_scores, summarise
from .sessions import check_session, parse_session, session_files

DEFAULT_PACKS = Path(__file__).resolve().parent.parent / "scenarios" / "packs"


def calibrate(path: Path, packs: Path = DEFAULT_PACKS, progress: Callable[[str], None] | None = None) -> dict:
    """The agreement report for the session file or folder ``path`` (raises SessionError naming the file and
    event of the first session that cannot be replayed, before anything is replayed)."""
    sessions = [parse_session(f) for f in session_files(path)]
    centre = ScratchCentre(packs)
    try:
        with centre.app.app_context():
            for s in sessions:
                check_session(s)
        compared = []
        for s in sessions:
            if progress:
                progress(s.id)
            replayed = centre.replay(s)
            compared.append(Compared(s, _grade(centre, replayed.contact_id, s), replayed.problems))
        return summarise(compared)
    finally:
        centre.close()


def _grade(centre: ScratchCentre, contact_id: int | None, session) -> dict | None:
    from grading.actions import GradingError, do_grade_contact, set_manual_scores

    if contact_id is None:
        return None
    with centre.app.app_context():
        try:
            row = do_grade_contact(contact_id)
            manual = manual_scores(session)
            if manual:
                row = set_manual_scores(row, manual)
        except GradingError:
            return None
        return dict(row.data)
