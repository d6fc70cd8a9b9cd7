"""Response-time evaluators: first response and reply gaps (text channels)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..recording import Recording
from .base import N_, BaseEvaluator, ItemResult, evidence, held_spans

TEXT_CHANNELS = frozenset({"chat", "group"})


class FirstResponseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    within_seconds: float = Field(30, gt=0)


class FirstResponse(BaseEvaluator):
    """The agent's first message comes within ``within_seconds`` of the contact's first assignment.

    Fails when it came later or never. N/A when the contact was never assigned (abandoned in the queue)."""

    name = "first_response"
    channels = TEXT_CHANNELS
    Params = FirstResponseParams

    def evaluate(self, recording: Recording, params: FirstResponseParams) -> ItemResult:
        assigned = recording.of_type("assignment")
        if not assigned:
            return ItemResult.na(N_("never assigned to an agent"))
        start = assigned[0]
        first = next((m for m in recording.messages("agent") if m.seq > start.seq), None)
        if first is None:
            ev = [evidence(start, N_("assigned; the agent never wrote"), quote="")]
            return ItemResult.of(False, ev, N_("no agent message"))
        wait = first.ts - start.ts
        ok = wait <= params.within_seconds
        note = N_("first reply after {wait:.1f} s (limit {limit:g} s)", wait=wait, limit=params.within_seconds)
        return ItemResult.of(ok, [evidence(start, N_("assigned"), quote=""), evidence(first, note)], note)


class ReplyGapsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_gap_seconds: float = Field(60, gt=0)
    pass_share: float = Field(1.0, gt=0, le=1)  # share of customer turns answered in time needed to pass


class ReplyGaps(BaseEvaluator):
    """No customer message waits more than ``max_gap_seconds`` for the agent's next message.

    A customer turn starts at the first customer message after an agent message (follow-up lines of one turn
    do not restart the clock) while an agent holds the contact; it ends at the agent's next message. A turn
    still open when the conversation ended counts as late only if it had already waited too long.
    fraction = share of turns answered in time; pass when it reaches ``pass_share``. N/A when the customer
    wrote nothing while an agent held the contact."""

    name = "reply_gaps"
    channels = TEXT_CHANNELS
    Params = ReplyGapsParams

    def evaluate(self, recording: Recording, params: ReplyGapsParams) -> ItemResult:
        spans = held_spans(recording)

        def held(ts: float) -> bool:
            return any(a <= ts < b for a, b in spans)

        turns = []  # (customer event, answering agent event or None, gap)
        waiting = None
        for e in recording.events:
            if e.type == "message" and e.actor == "customer" and waiting is None and held(e.ts):
                waiting = e
            elif e.type == "message" and e.actor == "agent" and waiting is not None:
                turns.append((waiting, e, e.ts - waiting.ts))
                waiting = None
            elif e.type in ("transfer", "contact.ended", "contact.abandoned") and waiting is not None:
                turns.append((waiting, None, e.ts - waiting.ts))
                waiting = None
        if waiting is not None:
            turns.append((waiting, None, 0.0))  # still open: the recording ends here
        if not turns:
            return ItemResult.na(N_("the customer wrote nothing while an agent held the contact"))
        late = [(c, a, gap) for c, a, gap in turns if gap > params.max_gap_seconds]
        share = (len(turns) - len(late)) / len(turns)
        ev = []
        for c, a, gap in late:
            if a is None:
                ev.append(evidence(c, N_("left unanswered for {gap:.1f} s until the conversation ended", gap=gap)))
            else:
                ev.append(evidence(c, N_("answered after {gap:.1f} s", gap=gap)))
                ev.append(evidence(a, N_("the late reply")))
        if not late:
            worst = max(turns, key=lambda t: t[2])
            ev.append(evidence(worst[0], N_("longest wait {worst:.1f} s", worst=worst[2])))
        note = N_(
            "{answered} of {total} customer turns answered within {limit:g} s",
            answered=len(turns) - len(late),
            total=len(turns),
            limit=params.max_gap_seconds,
        )
        return ItemResult.of(share >= params.pass_share, ev, note, fraction=share)
