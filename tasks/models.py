"""Work items (back-office tasks) beside contacts: the loaded task specs, each assigned work item, and its
append-only event log (the work item's recording)."""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clock import clock
from extensions import db

WORK_ITEM_STATUSES = ("assigned", "queued", "in_progress", "submitted", "graded")


class TaskSpecRecord(db.Model):
    """A validated task spec from a pack's tasks/*.yaml (``data`` is ``TaskSpec.model_dump()``)."""

    __tablename__ = "task_specs"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    lang: Mapped[str] = mapped_column(String(8), index=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    level: Mapped[str] = mapped_column(String(4), index=True)
    title: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())


class WorkItem(db.Model):
    """One unit of back-office work given to one trainee (or waiting in a group's back-office queue).

    Life cycle: queued (in the group queue, nobody has it) | assigned -> in_progress (opened) -> submitted
    (auto items graded) -> graded (every manual item scored too). ``spec`` snapshots the spec and ``truth`` the
    generated data's answer key when the item is made, so a later pack edit never changes a grade. ``data`` is
    what the trainee sees (generated from ``seed``); ``draft`` the saved, unsubmitted work; ``submission`` the
    submitted work; ``scorecard`` the graded result in the same shape as a contact's scorecard."""

    __tablename__ = "work_items"
    __table_args__ = (Index("ix_work_items_queue", "group_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    spec_id: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    lang: Mapped[str] = mapped_column(String(8))
    level: Mapped[str] = mapped_column(String(4))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="assigned", index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), nullable=True)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    exam_id: Mapped[int | None] = mapped_column(ForeignKey("skill_exams.id"), nullable=True, index=True)
    seed: Mapped[int] = mapped_column(default=0)
    spec: Mapped[dict] = mapped_column(JSON)
    data: Mapped[dict] = mapped_column(JSON)
    truth: Mapped[dict] = mapped_column(JSON)
    draft: Mapped[dict] = mapped_column(JSON, default=dict)
    submission: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    manual_scores: Mapped[dict] = mapped_column(JSON, default=dict)
    scorecard: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    total: Mapped[float | None] = mapped_column(Float, nullable=True)
    passed: Mapped[bool | None] = mapped_column(nullable=True)
    due_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())
    opened_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    submitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    graded_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    event_count: Mapped[int] = mapped_column(default=0)


class WorkItemEvent(db.Model):
    """One appended fact about a work item (assigned, opened, draft saved, file uploaded, submitted, graded,
    manual score); ``seq`` orders them per item."""

    __tablename__ = "work_item_events"
    __table_args__ = (Index("ux_work_item_event_seq", "work_item_id", "seq", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id"), index=True)
    seq: Mapped[int] = mapped_column()
    type: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    ts: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())


class WorkItemFile(db.Model):
    """An uploaded file of a work item (XLSX, DOCX, PDF, PPTX), kept as bytes with what was read from it."""

    __tablename__ = "work_item_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))  # xlsx | docx | pdf | pptx
    size: Mapped[int] = mapped_column()
    content: Mapped[bytes] = mapped_column(db.LargeBinary)
    extracted: Mapped[dict] = mapped_column(JSON, default=dict)
    uploaded_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())
