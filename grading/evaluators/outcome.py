"""Outcome evaluators: how the customer ended up (emotion, goals) and what they rated (CSAT)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..recording import Recording
from .base import BaseEvaluator, ItemResult, evidence

EMOTION_MAX = 3  # calm 0 .. furious 3 (scenarios.schema.EMOTIONS)
CSAT_MIN, CSAT_MAX = 1, 5


class CustomerOutcomeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pass_fraction: float = Field(0.6, gt=0, le=1)


class CustomerOutcome(BaseEvaluator):
    """How the customer ended: the last ``customer.state`` (the simulated customer's mind: emotion 0..3 and the
    share of goals done) and the CSAT answer (``csat.answered`` score 1..5). The state part is the mean of
    (1 - emotion/3) and goals done/goals; the CSAT part is (score-1)/4; fraction = mean of the parts present.
    Pass at ``pass_fraction``. N/A when there is neither (a person-played customer who did not rate)."""

    name = "customer_outcome"
    Params = CustomerOutcomeParams

    def evaluate(self, recording: Recording, params: CustomerOutcomeParams) -> ItemResult:
        parts, ev, notes = [], [], []
        states = recording.of_type("customer.state")
        if states:
            last = states[-1]
            emotion = min(EMOTION_MAX, max(0, int(last.data.get("emotion", 0) or 0)))
            goals = list(last.data.get("goals") or [])
            done = [g for g in goals if g in (last.data.get("goals_done") or [])]
            mood = 1 - emotion / EMOTION_MAX
            goal_share = len(done) / len(goals) if goals else mood
            parts.append((mood + goal_share) / 2)
            name = last.data.get("emotion_name") or str(emotion)
            note = f"ended {name}, {len(done)} of {len(goals)} goals done"
            ev.append(evidence(last, note, quote=""))
            notes.append(note)
        answered = recording.of_type("csat.answered")
        if answered:
            score = int(answered[-1].data.get("score", CSAT_MIN))
            parts.append((score - CSAT_MIN) / (CSAT_MAX - CSAT_MIN))
            ev.append(evidence(answered[-1], f"CSAT {score}/{CSAT_MAX}"))
            notes.append(f"CSAT {score}")
        if not parts:
            return ItemResult.na("no simulated customer state and no CSAT answer")
        fraction = sum(parts) / len(parts)
        return ItemResult.of(fraction >= params.pass_fraction, ev, "; ".join(notes), fraction=fraction)
