"""Grading actions: grade one contact, and the queries that choose what to regrade (grading/regrade.py regrades
many).

Grading never appends to the contact's recording (the recording is its input; writing to it would change
the next regrade). It stores a Scorecard row and publishes a typed ``scorecard.graded`` event instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, select, text, update

from contacts.events import send_event
from contacts.models import Contact
from extensions import db
from scenarios import registry
from simulator.models import Exercise

from .evaluators import enabled_evaluators
from .models import Scorecard, UngradeableContact
from .recording import Recording, load_recording
from .rubric import Rubric, choose_rubric
from .scoring import content_hash, grade

log = logging.getLogger(__name__)

GRADABLE_STATUSES = ("wrap_up", "closed")


class GradingError(ValueError):
    """A contact cannot be graded (unknown, never handled, no rubric); the message says why."""


def rubric_for(recording: Recording, rubrics: list[Rubric] | None = None) -> Rubric | None:
    """The rubric this recording is graded by (grading.rubric.choose_rubric over the loaded rubrics, or over
    ``rubrics`` when the caller already holds them)."""
    return choose_rubric(
        registry.list_rubrics() if rubrics is None else rubrics,
        lang=recording.lang,
        channel=recording.channel,
        level=recording.level,
        scenario_id=recording.scenario_id,
    )


def current_scorecard(contact_id: int, rubric_id: str | None = None) -> Scorecard | None:
    """The current scorecard of a contact (of one rubric, or the newest of any)."""
    q = select(Scorecard).where(Scorecard.contact_id == contact_id, Scorecard.current.is_(True))
    if rubric_id:
        q = q.where(Scorecard.rubric_id == rubric_id)
    return db.session.scalars(q.order_by(Scorecard.id.desc())).first()


@dataclass(frozen=True)
class _Graded:
    """A contact's scorecard computed and not yet stored: ``_compute`` makes it (CPU work and reads, no writes),
    ``_save`` writes it. ``previous`` is the current row it replaces, ``columns`` the row's summary columns."""

    recording: Recording
    rubric: Rubric
    previous: Scorecard | None
    card: dict
    columns: dict
    manual: dict
    digest: str

    @property
    def changed(self) -> bool:
        return self.previous is None or self.previous.content_hash != self.digest


def _compute(recording: Recording, rubric: Rubric, previous: Scorecard | None) -> _Graded:
    """Grade one recording, carrying the previous row's manual scores over; writes nothing (a bulk regrade grades
    a chunk this way, then stores it in one short write transaction)."""
    manual = dict(previous.manual_scores or {}) if previous is not None else {}
    sc = grade(recording, rubric, manual_scores=manual, evaluators=enabled_evaluators(current_app.config))
    columns = {k: sc[k] for k in ("level", "total", "passed", "gated", "complete")}
    return _Graded(recording, rubric, previous, sc, columns, manual, content_hash(sc))


def _save(graded: _Graded) -> tuple[Scorecard, bool]:
    """Keep one current row per contact+rubric: an unchanged result keeps the existing row, a changed one
    replaces it (uncommitted)."""
    previous = graded.previous
    if not graded.changed:
        return previous, False
    if previous is not None:
        previous.current = False
    row = Scorecard(
        contact_id=graded.recording.contact_id,
        rubric_id=graded.rubric.id,
        rubric_version=graded.rubric.version,
        **graded.columns,
        data=graded.card,
        manual_scores=graded.manual,
        content_hash=graded.digest,
        current=True,
    )
    db.session.add(row)
    return row, True


def _store(recording: Recording, rubric: Rubric, previous: Scorecard | None) -> tuple[Scorecard, bool]:
    """Grade and keep one current row per contact+rubric; an unchanged result keeps the existing row."""
    return _save(_compute(recording, rubric, previous))


def _exercise_kind(contact_id: int) -> str | None:
    return db.session.scalar(
        select(Exercise.kind).join(Contact, Contact.exercise_id == Exercise.id).where(Contact.id == contact_id)
    )


LOCK_CLASS = 0x6B656675  # "kefu": the high half of a contact's grading lock key, the contact id the low half


def lock_contact_for_grading(contact_id: int) -> None:
    """Serialise the graders of one contact across processes until the transaction ends (a PostgreSQL advisory
    lock; taken again in the same transaction it is held once more; SQLite serves one process): auto-grading, the
    sweep, a grader's Grade button and the ungradeable list's retry (a bulk regrade takes its chunk's together:
    ``lock_contacts_for_grading``), so a grading and a failing one never interleave (the one would put back on the
    ungradeable list what the other just graded)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": (LOCK_CLASS << 32) | int(contact_id)})


def lock_contacts_for_grading(contact_ids: Iterable[int]) -> None:
    """``lock_contact_for_grading`` for many contacts in one statement (a bulk regrade's chunk), taken in contact id
    order: two bulk regrades over the same contacts wait for each other's lowest id and never hold a lock the other
    waits for (a deadlock). Held to the end of the transaction; nothing on SQLite. Each key held takes a slot of the
    server's shared lock table (max_locks_per_transaction x max_connections, 6,400 by default): hundreds, not more."""
    if db.session.get_bind().dialect.name == "postgresql":
        keys = [(LOCK_CLASS << 32) | cid for cid in sorted({int(c) for c in contact_ids})]
        # One round trip: the aggregate takes each lock as it reads the sorted keys (EXPLAIN: Aggregate over Sort).
        db.session.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(k)) FROM"
                " (SELECT k FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS ordered"
            ),
            {"keys": keys},
        )


def _grade_and_store(contact_id: int, rubrics: list[Rubric] | None = None) -> tuple[Recording, Rubric, Scorecard, bool]:
    """Grade one contact and store its scorecard, taking it off the ungradeable list (uncommitted), under the
    contact's grading lock: the recording, the rubric, the current row and whether it changed. Raises GradingError
    when it cannot be graded."""
    lock_contact_for_grading(contact_id)
    try:
        recording = load_recording(int(contact_id))
    except LookupError as e:
        raise GradingError(f"no contact {contact_id!r}") from e
    except (ValueError, TypeError) as e:
        # Said as it is (a scenario or pack failing its schema, a malformed id): the message is the reason kept
        # in ungradeable_contacts, and "no contact N" sent its reader looking for a row that is there.
        raise GradingError(
            f"the recording of contact {contact_id!r} could not be loaded: {type(e).__name__}: {e}"
        ) from e
    if recording.agent_id is None:
        raise GradingError(f"contact {contact_id} was never handled by an agent")
    rubric = rubric_for(recording, rubrics)
    if rubric is None:
        raise GradingError(f"no {recording.channel} rubric in {recording.lang} for level {recording.level}")
    row, changed = _store(recording, rubric, current_scorecard(recording.contact_id, rubric.id))
    _no_longer_ungradeable([recording.contact_id])  # graded now: off the list, with its scorecard or not at all
    return recording, rubric, row, changed


def do_grade_contact(contact_id: int) -> Scorecard:
    """Grade one contact from its recording and store the scorecard (one current per contact+rubric; the
    graders' manual scores are carried over). Publishes ``scorecard.graded`` to the agent's desk, except for
    exam contacts (no feedback until the panel finishes). Raises GradingError when it cannot be graded."""
    recording, rubric, row, _changed = _grade_and_store(contact_id)
    db.session.commit()
    if _exercise_kind(recording.contact_id) != "exam":
        send_event(
            {
                "type": "scorecard.graded",
                "contact_id": recording.contact_id,
                "scorecard_id": row.id,
                "rubric_id": rubric.id,
                "total": row.total,
                "passed": row.passed,
                "gated": row.gated,
            },
            [("/desk", f"agent:{recording.agent_id}")],
        )
    return row


def _no_longer_ungradeable(contact_ids: list[int]) -> None:
    """Take graded contacts off the ungradeable list, in the transaction that stores their scorecards: a pack
    that added the rubric, or a loader that was fixed, leaves no contact listed that has a scorecard."""
    if contact_ids:
        db.session.execute(delete(UngradeableContact).where(UngradeableContact.contact_id.in_(contact_ids)))


def do_record_ungradeable(contact_id: int, reason: str) -> bool:
    """Record that auto-grading cannot grade ``contact_id`` (``reason``: the GradingError's message, or why a bulk
    regrade could not store its scorecard), once: the sweep passes over it from now on. One transaction; True when
    recorded now, False when it was already. Called by the auto-grader and the bulk regrade (grading/regrade.py)
    under the contact's grading lock, so two recorders of one contact do not race."""
    if db.session.get(UngradeableContact, contact_id) is not None:
        db.session.commit()
        return False
    db.session.add(UngradeableContact(contact_id=contact_id, reason=reason[:500]))
    db.session.commit()
    return True


def select_contacts(
    contact_ids: Iterable[int] = (), exercise_id: int | None = None, everything: bool = False
) -> list[int]:
    """Ids of handled, ended contacts to regrade: the given ids, an exercise's contacts, or all of them."""
    q = select(Contact.id).where(Contact.agent_id.is_not(None), Contact.status.in_(GRADABLE_STATUSES))
    ids = [int(i) for i in contact_ids]
    if not everything:
        if not ids and exercise_id is None:
            return []
        if ids:
            q = q.where(Contact.id.in_(ids))
        if exercise_id is not None:
            q = q.where(Contact.exercise_id == exercise_id)
    return list(db.session.scalars(q.order_by(Contact.id)))


def set_manual_scores(scorecard: Scorecard, scores: dict) -> Scorecard:
    """Merge graders' scores for manual items into a contact's current scorecard and regrade it (the panel
    work builds on this). Raises GradingError for an unknown item id. Under the contact's grading lock, on the row
    current then: an auto-grading or regrade that replaced ``scorecard`` meanwhile is built on, not overwritten (the
    scores went to a row no longer current, and the grading that replaced it carried the old ones)."""
    lock_contact_for_grading(scorecard.contact_id)
    current = current_scorecard(scorecard.contact_id, scorecard.rubric_id)
    if current is not None and current.id != scorecard.id:
        scorecard = current
    rubric = registry.get_rubric(scorecard.rubric_id)
    if rubric is None:
        raise GradingError(f"rubric {scorecard.rubric_id} is not loaded")
    manual = dict(scorecard.manual_scores or {})
    for item_id, value in scores.items():
        item = rubric.item(item_id)
        if item is None or item.scoring != "manual":
            raise GradingError(f"{item_id!r} is not a manual item of {rubric.id}")
        manual[item_id] = value
    db.session.execute(update(Scorecard).where(Scorecard.id == scorecard.id).values(manual_scores=manual))
    db.session.expire(scorecard)
    recording = load_recording(scorecard.contact_id)
    try:
        row, _ = _store(recording, rubric, scorecard)
    except ValueError as e:  # a score outside the item's scale
        db.session.rollback()
        raise GradingError(str(e)) from e
    db.session.commit()
    return row


def regrade_after_transcript(contact_id: int) -> None:
    """A contact graded before its call transcript landed is graded again (the same rubric reads it now).
    Registered with the voice channel (channels.voice.transcripts.on_transcript) by grading's init_app."""
    auto = current_app.extensions.get("kefu_grading")
    if auto is not None:
        auto.wait_idle(30, contact_id=contact_id)  # a grading of this contact under way finishes first, then is redone
    db.session.expire_all()
    if current_scorecard(contact_id) is None:
        return
    try:
        do_grade_contact(contact_id)
    except GradingError as e:
        log.info("contact %s not regraded after its transcript: %s", contact_id, e)
