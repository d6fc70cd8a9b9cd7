"""Loaded content: one row per scenario and one per language pack (the validated pydantic dump as JSON)."""

from __future__ import annotations

from sqlalchemy import JSON, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from clock import clock
from extensions import db


class ScenarioRecord(db.Model):
    """A validated Scenario; ``data`` is ``Scenario.model_dump()``, the other columns are for filtering."""

    __tablename__ = "scenario_records"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # the scenario id, e.g. zh-refund-late
    lang: Mapped[str] = mapped_column(String(8), index=True)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    level: Mapped[str] = mapped_column(String(4), index=True)
    queue: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    family: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    data: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())


class PackRecord(db.Model):
    """A validated PackInfo per language (move lexicon, wrap-up codes, snippets, queues, limits)."""

    __tablename__ = "scenario_packs"
    lang: Mapped[str] = mapped_column(String(8), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())


class RubricRecord(db.Model):
    """A validated grading rubric (``scenarios.rubric.Rubric.model_dump()``), loaded from a pack's rubrics/."""

    __tablename__ = "rubric_records"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    lang: Mapped[str] = mapped_column(String(8), index=True)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    data: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())
