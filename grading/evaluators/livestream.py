"""Livestream evaluators (L3/1.2.1-1.2.2): questions acknowledged and answered, response time, forbidden words
in the presenter's replies and pins, the complaint taken offline, the presenter's face on camera, audio level.

They read the livestream contact's events only: ``livestream.comment`` (the simulator's comments carry
``data.sim = {kind, need}``; a person's comment ending in a question mark is a question of its own),
``livestream.answered`` / ``pinned`` / ``reply`` / ``moved_to_chat`` (with ``comment_seq``) and
``livestream.presenter_samples`` (one sample a second: ``face``, ``level_dbfs``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from livestream.answering import MARKED, answers_question

from ..phrases import find_phrase, pack_recogniser
from ..recording import Event, Recording
from .base import N_, BaseEvaluator, ItemResult, evidence

LIVE = frozenset({"livestream"})
QUESTION_KINDS = ("question", "repeat")
ACK_TYPES = ("livestream.answered", "livestream.pinned", "livestream.reply", "livestream.moved_to_chat")


@dataclass
class Need:
    """One distinct question: a KB need asked by the simulated audience (maybe many times, in other words),
    or one question a person wrote. ``acked``/``answered``: the first presenter action on any of its comments."""

    key: str
    first: Event
    seqs: set[int] = field(default_factory=set)
    acked: Event | None = None
    answered: Event | None = None


def _is_question(e: Event) -> str | None:
    sim = e.fields.sim
    if sim:
        return sim.get("need") if sim.get("kind") in QUESTION_KINDS and sim.get("need") else None
    text = (e.text or "").strip()
    return f"seq:{e.seq}" if text.endswith(("?", "？")) else None


def questions(recording: Recording) -> list[Need]:
    """The distinct questions of a livestream and when the presenter first acknowledged and answered each
    (answered: ``livestream.answering``, the rule the simulated audience follows, with the pack's Reader; a
    recording without a pack has only its marked answers counted)."""
    reader = pack_recogniser(recording.pack) if recording.pack is not None else None
    needs: dict[str, Need] = {}
    by_seq: dict[int, Need] = {}
    for e in recording.of_type("livestream.comment"):
        key = _is_question(e)
        if key is None:
            continue
        need = needs.setdefault(key, Need(key, e))
        need.seqs.add(e.seq)
        by_seq[e.seq] = need
    for e in recording.of_type(*ACK_TYPES):
        need = by_seq.get(e.fields.comment_seq)
        if need is None:
            continue
        need.acked = need.acked or e
        if need.answered is None and (
            e.type == MARKED or (reader is not None and answers_question(e.type, e.text, reader))
        ):
            need.answered = e
    return list(needs.values())


class AnsweredParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pass_share: float = Field(0.6, ge=0, le=1)  # share of distinct questions answered to pass
    min_questions: int = Field(1, ge=1)


class QuestionsAnswered(BaseEvaluator):
    """The presenter answers (marks answered, or pins or writes an answer to) at least ``pass_share`` of the distinct
    questions; partial credit is the share answered. The note also gives the share acknowledged (answered,
    replied to, or moved to a one-to-one chat). N/A with fewer than ``min_questions`` questions."""

    name = "livestream_questions_answered"
    channels = LIVE
    Params = AnsweredParams

    def evaluate(self, recording: Recording, params: AnsweredParams) -> ItemResult:
        needs = questions(recording)
        if len(needs) < params.min_questions:
            return ItemResult.na(N_("no questions were asked"))
        answered = [n for n in needs if n.answered]
        acked = [n for n in needs if n.acked]
        share = len(answered) / len(needs)
        ev = [evidence(n.first, N_("not answered")) for n in needs if not n.answered][:5]
        ev += [evidence(n.answered, N_("answered")) for n in answered][:3]
        note = N_(
            "{n_answered}/{n_needs} distinct questions answered, {n_acked}/{n_needs} acknowledged",
            n_answered=len(answered),
            n_needs=len(needs),
            n_acked=len(acked),
        )
        return ItemResult.of(share >= params.pass_share, ev, note, fraction=share)


class ResponseTimeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_median_seconds: float = Field(60, gt=0)


class ResponseTime(BaseEvaluator):
    """The median time from a question's first asking to the presenter's first acknowledgement is within
    ``max_median_seconds``. Unacknowledged questions count as waiting until the stream ended. N/A without
    questions."""

    name = "livestream_response_time"
    channels = LIVE
    Params = ResponseTimeParams

    def evaluate(self, recording: Recording, params: ResponseTimeParams) -> ItemResult:
        needs = questions(recording)
        if not needs:
            return ItemResult.na(N_("no questions were asked"))
        end = recording.events[-1].ts
        waits = [((n.acked.ts if n.acked else end) - n.first.ts, n) for n in needs]
        median = statistics.median(w for w, _ in waits)
        slowest = max(waits, key=lambda x: x[0])
        ev = [evidence(slowest[1].first, N_("slowest: {slowest:.0f} s to acknowledge", slowest=slowest[0]))]
        return ItemResult.of(
            median <= params.max_median_seconds, ev, N_("median response {median:.0f} s", median=median)
        )


class LiveForbiddenParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    extra_phrases: list[str] = []


class LiveForbiddenWords(BaseEvaluator):
    """No presenter reply or pinned answer uses a forbidden phrase (the pack's list and ``forbidden`` move
    lexicon, plus ``extra_phrases``). N/A when the presenter wrote nothing."""

    name = "livestream_forbidden_words"
    channels = LIVE
    Params = LiveForbiddenParams

    def evaluate(self, recording: Recording, params: LiveForbiddenParams) -> ItemResult:
        written = recording.of_type("livestream.reply", "livestream.pinned")
        if not written:
            return ItemResult.na(N_("the presenter wrote nothing in the chat"))
        phrases = list(params.extra_phrases) + (list(recording.pack.forbidden_phrases) if recording.pack else [])
        rec = pack_recogniser(recording.pack) if recording.pack else None
        ev = []
        for e in written:
            hit = find_phrase(e.text, phrases, recording.lang) if phrases else None
            if hit is None and rec is not None:
                hit = rec.evidence(e.text or "", None).get("forbidden")
            if hit:
                ev.append(evidence(e, N_("forbidden: “{hit}”", hit=hit)))
        if ev:
            return ItemResult.of(False, ev, N_("{n} reply(ies) with a forbidden phrase", n=len(ev)))
        return ItemResult.of(True, [], N_("none in {n_written} replies and pins", n_written=len(written)))


class ComplaintOffline(BaseEvaluator):
    """A complaint raised in the live chat is taken to a one-to-one chat (not argued in public). N/A when
    nobody complained."""

    name = "livestream_complaint_offline"
    channels = LIVE

    def evaluate(self, recording: Recording, params: BaseModel) -> ItemResult:
        complaints = [
            e for e in recording.of_type("livestream.comment") if (e.fields.sim or {}).get("kind") == "complaint"
        ]
        if not complaints:
            return ItemResult.na(N_("no complaint in the chat"))
        moved = {e.fields.viewer: e for e in recording.of_type("livestream.moved_to_chat")}
        viewer = complaints[0].fields.viewer
        if viewer in moved:
            m = moved[viewer]
            wait = m.ts - complaints[0].ts
            moved_note = N_("moved to chat contact {contact}", contact=m.fields.chat_contact_id)
            return ItemResult.of(True, [evidence(m, moved_note)], N_("taken offline after {wait:.0f} s", wait=wait))
        left = N_("{n} complaint comment(s) left in the public chat", n=len(complaints))
        return ItemResult.of(False, [evidence(complaints[0], N_("never moved to a one-to-one chat"))], left)


def _samples(recording: Recording) -> list[tuple[Event, dict]]:
    return [(e, s) for e in recording.of_type("livestream.presenter_samples") for s in e.fields.samples or []]


class FaceParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_ratio: float = Field(0.8, ge=0, le=1)


class FacePresent(BaseEvaluator):
    """The presenter's face is on camera in at least ``min_ratio`` of the once-a-second samples (Haar face
    detection). Partial credit is the ratio. N/A when no sample was analysed for a face."""

    name = "livestream_face_present"
    channels = LIVE
    Params = FaceParams

    def evaluate(self, recording: Recording, params: FaceParams) -> ItemResult:
        samples = [(e, s) for e, s in _samples(recording) if "face" in s]
        if not samples:
            return ItemResult.na(N_("no video samples were analysed"))
        ratio = sum(1 for _, s in samples if s["face"]) / len(samples)
        missing = [e for e, s in samples if not s["face"]]
        ev = [evidence(missing[0], N_("first sample without a face"), quote="")] if missing else []
        note = N_("face present in {ratio:.0%} of {n_samples} samples", ratio=ratio, n_samples=len(samples))
        return ItemResult.of(
            ratio >= params.min_ratio, ev, note, fraction=min(1.0, ratio / max(params.min_ratio, 1e-9))
        )


class AudioParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_median_dbfs: float = -40.0  # quieter than this: the audience strains to hear
    max_clipping_share: float = Field(0.05, ge=0, le=1)  # seconds at or above -1 dBFS
    max_silence_share: float = Field(0.5, ge=0, le=1)  # seconds below -55 dBFS (dead air on a livestream)


class AudioLevel(BaseEvaluator):
    """The presenter is audible: median level of the once-a-second samples at least ``min_median_dbfs``,
    few clipped seconds, and not mostly silent. N/A without audio samples."""

    name = "livestream_audio_level"
    channels = LIVE
    Params = AudioParams

    def evaluate(self, recording: Recording, params: AudioParams) -> ItemResult:
        levels = [(e, s["level_dbfs"]) for e, s in _samples(recording) if s.get("level_dbfs") is not None]
        if not levels:
            return ItemResult.na(N_("no audio samples"))
        values = [v for _, v in levels]
        median = statistics.median(values)
        clipping = sum(1 for v in values if v >= -1.0) / len(values)
        silence = sum(1 for v in values if v < -55.0) / len(values)
        ok = median >= params.min_median_dbfs and clipping <= params.max_clipping_share
        ok = ok and silence <= params.max_silence_share
        note = N_(
            "median {median:.0f} dBFS, clipped {clipping:.0%}, silent {silence:.0%} of {n_values} s",
            median=median,
            clipping=clipping,
            silence=silence,
            n_values=len(values),
        )
        return ItemResult.of(ok, [evidence(levels[0][0], note, quote="")], note)
