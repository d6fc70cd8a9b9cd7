"""The evaluator registry: ``EVALUATORS`` maps a rubric's ``evaluator`` name to its BaseEvaluator subclass.

Built from one explicit list (no folder scanning, no monkey-patching). Later channels add their modules and
list their classes here. ``GRADING_EVALUATORS`` in the config may restrict which are enabled.
"""

from __future__ import annotations

from .accuracy import AnswerCorrect, EmailAnswerCorrect
from .base import ALL_CHANNELS, BaseEvaluator, Evidence, ItemResult, evidence
from .desk import (
    CompensationLimit,
    Escalation,
    KbArticle,
    TicketEndState,
    TransferNote,
    VerifyBeforeDisclose,
    WrapUpCode,
)
from .email import EmailForbiddenPhrases, EmailFormat, EmailResponseTime
from .escalated import EscalatedEnquiry, ExtraHelp, OwnsComplaint, ReportBack, RiskFlagged, WithinAuthority
from .group import GroupAnswerTime, GroupForbiddenPhrases, GroupIndividualMoved, GroupNeedsAnswered
from .livestream import (
    AudioLevel,
    ComplaintOffline,
    FacePresent,
    LiveForbiddenWords,
    QuestionsAnswered,
    ResponseTime,
)
from .outcome import CustomerOutcome
from .phrases import ForbiddenPhrases, RequiredPhrases, StepOrder
from .resolution import EmailProblemAddressed, ProblemAddressed
from .spoken import SpokenAnswerCorrect, SpokenForbidden, SpokenPhrases, SpokenSteps
from .timing import FirstResponse, ReplyGaps
from .video import CameraFraming, FacePresence, IdVerification
from .voice import DeadAir, HoldTime, Overtalk, ResponseLatency, TalkRatio

_ALL: tuple[type[BaseEvaluator], ...] = (
    FirstResponse,
    ReplyGaps,
    RequiredPhrases,
    ForbiddenPhrases,
    StepOrder,
    VerifyBeforeDisclose,
    AnswerCorrect,
    ProblemAddressed,
    EmailProblemAddressed,
    EmailAnswerCorrect,
    SpokenAnswerCorrect,
    TicketEndState,
    Escalation,
    CompensationLimit,
    KbArticle,
    CustomerOutcome,
    TransferNote,
    WrapUpCode,
    EmailFormat,
    EmailForbiddenPhrases,
    EmailResponseTime,
    QuestionsAnswered,
    ResponseTime,
    LiveForbiddenWords,
    ComplaintOffline,
    FacePresent,
    AudioLevel,
    IdVerification,
    FacePresence,
    CameraFraming,
    DeadAir,
    Overtalk,
    ResponseLatency,
    TalkRatio,
    HoldTime,
    SpokenPhrases,
    SpokenForbidden,
    SpokenSteps,
    GroupNeedsAnswered,
    GroupAnswerTime,
    GroupIndividualMoved,
    GroupForbiddenPhrases,
    EscalatedEnquiry,
    ReportBack,
    RiskFlagged,
    OwnsComplaint,
    WithinAuthority,
    ExtraHelp,
)

EVALUATORS: dict[str, type[BaseEvaluator]] = {cls.name: cls for cls in _ALL}
assert len(EVALUATORS) == len(_ALL), "evaluator names are unique"


def enabled_evaluators(config: dict | None = None) -> dict[str, type[BaseEvaluator]]:
    """The evaluators switched on: all of them, or those named in ``config["GRADING_EVALUATORS"]``."""
    names = (config or {}).get("GRADING_EVALUATORS")
    if names is None:
        return dict(EVALUATORS)
    return {n: EVALUATORS[n] for n in names if n in EVALUATORS}


__all__ = ["ALL_CHANNELS", "EVALUATORS", "BaseEvaluator", "Evidence", "ItemResult", "enabled_evaluators", "evidence"]
