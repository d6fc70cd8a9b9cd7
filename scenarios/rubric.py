"""The schema of a pack's rubrics (scenarios/packs/<lang>/rubrics/*.yaml): rubrics are content, loaded and checked
with the rest of a pack, so their schema lives here; grading (grading/rubric.py) adds what needs its evaluators
(``rubric_problems``, registered with the loader) and how a contact finds its rubric (``choose_rubric``).

A rubric lists items; each item is tied to skill codes of the standard, carries points, and is scored either
automatically (``evaluator`` + ``params``, the params validated by that evaluator's own ``Params`` model) or by
a grader (``scale`` yes_no or 0..N, with ``guidance``). ``gate`` says what a failed item does beyond its
points: ``section`` zeroes its function, ``scorecard`` fails the whole scorecard.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .schema import Channel, Level
from .skills import SKILL_CODES

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_SCALE = re.compile(r"^(yes_no|0\.\.([1-9]|10))$")


def check_scoring(item, auto_field: str, needs_auto: str, no_auto: str) -> None:
    """The scoring rules shared by rubric items and task items: an automatic item names what scores it
    (``auto_field``: its evaluator or check) and has no scale; a manual item has no such field and no params, a
    scale (yes_no or 0..N) and guidance for the grader."""
    if item.scoring == "auto":
        if not getattr(item, auto_field):
            raise ValueError(f"{auto_field}: {needs_auto}")
        if item.scale is not None:
            raise ValueError("scale: only manual items have a scale")
        return
    if getattr(item, auto_field) or item.params:
        raise ValueError(f"{auto_field}: {no_auto}")
    if not item.scale or not _SCALE.match(item.scale):
        raise ValueError("scale: a manual item needs a scale: yes_no or 0..N (N from 1 to 10)")
    if not item.guidance:
        raise ValueError("guidance: a manual item tells the grader what to look for")


def scale_max(scale: str | None) -> int:
    """The top of a manual scale (1 for yes_no)."""
    if scale == "yes_no" or not scale:
        return 1
    return int(scale.split("..")[1])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RubricItem(_Strict):
    """One scored item of a rubric."""

    id: str
    title: str
    skills: list[str] = Field(min_length=1)  # the first code decides the function the item rolls up into
    points: float = Field(ge=0, le=100)  # 0: a pure gate (it fails the scorecard, never adds or costs points)
    scoring: Literal["auto", "manual"] = "auto"
    evaluator: str | None = None
    params: dict = {}
    gate: Literal["none", "section", "scorecard"] = "none"
    guidance: str | None = None  # manual items: what the grader looks for
    scale: str | None = None  # manual items: "yes_no" or "0..N" (N 1-10)

    @field_validator("id")
    @classmethod
    def item_id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("use lower-case letters, digits, '_', '-' or '.'")
        return v

    @field_validator("skills")
    @classmethod
    def known_skills(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if s not in SKILL_CODES]
        if bad:
            raise ValueError(f"unknown skill code(s) {bad}: use codes of the standard, e.g. L4/2.2.2")
        return v

    @model_validator(mode="after")
    def scoring_fields(self) -> RubricItem:
        if self.points == 0 and self.gate != "scorecard":
            raise ValueError("points: only a scorecard gate may carry 0 points (a pure gate)")
        check_scoring(
            self, "evaluator", "an automatic item names its evaluator", "a manual item has no evaluator or params"
        )
        return self

    @property
    def scale_max(self) -> int:
        """The top of a manual scale (1 for yes_no)."""
        return scale_max(self.scale)


class Rubric(_Strict):
    """A versioned rubric for one language and channel, for the listed levels (and, when ``scenarios`` is not
    empty, only for those scenarios: a scenario-specific rubric wins over the channel's general one)."""

    id: str
    version: int = Field(1, ge=1)
    lang: Literal["zh_CN", "en"]
    channel: Channel
    levels: list[Level] = Field(min_length=1)
    title: str
    scenarios: list[str] = []
    # The least rubric points that must be scored (pass or fail, not N/A or pending) for the scorecard to have a
    # total; below it the scorecard says "too little evidence" and is not passed.
    min_scored_points: float = Field(20, ge=0, le=100)
    items: list[RubricItem] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def rubric_id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("use lower-case letters, digits, '_', '-' or '.'")
        return v

    def item(self, item_id: str) -> RubricItem | None:
        return next((i for i in self.items if i.id == item_id), None)
