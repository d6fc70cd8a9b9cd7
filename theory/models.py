"""Theory-exam tables: the question bank as loaded, and one row per exam or practice quiz."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clock import clock
from extensions import db


class TheoryQuestion(db.Model):
    """One question in one language; ``qid`` is unique per language. ``pool`` keeps practice items off exams;
    ``knowledge`` is the knowledge-point code, ``clause`` the standard's clause the bank names as its source, and
    ``source`` where the question was read ("<file> line <n>")."""

    __tablename__ = "theory_questions"
    __table_args__ = (UniqueConstraint("qid", "lang", name="uq_theory_question_lang"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    qid: Mapped[str] = mapped_column(String(16), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    area: Mapped[str] = mapped_column(String(32), index=True)
    levels: Mapped[list] = mapped_column(JSON)  # e.g. ["L5", "L4", "L3"]
    kind: Mapped[str] = mapped_column(String(16))  # single | multiple | true_false
    pool: Mapped[str] = mapped_column(String(16), default="exam", server_default="exam", index=True)
    knowledge: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    clause: Mapped[str] = mapped_column(String(300), default="", server_default="")
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[dict] = mapped_column(JSON, default=dict)  # {"A": "...", ...}; {} for true_false
    answer: Mapped[object] = mapped_column(JSON)  # "B" | ["A", "C"] | true | false
    explanation: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200), default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)

    def suits(self, level: str) -> bool:
        return level in (self.levels or [])


class TheoryExam(db.Model):
    """A theory exam (assigned by a lead/admin, at least 60 minutes) or a practice quiz (self-started).

    Life cycle: assigned (no questions yet) -> started (questions drawn, due_at set) -> submitted (scored).
    ``key`` snapshots the answer key when the questions are drawn, so a later bank edit cannot change a score.
    """

    __tablename__ = "theory_exams"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    level: Mapped[str] = mapped_column(String(4))
    lang: Mapped[str] = mapped_column(String(8))
    practice: Mapped[bool] = mapped_column(default=False)
    n_questions: Mapped[int] = mapped_column(default=100)
    duration_minutes: Mapped[int] = mapped_column(default=60)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    assigned_at: Mapped[datetime | None] = mapped_column(nullable=True)
    seed: Mapped[str | None] = mapped_column(String(32), nullable=True)
    question_ids: Mapped[list] = mapped_column(JSON, default=list)
    key: Mapped[dict] = mapped_column(JSON, default=dict)  # {qid: {"area", "kind", "answer"}}
    # The form as this candidate saw it: {qid: bank letters in shown order}; shown letter i is bank letter
    # option_orders[qid][i]. Answers are stored in bank letters, so scoring and item analysis need no mapping.
    option_orders: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    auto_submitted: Mapped[bool] = mapped_column(default=False)
    answers: Mapped[dict] = mapped_column(JSON, default=dict)  # {qid: answer}
    score: Mapped[float | None] = mapped_column(nullable=True)
    passed: Mapped[bool | None] = mapped_column(nullable=True)
    per_area: Mapped[dict] = mapped_column(JSON, default=dict)  # {area: {"correct", "total", "points", ...}}
    # A real exam's result stays hidden from the candidate until a lead releases it, showing only what the
    # centre chose: "score" (score and areas), "marks" (plus right/wrong per question) or "keys" (plus keys).
    released_at: Mapped[datetime | None] = mapped_column(nullable=True)
    released_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_theory_exams_released_by_id"), nullable=True
    )
    release_mode: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=lambda: clock.now())

    candidate = relationship("User", foreign_keys=[candidate_id])
    assigned_by = relationship("User", foreign_keys=[assigned_by_id])
    released_by = relationship("User", foreign_keys=[released_by_id])

    @property
    def status(self) -> str:
        """'assigned', 'in_progress' or 'submitted'."""
        if self.submitted_at is not None:
            return "submitted"
        if self.started_at is not None:
            return "in_progress"
        return "assigned"

    def due_timestamp(self) -> float | None:
        return aware(self.due_at).timestamp() if self.due_at else None

    def is_overdue(self, now_ts: float | None = None) -> bool:
        """True when started, not submitted and past the due time on the sandbox clock."""
        if self.status != "in_progress" or self.due_at is None:
            return False
        now_ts = clock.timestamp() if now_ts is None else now_ts
        return now_ts >= self.due_timestamp()


def aware(dt: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; the sandbox stores UTC, so read them back as UTC."""
    if dt is None or dt.tzinfo is not None:
        return dt
    return dt.replace(tzinfo=UTC)
