"""A schema per work-item event type, validated when the event is appended (as contacts' events are)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _E(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Assigned(_E):
    assignee_id: int
    spec_id: str
    seed: int
    exam_id: int | None = None


class Queued(_E):
    group_id: int
    spec_id: str
    seed: int


class Claimed(_E):
    assignee_id: int


class Opened(_E):
    pass


class DraftSaved(_E):
    keys: list[str]


class FileUploaded(_E):
    file_id: int
    filename: str
    kind: str
    size: int


class FileRejected(_E):
    filename: str
    reason: str


class Submitted(_E):
    late: bool = False


class Graded(_E):
    total: float
    passed: bool
    complete: bool
    pending: list[str]


class ManualScored(_E):
    items: dict[str, object]


EVENT_TYPES: dict[str, type[_E]] = {
    "work_item.assigned": Assigned,
    "work_item.queued": Queued,
    "work_item.claimed": Claimed,
    "work_item.opened": Opened,
    "work_item.draft_saved": DraftSaved,
    "work_item.file_uploaded": FileUploaded,
    "work_item.file_rejected": FileRejected,
    "work_item.submitted": Submitted,
    "work_item.graded": Graded,
    "work_item.manual_scored": ManualScored,
}


def validate(type_: str, data: dict) -> dict:
    return EVENT_TYPES[type_].model_validate(data).model_dump()
