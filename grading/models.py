"""Scorecard: the stored result of grading one contact against one rubric."""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from clock import clock
from extensions import db


class Scorecard(db.Model):
    """One graded result. Per contact and rubric exactly one row is ``current``; regrading adds a new current
    row only when the content changed (``content_hash``) and keeps the old one as history. ``manual_scores``
    holds graders' scores for manual items; regrading carries them over into the new row."""

    __tablename__ = "scorecards"
    __table_args__ = (Index("ix_scorecards_current", "contact_id", "rubric_id", "current"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    rubric_id: Mapped[str] = mapped_column(String(80), index=True)
    rubric_version: Mapped[int] = mapped_column(default=1)
    level: Mapped[str] = mapped_column(String(4))
    total: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(default=False)
    gated: Mapped[bool] = mapped_column(default=False)
    complete: Mapped[bool] = mapped_column(default=False)  # no manual item pending
    data: Mapped[dict] = mapped_column(JSON)
    manual_scores: Mapped[dict] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    current: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())


class UngradeableContact(db.Model):
    """A wrapped-up contact that auto-grading cannot grade for a reason that does not pass with time (a
    GradingError: no rubric for its channel, language and level; never handled by an agent; a recording that
    does not load), recorded once so that the sweep (grading/sweep.py) does not try it again every hour. The
    regrade command still grades it (a pack adding the rubric, a fixed loader; ``flask grading regrade
    --ungradeable`` tries the whole list again), and a contact graded by any path leaves the list in the
    transaction that stores its scorecard. A failure that may pass (the database away, an evaluator's bug) is
    not recorded here: it is retried after a back-off (grading/auto.py)."""

    __tablename__ = "ungradeable_contacts"
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True, autoincrement=False)
    reason: Mapped[str] = mapped_column(String(500))
    recorded_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())


class Panel(db.Model):
    """A set of recorded contacts scored independently by an odd number (≥ 3) of graders; the final manual
    score per item is the graders' median. A calibration panel also holds an expert key (assignments with
    ``is_key``) that each grader is compared with."""

    __tablename__ = "grading_panels"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    calibration: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | finished
    contact_ids: Mapped[list] = mapped_column(JSON, default=list)  # in the order they were picked
    grader_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class PanelAssignment(db.Model):
    """One grader's (or, with ``is_key``, the expert key's) scoring of one contact of a panel."""

    __tablename__ = "grading_panel_assignments"
    __table_args__ = (Index("ux_panel_assignment", "panel_id", "contact_id", "grader_id", "is_key", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("grading_panels.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    grader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    is_key: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | submitted
    submitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class PanelScore(db.Model):
    """A value for one manual item in one assignment: 0..N on the item's scale (yes/no: 1 = yes, 0 = no)."""

    __tablename__ = "grading_panel_scores"
    __table_args__ = (Index("ux_panel_score", "assignment_id", "item_id", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("grading_panel_assignments.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(80))
    value: Mapped[int]
    note: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class SkillExam(db.Model):
    """A timed skill test (§1.9: at least 30 minutes, 100 points, 60 passes) for one candidate: a fixed,
    ordered scenario set chosen by the lead, served one after another to the candidate only.

    Life cycle: scheduled -> running -> finished (time up, set done, or ended by the lead) -> graded (every
    scorecard complete, or the lead closed grading). ``released_at``: the candidate sees the result only after
    it. ``exercise_id`` links the contacts to an Exercise of kind "exam", which keeps practice feedback off."""

    __tablename__ = "skill_exams"
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    scheduled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    level: Mapped[str] = mapped_column(String(4))
    lang: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default="scheduled", index=True)
    duration_minutes: Mapped[int] = mapped_column(default=30)
    k: Mapped[int] = mapped_column(default=1)  # attempts required per scenario family (pass^k)
    scenario_ids: Mapped[list] = mapped_column(JSON, default=list)  # the lead's ordered set
    exercise_id: Mapped[int | None] = mapped_column(ForeignKey("exercises.id"), nullable=True)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ends_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)  # completed | time_up | ended
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    total: Mapped[float | None] = mapped_column(Float, nullable=True)
    passed: Mapped[bool | None] = mapped_column(nullable=True)
    released_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())


class SkillExamAttempt(db.Model):
    """One planned serving of a scenario in a skill exam (``attempt`` = the n-th attempt of its family).

    outcome: pending (not yet served), served (customer out), wrapped_up, abandoned (the customer left before
    being answered), time_up (still open or in wrap-up when time ran out; ended by the exam), not_served
    (time ran out first, or the scenario could not start)."""

    __tablename__ = "skill_exam_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("skill_exams.id"), index=True)
    position: Mapped[int] = mapped_column()
    scenario_id: Mapped[str] = mapped_column(String(80))
    family: Mapped[str] = mapped_column(String(80))
    attempt: Mapped[int] = mapped_column(default=1)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(12), default="pending")
    # simulated: the simulator plays the customer; roleplay: a person does, from a role-play link (roleplay/)
    mode: Mapped[str] = mapped_column(String(12), default="simulated", server_default="simulated")
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    served_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
