"""The schema of a pack's tasks/*.yaml: one work-item spec per file.

A spec names its kind, level, the skill items of the standard it exercises, the instructions, the kind's
``params`` (validated by the kind's own ``Params``) and its rubric: items tied to skill codes, scored
automatically by one of the kind's named checks or by a grader (a scale and guidance). Every skill the spec
claims must be scored by at least one item, so a covered skill is always a graded one."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grading.standard import SKILL_CODES
from scenarios.rubric import check_scoring, scale_max

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _skills(v: list[str]) -> list[str]:
    bad = [s for s in v if s not in SKILL_CODES]
    if bad:
        raise ValueError(f"unknown skill code(s) {bad}: use codes of the standard, e.g. L3/4.1.1")
    return v


class TaskItem(_Strict):
    """One scored item of a task's rubric."""

    id: str
    title: str
    skills: list[str] = Field(min_length=1)  # the first decides the function the item rolls up into
    points: float = Field(gt=0, le=100)
    scoring: Literal["auto", "manual"] = "auto"
    check: str | None = None
    params: dict = {}
    scale: str | None = None
    guidance: str | None = None

    _known = field_validator("skills")(classmethod(lambda cls, v: _skills(v)))

    @model_validator(mode="after")
    def scoring_fields(self) -> TaskItem:
        check_scoring(
            self, "check", "an automatic item names the kind's check it uses", "a manual item has no check or params"
        )
        return self

    @property
    def scale_max(self) -> int:
        return scale_max(self.scale)


class TaskSpec(_Strict):
    """One work-item spec."""

    id: str
    title: str
    kind: str
    level: Literal["L5", "L4", "L3"]
    skills: list[str] = Field(min_length=1)
    minutes: int = Field(20, ge=5, le=240)
    instructions: str
    params: dict = {}
    items: list[TaskItem] = Field(min_length=1)

    _known = field_validator("skills")(classmethod(lambda cls, v: _skills(v)))

    @field_validator("id")
    @classmethod
    def spec_id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("use lower-case letters, digits, '_', '-' or '.'")
        return v

    @model_validator(mode="after")
    def items_cover_skills(self) -> TaskSpec:
        ids = [i.id for i in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError("items: item ids must be unique")
        scored = {s for i in self.items for s in i.skills}
        missing = [s for s in self.skills if s not in scored]
        if missing:
            raise ValueError(f"skills {missing} are claimed but no item scores them")
        extra = sorted(scored - set(self.skills))
        if extra:
            raise ValueError(f"items score skills {extra} the spec does not list in skills")
        return self

    def parsed_params(self):
        from .kinds import get_kind

        return get_kind(self.kind).Params.model_validate(self.params)


def spec_problems(spec: TaskSpec) -> list[tuple[tuple, str]]:
    """Cross-checks against the kind registry: the kind exists, its params validate, every automatic item's
    check is one of the kind's checks and its params validate."""
    from .kinds import kinds

    cls = kinds().get(spec.kind)
    if cls is None:
        return [(("kind",), f"unknown kind {spec.kind!r}; known: {sorted(kinds())}")]
    problems: list[tuple[tuple, str]] = []
    try:
        cls.Params.model_validate(spec.params)
    except ValidationError as e:
        for err in e.errors(include_url=False):
            problems.append((("params", *err["loc"]), err["msg"].removeprefix("Value error, ")))
    for i, item in enumerate(spec.items):
        if item.scoring != "auto":
            continue
        model = cls.checks.get(item.check or "")
        if model is None:
            problems.append(
                (("items", i, "check"), f"kind {spec.kind} has no check {item.check!r}; known: {sorted(cls.checks)}")
            )
            continue
        try:
            model.model_validate(item.params)
        except ValidationError as e:
            for err in e.errors(include_url=False):
                problems.append((("items", i, "params", *err["loc"]), err["msg"].removeprefix("Value error, ")))
    if not problems and spec.kind == "data_query":
        qids = {q["id"] for q in spec.params.get("questions", [])}
        for i, item in enumerate(spec.items):
            for q in item.params.get("questions", []):
                if q not in qids:
                    problems.append((("items", i, "params", "questions"), f"no question {q!r} in params"))
    return problems
