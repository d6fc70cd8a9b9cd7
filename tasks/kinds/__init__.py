"""Work-item kinds: a typed registry like the channels and evaluators.

A kind turns a spec's ``params`` and a seed into what the trainee sees (``data``) and the answer key
(``truth``); it validates a submission; and it runs the named automatic checks that a spec's rubric items use.
Kinds are enabled by the explicit ``TASK_KINDS`` dict below, never by scanning folders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class TaskError(Exception):
    """A work-item request or submission refused, with the message the trainee sees; ``status`` for routes."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


class StrictParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class CheckResult:
    """One automatic check: the fraction earned (0..1), a note for the scorecard, evidence lines."""

    fraction: float
    note: str = ""
    evidence: list[dict] = field(default_factory=list)
    na: bool = False


class BaseTaskKind:
    """The fixed method set of a work-item kind.

    ``Params`` validates the spec's params; ``checks`` names the automatic checks (rubric items refer to them
    with ``check:``) and the params model of each; ``uploads`` the file kinds the page accepts."""

    key: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = StrictParams
    checks: ClassVar[dict[str, type[BaseModel]]] = {}
    uploads: ClassVar[tuple[str, ...]] = ()

    def generate(self, params: BaseModel, seed: int, lang: str) -> tuple[dict, dict]:
        """(data shown to the trainee, truth kept for grading), the same for the same seed."""
        raise NotImplementedError

    def clean_submission(self, params: BaseModel, data: dict, body: dict) -> dict:
        """The submission (or a draft) as stored: validated and normalised; TaskError when malformed."""
        raise NotImplementedError

    def run_check(self, check: str, cparams: BaseModel, params: BaseModel, data: dict, truth: dict, sub: dict,
                  files: dict) -> CheckResult:  # fmt: skip
        """Score one automatic check of a submission. ``files``: kind -> extracted content of the latest upload."""
        raise NotImplementedError

    def result_view(self, params: BaseModel, data: dict, truth: dict, sub: dict | None) -> dict:
        """Extra figures shown with a graded result (e.g. the service level a staffing plan reaches)."""
        return {}


def _registry() -> dict[str, type[BaseTaskKind]]:
    from .data import DataCorrection, DataQuery, Spreadsheet
    from .operations import CallbackPlan, StaffingPlan
    from .review import ErrorSpotting, QaEvaluation
    from .writing import Report, Writing

    kinds = (DataQuery, DataCorrection, Spreadsheet, ErrorSpotting, QaEvaluation, Writing, Report, StaffingPlan,
             CallbackPlan)  # fmt: skip
    return {k.key: k for k in kinds}


TASK_KINDS: dict[str, type[BaseTaskKind]] = {}


def kinds() -> dict[str, type[BaseTaskKind]]:
    """The enabled kinds, key -> class (built on first use: the kind modules import this one)."""
    if not TASK_KINDS:
        TASK_KINDS.update(_registry())
    return TASK_KINDS


def get_kind(key: str) -> BaseTaskKind:
    cls = kinds().get(key)
    if cls is None:
        raise TaskError(f"unknown task kind {key!r}")
    return cls()
