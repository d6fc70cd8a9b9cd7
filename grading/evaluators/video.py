"""Video evaluators: the identity decision on the card shown, and how the trainee appeared on camera (face
present, lit and centred), from the ``video.*`` events the video channel records."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..recording import Event, Recording
from .base import N_, BaseEvaluator, Evidence, ItemResult, evidence

VIDEO = frozenset({"video"})
HINT_EVIDENCE_MAX = 5  # hint changes quoted as evidence (the moments a grader may want to jump to)


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _card_text(recording: Recording) -> str:
    sc = recording.scenario
    card = sc.video.id_card if sc and sc.video else None
    return f"{card.name} / {card.id_number}" if card else "?"


class IdVerificationParams(_P):
    # wrong_decision: the decision of record (the last one) must be the right one, a refusal with a reason.
    # approved_mismatch: only fails when an ID that does not match the CRM was ever approved (a gate item).
    fail_on: Literal["wrong_decision", "approved_mismatch"] = "wrong_decision"
    min_reason_chars: int = Field(4, ge=1)


class IdVerification(BaseEvaluator):
    """The agent's identity decision on the card shown by video (``video.id_verification`` events) against
    the scenario's ``expected.id_decision`` (approved exactly when the card matches the CRM record).

    ``fail_on: wrong_decision``: passes when the last decision is the expected one (a refusal with a reason of
    at least ``min_reason_chars``); fails on a wrong decision or none. ``fail_on: approved_mismatch``: fails
    when a mismatching ID was approved at any time (even if refused later): a serious error, meant as a
    scorecard gate; N/A when the card matches. N/A when the scenario has no identity check."""

    name = "id_verification"
    channels = VIDEO
    Params = IdVerificationParams

    def evaluate(self, recording: Recording, params: IdVerificationParams) -> ItemResult:
        sc = recording.scenario
        expected = sc.expected.id_decision if sc else None
        if not expected:
            return ItemResult.na(N_("the scenario has no identity check"))
        card = _card_text(recording)
        decisions = recording.of_type("video.id_verification")
        if params.fail_on == "approved_mismatch":
            if expected == "approved":
                return ItemResult.na(N_("the card shown ({card}) matches the CRM record", card=card))
            approved = [d for d in decisions if d.fields.decision == "approved"]
            if approved:
                ev = [
                    evidence(d, N_("approved the card {card}, which does not match the CRM record", card=card))
                    for d in approved
                ]
                return ItemResult.of(False, ev, N_("approved an ID that does not match the CRM record"))
            ev = [evidence(d, N_("refused: {reason}", reason=d.text or "")) for d in decisions]
            return ItemResult.of(True, ev, N_("the mismatching ID was never approved"))
        if not decisions:
            return ItemResult.of(
                False,
                [evidence(None, N_("no identity decision; expected {expected}", expected=expected))],
                N_("no decision"),
            )
        last = decisions[-1]
        got = last.fields.decision
        ev: list[Evidence] = [
            evidence(d, N_("earlier decision: {decision}", decision=d.fields.decision)) for d in decisions[:-1]
        ]
        if got != expected:
            ev.append(
                evidence(
                    last, N_("{got}; the card {card} called for {expected}", got=got, card=card, expected=expected)
                )
            )
            return ItemResult.of(False, ev, N_("{got}, expected {expected}", got=got, expected=expected))
        if got == "refused" and len((last.text or "").strip()) < params.min_reason_chars:
            ev.append(evidence(last, N_("refused without saying why")))
            return ItemResult.of(False, ev, N_("refused without a reason"))
        ev.append(evidence(last, N_("{got}, as the card {card} called for", got=got, card=card)))
        return ItemResult.of(True, ev, N_("{got}, correctly", got=got))


def _camera(recording: Recording) -> tuple[Event | None, list[Event], Event | None]:
    """The summary of record (the final one, else the latest), the hint changes and a camera-unavailable mark."""
    summaries = recording.of_type("video.camera_summary")
    final = [e for e in summaries if e.fields.final]
    summary = (final or summaries or [None])[-1]
    hints = recording.of_type("video.camera_hint")
    missing = next(iter(recording.of_type("video.camera_unavailable")), None)
    return summary, hints, missing


def _hint_evidence(hints: list[Event], wanted: set[str]) -> list[Evidence]:
    picked = [h for h in hints if h.fields.hint in wanted][:HINT_EVIDENCE_MAX]
    return [evidence(h, N_("hint: {hint}", hint=h.fields.hint), quote="") for h in picked]


class FacePresenceParams(_P):
    min_ratio: float = Field(0.8, gt=0, le=1)
    min_samples: int = Field(4, ge=1)
    camera_missing: Literal["fail", "na"] = "fail"  # a video call taken without a camera


class FacePresence(BaseEvaluator):
    """The trainee stayed in the picture: the face-present ratio of the camera summary of record is at least
    ``min_ratio`` (fraction = ratio / min_ratio, capped at 1). Evidence: the summary and the moments the face
    went missing. A call taken without a camera fails (or is N/A with ``camera_missing: na``); no camera
    analysis at all, or fewer than ``min_samples`` samples, is N/A."""

    name = "face_presence"
    channels = VIDEO
    Params = FacePresenceParams

    def evaluate(self, recording: Recording, params: FacePresenceParams) -> ItemResult:
        summary, hints, missing = _camera(recording)
        if summary is None or not summary.fields.samples:
            if missing is not None:
                note = N_("no camera on this video call ({reason})", reason=missing.fields.reason)
                if params.camera_missing == "na":
                    return ItemResult.na(note)
                return ItemResult.of(False, [evidence(missing, note)], note)
            return ItemResult.na(N_("no camera analysis was recorded"))
        samples = int(summary.fields.samples)
        if samples < params.min_samples:
            return ItemResult.na(N_("only {samples} camera samples", samples=samples))
        ratio = float(summary.fields.face_present_ratio or 0.0)
        note = N_(
            "face in the picture {ratio:.0%} of {samples} samples (needs {min_ratio:.0%})",
            ratio=ratio,
            samples=samples,
            min_ratio=params.min_ratio,
        )
        ev = [evidence(summary, note, quote="")] + _hint_evidence(hints, {"no_face"})
        return ItemResult.of(ratio >= params.min_ratio, ev, note, fraction=min(1.0, ratio / params.min_ratio))


class CameraFramingParams(_P):
    max_dark_ratio: float = Field(0.2, ge=0, le=1)
    max_off_centre_ratio: float = Field(0.3, ge=0, le=1)
    min_samples: int = Field(4, ge=1)


class CameraFraming(BaseEvaluator):
    """The trainee's picture was lit and centred: the too-dark share of samples at most ``max_dark_ratio`` and
    the off-centre share at most ``max_off_centre_ratio``; fraction = conditions met / 2. Evidence: the
    summary and the moments the hint turned too_dark or off_centre. N/A without camera analysis."""

    name = "camera_framing"
    channels = VIDEO
    Params = CameraFramingParams

    def evaluate(self, recording: Recording, params: CameraFramingParams) -> ItemResult:
        summary, hints, _ = _camera(recording)
        samples = int(summary.fields.samples or 0) if summary is not None else 0
        if samples < params.min_samples:
            return ItemResult.na(
                N_("no camera analysis was recorded")
                if summary is None
                else N_("only {samples} samples", samples=samples)
            )
        dark = float(summary.fields.dark_ratio or 0.0)
        off = float(summary.fields.off_centre_ratio or 0.0)
        ok_dark, ok_off = dark <= params.max_dark_ratio, off <= params.max_off_centre_ratio
        note = N_(
            "too dark {dark:.0%} (max {max_dark_ratio:.0%}), off-centre {off:.0%} (max {max_off_centre_ratio:.0%})",
            dark=dark,
            max_dark_ratio=params.max_dark_ratio,
            off=off,
            max_off_centre_ratio=params.max_off_centre_ratio,
        )
        ev = [evidence(summary, note, quote="")] + _hint_evidence(hints, {"too_dark", "off_centre"})
        return ItemResult.of(ok_dark and ok_off, ev, note, fraction=(ok_dark + ok_off) / 2)
