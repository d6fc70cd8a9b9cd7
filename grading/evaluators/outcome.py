"""Outcome evaluators: how the customer ended up (emotion, goals) and what they rated (CSAT)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..recording import Recording
from .base import N_, BaseEvaluator, ItemResult, evidence, join_notes, recorded_or

EMOTION_MAX = 3  # calm 0 .. furious 3 (scenarios.schema.EMOTIONS)
CSAT_MIN, CSAT_MAX = 1, 5
NEUTRAL_END = 0.75  # a customer who ends calmly without thanks ("no, that's all") is served, not delighted


# one message per mood, so a page in either language reads the mood in its own words
MOOD_NOTES = {
    "satisfied": N_("the customer's last message sounds satisfied"),
    "neutral": N_("the customer's last message sounds neutral"),
    "upset": N_("the customer's last message sounds upset"),
}


class CustomerOutcomeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pass_fraction: float = Field(0.6, gt=0, le=1)


class CustomerOutcome(BaseEvaluator):
    """How the customer ended: the last ``customer.state`` (the simulated customer's mind: emotion 0..3 and the
    share of goals done) and the CSAT answer (``csat.answered`` score 1..5). The state part is the mean of
    (1 - emotion/3) and goals done/goals; the CSAT part is (score-1)/4; fraction = mean of the parts present.
    Pass at ``pass_fraction``. A person-played customer has no state: their last message's mood stands in for it
    (satisfied 1, neutral 0.75, upset 0). N/A when there is nothing at all."""

    name = "customer_outcome"
    Params = CustomerOutcomeParams

    def evaluate(self, recording: Recording, params: CustomerOutcomeParams) -> ItemResult:
        parts, ev, notes = [], [], []
        states = recording.of_type("customer.state")
        if states:
            last = states[-1]
            emotion = min(EMOTION_MAX, max(0, int(last.fields.emotion or 0)))
            goals = list(last.fields.goals or [])
            done = [g for g in goals if g in (last.fields.goals_done or [])]
            mood = 1 - emotion / EMOTION_MAX
            goal_share = len(done) / len(goals) if goals else mood
            parts.append((mood + goal_share) / 2)
            name = last.fields.emotion_name or str(emotion)
            note = N_("ended {name}, {done} of {goals} goals done", name=name, done=len(done), goals=len(goals))
            ev.append(evidence(last, note, quote=""))
            notes.append(note)
        answered = recording.of_type("csat.answered")
        if answered:
            score = int(recorded_or(answered[-1].fields.score, CSAT_MIN))
            parts.append((score - CSAT_MIN) / (CSAT_MAX - CSAT_MIN))
            ev.append(evidence(answered[-1], N_("CSAT {score}/{max}", score=score, max=CSAT_MAX)))
            notes.append(N_("CSAT {score}", score=score))
        if not states:
            said = self._said(recording)
            if said is not None:
                part, e, note = said
                parts.append(part)
                ev.append(evidence(e, note))
                notes.append(note)
        if not parts:
            return ItemResult.na(N_("no simulated customer state, no CSAT answer and no customer message"))
        fraction = sum(parts) / len(parts)
        return ItemResult.of(fraction >= params.pass_fraction, ev, join_notes(notes), fraction=fraction)

    @staticmethod
    def _said(recording: Recording):
        """A person-played customer's ending, from their last message: satisfied 1, neutral ``NEUTRAL_END``,
        upset 0 (the language understanding's mood reading)."""
        from ..phrases import customer_moods

        moods = customer_moods(recording)
        if not moods:
            return None
        msg, mood = moods[-1]
        part = {"satisfied": 1.0, "neutral": NEUTRAL_END, "upset": 0.0}[mood.mood]
        return part, msg, MOOD_NOTES[mood.mood]
