"""What was said on a call, graded from its transcript (``call.transcript``, channels/voice/transcripts.py).

The transcript's segments become the call's messages: each agent (and customer) segment is a ``message``
event at its moment in the call (recording start + segment start), placed among the real events by time, and
the chat evaluators run on that view unchanged: required phrases per step, forbidden wording, the order of
steps (answers included). So a call and a chat are judged by the same recognition of words. Quick phrases the
trainee marked as said do not count here: what was said is what was heard.

Evidence quotes the segment and points at the transcript event, with the segment's time (sandbox time of
that moment in the recording, and m:ss in the note) so a click in the review page seeks the audio to it. A call
without a usable transcript (recognition off, or it failed) is N/A for these items, with the reason.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from ..recording import Event, Recording
from .accuracy import AnswerCorrect, AnswerCorrectParams
from .base import BaseEvaluator, Evidence, ItemResult
from .phrases import (
    ForbiddenPhrases,
    ForbiddenPhrasesParams,
    RequiredPhrases,
    RequiredPhrasesParams,
    StepOrder,
    StepOrderParams,
)
from .voice import CallEvaluator, mmss


class SpokenView:
    """A recording with its transcript as messages, and the way back from that view's evidence."""

    def __init__(self, recording: Recording, transcript: Event, start: float):
        self.transcript = transcript
        self.start = start
        synthetic: list[Event] = []
        self.segments: dict[int, dict] = {}
        for i, seg in enumerate(transcript.fields.segments or []):
            if not (seg.get("text") or "").strip() or seg.get("speaker") not in ("agent", "customer"):
                continue
            sid = -(i + 1)
            self.segments[sid] = seg
            data = {"transcript": True, "offset": seg.get("start"), "confidence": seg.get("confidence")}
            synthetic.append(Event(sid, 0, start + float(seg["start"]), "message", seg["speaker"], seg["text"], data))
        real = [e for e in recording.events if e.type not in ("call.quick_phrase", "message")]
        merged = sorted(
            [(e.ts, 0, e.seq, e) for e in real] + [(e.ts, 1, i, e) for i, e in enumerate(synthetic)],
            key=lambda t: t[:3],
        )
        self.original: dict[int, Event] = {}
        events = []
        for n, (_, _, _, e) in enumerate(merged, 1):
            self.original[n] = e
            events.append(replace(e, seq=n))
        self.recording = replace(recording, events=tuple(events))

    def back(self, ev: Evidence) -> Evidence:
        """Evidence of the view as evidence of the real recording."""
        if ev.event_id is None:
            return ev
        if ev.event_id < 0:
            seg = self.segments[ev.event_id]
            at = float(seg["start"])
            who = seg.get("speaker", "agent")
            note = f"{ev.note} ({who} at {mmss(at)}, confidence {float(seg.get('confidence') or 0):.2f})"
            return Evidence(self.transcript.id, self.transcript.seq, self.start + at, ev.quote, note)
        real = self.original.get(ev.seq) if ev.seq is not None else None
        return replace(ev, seq=real.seq) if real is not None else ev

    def result(self, r: ItemResult) -> ItemResult:
        note = r.note.replace("agent messages", "agent turns").replace("agent message", "agent turn")
        return replace(r, evidence=tuple(self.back(e) for e in r.evidence), note=note)


def spoken_view(recording: Recording) -> tuple[SpokenView | None, str]:
    """The recording's transcript view, or None and why there is none."""
    found = recording.of_type("call.transcript")
    if not found:
        ended = recording.of_type("call.ended")
        return None, "no transcript recorded" + (" yet" if ended else " (the call is not over)")
    tr = found[-1]
    status = tr.fields.status
    if status != "done":
        return None, f"no transcript: {tr.fields.reason or status}"
    started = recording.of_type("call.recording")
    start = started[0].fields.started_at if started else None
    if start is None:
        return None, "the transcript has no recording to place it in"
    return SpokenView(recording, tr, float(start)), ""


class SpokenItem(CallEvaluator):
    """A chat item (``chat_item``) judged on the call's transcript view, its evidence pointed back at the call;
    N/A when the call has no usable transcript."""

    chat_item: ClassVar[type[BaseEvaluator]]

    def call_view(self, recording: Recording) -> tuple[SpokenView | None, str]:
        return spoken_view(recording)

    def assess(self, view: SpokenView, params) -> ItemResult:
        return view.result(self.chat_item().evaluate(view.recording, params))


class SpokenPhrases(SpokenItem):
    """``required_phrases`` on what the agent said on the call (its transcript): a step (greeting, empathy,
    ask_verification, closing...) recognised in an agent turn, with the same ``when`` occasions."""

    name = "spoken_phrases"
    Params = RequiredPhrasesParams
    chat_item = RequiredPhrases


class SpokenForbidden(SpokenItem):
    """``forbidden_phrases`` on what the agent said on the call: fails quoting every agent turn with forbidden
    wording (and brush-offs with ``include_dismissal``), each with its time in the call."""

    name = "spoken_forbidden"
    Params = ForbiddenPhrasesParams
    chat_item = ForbiddenPhrases

    def assess(self, view: SpokenView, params: ForbiddenPhrasesParams) -> ItemResult:
        r = self.chat_item().evaluate(view.recording, params)
        if r.status == "na":
            return ItemResult.na("nothing the agent said was recognised")
        return view.result(r)


class SpokenSteps(SpokenItem):
    """``step_order`` with the steps the agent said on the call (transcript) and the desk actions it took
    (verification, the answer's article, tickets, compensation), in the order they happened."""

    name = "spoken_steps"
    Params = StepOrderParams
    chat_item = StepOrder


class SpokenAnswerCorrect(SpokenItem):
    """The wrong-information gate on what the agent said on the call (its transcript), as ``AnswerCorrect``
    judges a chat; evidence points at the transcript with the moment in the call."""

    name = "spoken_answer_correct"
    Params = AnswerCorrectParams
    chat_item = AnswerCorrect
