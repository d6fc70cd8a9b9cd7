"""Wording evaluators: required steps shown in words, forbidden wording, and the order of required steps.

Acts are read by the language understanding (grading.phrases -> understanding/), so a trainee is judged by the
same reading the simulated customer reacted to. Acts count only in a fitting place: a greeting among the first
agent messages, a closing among the last, and "answer" only once the scenario's answer has been given (its
keyword groups, accumulated over the agent's messages) - so pasting stock phrases without solving the problem
does not earn the steps.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scenarios.loader import KNOWN_STEPS
from simulator.voice_customer import compensation_offered

from ..phrases import agent_moves, agent_readings, customer_moods, find_phrase
from ..recording import Event, Recording
from .base import N_, BaseEvaluator, Evidence, ItemResult, evidence, recorded_or
from .desk import VerifyBeforeDisclose, VerifyBeforeDiscloseParams

# Recorded desk actions that count as a step (as the simulator's persona reads them: persona.DESK_MOVES).
UPSET_CONFIDENCE = 0.6  # the share of the similarity vote a line needs to count as upset (free role-play)
UPSET_CONFIDENCE_SCRIPTED = 0.85  # the same where the scenario says the customer starts calm
DESK_STEPS = {"kb.open": ("kb_open",), "ticket.created": ("ticket_created",)}
NOT_STEPS = frozenset({"forbidden", "dismissal"})


def _known_step(v: str | None) -> str | None:
    if v is not None and v not in KNOWN_STEPS:
        raise ValueError(f"unknown step {v!r}; known: {sorted(KNOWN_STEPS)}")
    return v


def _scenario_phrases(recording: Recording, step: str) -> list[str]:
    sc = recording.scenario
    return list(sc.expected.required_phrases.get(step, [])) if sc else []


PLACE_WINDOW = 2  # a greeting among the first two agent messages, a closing among the last two


def _fitting_place(step: str, index: int, count: int) -> bool:
    """Whether the agent's ``index``-th of ``count`` messages is a fitting place for ``step``."""
    if step == "greeting":
        return index < PLACE_WINDOW
    if step == "closing":
        return index >= count - PLACE_WINDOW
    return True


def answered_at(recording: Recording) -> set[int]:
    """Seqs of the agent messages that (with those before them) give the scenario's answer: its answer keyword
    groups, accumulated over the agent's answering messages, reach ``min_keywords``. Without keywords any
    answering message counts."""
    sc = recording.scenario
    answer = sc.answer if sc else None
    out: set[int] = set()
    groups: set[int] = set()
    for msg, reading in agent_readings(recording):
        if reading is None or isinstance(reading, dict):
            if reading and "answer" in reading:
                out.add(msg.seq)
            continue
        if not reading.has("answer"):
            continue
        if not (answer and answer.keywords):
            out.add(msg.seq)
            continue
        groups.update(reading.answer_groups)
        if len(groups) >= min(answer.min_keywords, len(answer.keywords)):
            out.add(msg.seq)
    return out


def upset_moment(recording: Recording, min_emotion: int) -> tuple[bool, Event | None, str]:
    """Whether the customer was upset: the scenario's initial emotion, else the first ``customer.state`` with
    emotion >= ``min_emotion``. Returns (upset, the event it showed in or None, a note)."""
    sc = recording.scenario
    if sc is not None and sc.customer.emotion != "calm":
        return True, None, N_("the customer starts {emotion}", emotion=sc.customer.emotion)
    states = recording.of_type("customer.state")
    for e in states:
        if int(e.fields.emotion or 0) >= min_emotion:
            return (
                True,
                e,
                N_("the customer became {emotion}", emotion=e.fields.emotion_name or e.fields.emotion),
            )
    if not states:  # a person played the customer: their own words say whether they were upset
        # With a scenario the role-player was given a calm customer: only a clearly upset line changes that.
        needed = UPSET_CONFIDENCE_SCRIPTED if sc is not None else UPSET_CONFIDENCE
        for msg, mood in customer_moods(recording):
            if mood.mood == "upset" and mood.confidence >= needed:
                return True, msg, "the customer wrote in anger or distress"
    return False, None, "the customer stayed calm"


class RequiredPhrasesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: str | None = None  # None: every step of the scenario's expected.required_phrases
    when: Literal["always", "customer_upset", "verify_before_disclose", "scenario_step"] = "always"
    upset_emotion: int = Field(1, ge=1, le=3)

    @field_validator("step")
    @classmethod
    def known_step(cls, v: str | None) -> str | None:
        return _known_step(v)


class RequiredPhrases(BaseEvaluator):
    """The agent shows a step in words: ``step`` (greeting, empathy, ask_verification, closing...) recognised by
    the pack's move lexicon or by the scenario's ``expected.required_phrases`` for that step. On a call the
    quick phrase the agent marked as said (``call.quick_phrase`` with that move) counts too.

    ``when`` limits the occasion: ``customer_upset`` (N/A unless the scenario's customer starts upset or a
    ``customer.state`` shows emotion >= ``upset_emotion``; the step must come after the customer became upset),
    ``verify_before_disclose`` (N/A unless the scenario requires verification), ``scenario_step`` (N/A unless
    the scenario lists the step). With no ``step``: every step in the scenario's required_phrases must appear
    with one of its phrases; fraction = share of those steps; N/A when the scenario lists none."""

    name = "required_phrases"
    Params = RequiredPhrasesParams

    def evaluate(self, recording: Recording, params: RequiredPhrasesParams) -> ItemResult:
        if params.step is None:
            return self._scenario_steps(recording)
        sc = recording.scenario
        step, after_seq, why = params.step, 0, []
        if params.when == "customer_upset":
            upset, ev, note = upset_moment(recording, params.upset_emotion)
            if not upset:
                return ItemResult.na(note)
            after_seq = ev.seq if ev else 0
            why.append(evidence(ev, note, quote="") if ev else evidence(None, note))
        elif params.when == "verify_before_disclose" and not (sc and sc.expected.verify_before_disclose):
            return ItemResult.na(N_("the scenario does not require identity verification"))
        elif params.when == "scenario_step" and not (
            sc and (step in sc.expected.steps or step in sc.expected.required_phrases)
        ):
            return ItemResult.na(N_("the scenario does not ask for {step}", step=step))
        before_seq = None
        if params.when == "verify_before_disclose":
            # Asking for verification after the details were already given away does not protect them.
            gate = VerifyBeforeDisclose().evaluate(recording, VerifyBeforeDiscloseParams())
            seqs = [e.seq for e in gate.evidence if gate.status == "fail" and e.seq is not None]
            before_seq = min(seqs) if seqs else None
        extra = _scenario_phrases(recording, step)
        analysed = agent_moves(recording)
        for i, (msg, moves) in enumerate(analysed):
            if msg.seq <= after_seq or not _fitting_place(step, i, len(analysed)):
                continue
            phrase = moves.get(step) or find_phrase(msg.text, extra, recording.lang)
            if phrase and before_seq is not None and msg.seq > before_seq:
                note = N_("{step} only after the details were disclosed", step=step)
                return ItemResult.of(False, [*why, evidence(msg, note)], note)
            if phrase:
                return ItemResult.of(
                    True,
                    [*why, evidence(msg, N_("{step}: “{phrase}”", step=step, phrase=phrase))],
                    N_("{step} shown", step=step),
                )
        for marked in recording.of_type("call.quick_phrase"):
            if marked.seq > after_seq and marked.fields.move == step:
                return ItemResult.of(
                    True,
                    [*why, evidence(marked, N_("{step}: marked as said", step=step))],
                    N_("{step} marked", step=step),
                )
        return ItemResult.of(
            False, [*why, evidence(None, N_("no agent message shows {step}", step=step))], N_("no {step}", step=step)
        )

    def _scenario_steps(self, recording: Recording) -> ItemResult:
        required = recording.scenario.expected.required_phrases if recording.scenario else {}
        if not required:
            return ItemResult.na(N_("the scenario lists no required phrases"))
        ev: list[Evidence] = []
        found = 0
        for step in sorted(required):
            hit = None
            for msg in recording.messages("agent"):
                phrase = find_phrase(msg.text, required[step], recording.lang)
                if phrase:
                    hit = evidence(msg, N_("{step}: “{phrase}”", step=step, phrase=phrase))
                    break
            if hit:
                found += 1
                ev.append(hit)
            else:
                ev.append(evidence(None, N_("{step}: none of {phrases}", step=step, phrases=", ".join(required[step]))))
        note = N_("{found} of {n} required steps in the scenario's words", found=found, n=len(required))
        return ItemResult.of(found == len(required), ev, note, fraction=found / len(required))


class ForbiddenPhrasesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_dismissal: bool = False  # also fail brush-offs ("I don't know", "nothing I can do")


class ForbiddenPhrases(BaseEvaluator):
    """No agent message uses a forbidden phrase: the pack's ``forbidden_phrases`` and ``forbidden`` move lexicon
    plus the scenario's ``expected.forbidden_phrases`` (and brush-offs with ``include_dismissal``). Fails
    quoting every offending message. N/A when the agent wrote nothing."""

    name = "forbidden_phrases"
    Params = ForbiddenPhrasesParams

    def evaluate(self, recording: Recording, params: ForbiddenPhrasesParams) -> ItemResult:
        analysed = agent_moves(recording)
        if not analysed:
            return ItemResult.na(N_("the agent wrote nothing"))
        kinds = ("forbidden", "dismissal") if params.include_dismissal else ("forbidden",)
        ev = []
        for msg, moves in analysed:
            for kind in kinds:
                if kind in moves:
                    ev.append(evidence(msg, N_("{kind}: “{phrase}”", kind=kind, phrase=moves[kind])))
        if ev:
            return ItemResult.of(False, ev, N_("{n} forbidden phrase(s)", n=len(ev)))
        return ItemResult.of(True, [], N_("none in {n} agent messages", n=len(analysed)))


class StepOrderParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


def observed_steps(recording: Recording) -> list[tuple[int, str, Event, str]]:
    """Every step the agent took, in order: (seq, step, event, how it showed). Moves come from agent messages
    (pack lexicon, scenario answer keywords and required phrases); desk actions from recorded events:
    crm.verify verified -> verify_identity, kb.open -> kb_open, kb.send of the answer article -> answer,
    ticket.created -> ticket_created, ticket.escalated -> ticket_escalated and escalate. On a call, where words are
    not recognised, the quick phrases the agent marked as said (``call.quick_phrase``) are its moves, opening the
    answer article counts as answering, and setting compensation on the ticket as offering it."""
    sc = recording.scenario
    required = sc.expected.required_phrases if sc else {}
    answer_slug = sc.answer.kb_slug if sc and sc.answer else None
    voice = recording.channel == "voice"
    out: list[tuple[int, str, Event, str]] = []
    analysed = agent_moves(recording)
    moves_by_seq = {m.seq: moves for m, moves in analysed}
    index_of = {m.seq: i for i, (m, _moves) in enumerate(analysed)}
    answered = answered_at(recording)
    for e in recording.events:
        if e.seq in moves_by_seq:
            shown = {
                step: how
                for step, how in moves_by_seq[e.seq].items()
                if _fitting_place(step, index_of[e.seq], len(analysed)) and (step != "answer" or e.seq in answered)
            }
            for step in sorted(required):
                if step not in shown:
                    phrase = find_phrase(e.text, required[step], recording.lang)
                    if phrase:
                        shown[step] = phrase
            out += [(e.seq, s, e, f"“{p}”") for s, p in shown.items() if s not in NOT_STEPS]
        elif e.type == "crm.verify" and e.fields.result == "verified":
            out.append((e.seq, "verify_identity", e, f"verified by {recorded_or(e.fields.method, '?')}"))
        elif e.type in DESK_STEPS:
            out += [(e.seq, s, e, e.type) for s in DESK_STEPS[e.type]]
            if e.type == "kb.open" and voice and answer_slug and e.fields.slug == answer_slug:
                out.append((e.seq, "answer", e, f"opened article {answer_slug} on the call"))
        elif e.type == "call.quick_phrase" and e.fields.move:
            out.append((e.seq, str(e.fields.move), e, "quick phrase marked as said"))
        elif voice and e.type == "ticket.updated" and compensation_offered(e.type, e.data):
            out.append((e.seq, "offer_compensation", e, "compensation set on the ticket"))
        elif e.type == "kb.send" and answer_slug and e.fields.slug == answer_slug:
            out.append((e.seq, "answer", e, f"sent article {answer_slug}"))
        elif e.type == "ticket.escalated":
            out += [(e.seq, "ticket_escalated", e, "ticket escalated"), (e.seq, "escalate", e, "ticket escalated")]
        elif e.type == "video.id_verification" and e.fields.decision in ("approved", "refused"):
            out.append((e.seq, f"id_{e.fields.decision}", e, f"ID {e.fields.decision} on video"))
    return out


class StepOrder(BaseEvaluator):
    """The scenario's ``expected.steps`` happen in that order (ABCD-style action flow), each step a recognised
    move or a desk action (see ``observed_steps``). Steps are matched greedily: each at its first occurrence
    after the previous matched step (two steps in one message count in the order they appear in it).
    fraction = steps matched in order / steps expected; pass when all are. N/A when the scenario lists no
    steps (or there is no scenario)."""

    name = "step_order"
    Params = StepOrderParams

    def evaluate(self, recording: Recording, params: StepOrderParams) -> ItemResult:
        steps = recording.scenario.expected.steps if recording.scenario else []
        if not steps:
            return ItemResult.na(N_("the scenario lists no required steps"))
        seen = observed_steps(recording)
        # Positions in the observed list, not seqs: one message may show two steps in order (hello + order no).
        last, matched, ev = -1, 0, []
        for step in steps:
            at = next((i for i, o in enumerate(seen) if o[1] == step and i > last), None)
            if at is not None:
                matched += 1
                last = at
                ev.append(evidence(seen[at][2], N_("{step}: {how}", step=step, how=seen[at][3])))
                continue
            earlier = next((o for o in seen if o[1] == step), None)
            if earlier is not None:
                ev.append(evidence(earlier[2], N_("{step}: out of order (came before the previous step)", step=step)))
            else:
                ev.append(evidence(None, N_("{step}: missing", step=step)))
        note = N_("{matched} of {n} steps in order: {steps}", matched=matched, n=len(steps), steps=" → ".join(steps))
        return ItemResult.of(matched == len(steps), ev, note, fraction=matched / len(steps))
