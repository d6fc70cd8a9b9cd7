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
