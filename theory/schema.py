"""The question-bank schema (pydantic). One YAML file per knowledge area per language:

```yaml
lang: en                       # 'zh_CN' or 'en'; must match the folder name
area: business_handling        # default area of the questions below (one of the §4.1 keys)
questions:
  - id: bh-001                 # stable; unique per language (each language's bank is written for it)
    levels: [L5, L4, L3]       # the levels it suits
    kind: single               # single | multiple | true_false
    pool: exam                 # exam (default) | practice: practice items never appear on an exam
    knowledge: "L4/2.3#1"      # the knowledge point tested (theory/knowledge_points.yaml)
    source: "§3 L4/2.3 客户投诉处理方法"   # the standard's clause, human-readable
    stem: ...
    options: {A: ..., B: ..., C: ..., D: ...}   # none for true_false
    answer: B                  # a letter; "ACD" or [A, C, D] for multiple; true/false for true_false
    explanation: ...
```

The loader (theory/loader.py) reports every error with file, line and field. ``pool``, ``knowledge`` and
``source`` are optional to the loader so that older banks still load; `flask theory check` flags missing ones.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .weights import AREAS

Level = Literal["L5", "L4", "L3"]
Kind = Literal["single", "multiple", "true_false"]
KINDS = ("single", "multiple", "true_false")
Pool = Literal["exam", "practice"]
POOLS = ("exam", "practice")
_LETTER = re.compile(r"^[A-H]$")
_QID = re.compile(r"^[a-z]{2}-\d{3}$")


def _check_area(value: str | None) -> str | None:
    if value is not None and value not in AREAS:
        raise ValueError(f"unknown knowledge area {value!r}; expected one of {', '.join(AREAS)}")
    return value


class Question(BaseModel):
    """One question of the bank."""

    model_config = ConfigDict(extra="forbid")

    id: str
    area: str | None = None
    levels: list[Level] = Field(min_length=1)
    kind: Kind
    pool: Pool = "exam"
    knowledge: str | None = None
    source: str | None = Field(default=None, max_length=300)
    stem: str = Field(min_length=1)
    options: dict[str, str] = Field(default_factory=dict)
    answer: str | list[str] | bool
    explanation: str = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _QID.match(v):
            raise ValueError(f"id {v!r} must look like 'bh-001' (two letters, a dash, three digits)")
        return v

    @field_validator("area")
    @classmethod
    def _area(cls, v: str | None) -> str | None:
        return _check_area(v)

    @field_validator("knowledge")
    @classmethod
    def _knowledge(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from .knowledge import catalogue

        v = v.strip()
        if v not in catalogue():
            raise ValueError(
                f"unknown knowledge point {v!r}; codes look like '§2.2.5.3' or 'L4/2.3#1' "
                "(see theory/knowledge_points.yaml)"
            )
        return v

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a level is listed twice")
        return v

    @field_validator("options")
    @classmethod
    def _options(cls, v: dict[str, str]) -> dict[str, str]:
        for key, text in v.items():
            if not _LETTER.match(str(key)):
                raise ValueError(f"option key {key!r} must be one capital letter A-H")
            if not str(text).strip():
                raise ValueError(f"option {key} is empty")
        return v

    @model_validator(mode="after")
    def _answer_fits(self) -> Question:
        if self.kind == "true_false":
            if self.options:
                raise ValueError("options: a true_false question has no options")
            if not isinstance(self.answer, bool):
                raise ValueError("answer: a true_false answer is true or false")
            return self
        if len(self.options) < 2:
            raise ValueError("options: a choice question needs at least two options")
        if isinstance(self.answer, bool):
            raise ValueError("answer: give option letter(s), not true/false")
        letters = list(self.answer) if isinstance(self.answer, str) else list(self.answer)
        letters = [str(x).strip() for x in letters if str(x).strip() not in ("", ",")]
        unknown = [x for x in letters if x not in self.options]
        if unknown:
            raise ValueError(f"answer: letter(s) {unknown} are not among the options {list(self.options)}")
        if len(set(letters)) != len(letters):
            raise ValueError("answer: a letter is given twice")
        if self.kind == "single" and len(letters) != 1:
            raise ValueError("answer: a single-choice question has exactly one correct letter")
        if self.kind == "multiple":
            if len(letters) < 2:
                raise ValueError("answer: a multiple-choice question has at least two correct letters")
            if len(letters) == len(self.options):
                raise ValueError("answer: every option is correct; make at least one option wrong")
        self.answer = letters[0] if self.kind == "single" else sorted(letters)
        return self


class BankFile(BaseModel):
    """One bank file: the questions of one knowledge area in one language."""

    model_config = ConfigDict(extra="forbid")

    lang: Literal["zh_CN", "en"]
    area: str
    questions: list[Question] = Field(min_length=1)

    @field_validator("area")
    @classmethod
    def _area(cls, v: str) -> str:
        return _check_area(v)
