"""How each customer type shapes emotion, patience and typing (simulator/persona.py's module docstring)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TypeTraits:
    """How a customer type shapes emotion, patience and typing (see the module docstring)."""

    patience: float = 1.0  # multiplies persona.patience
    typing: float = 1.0  # multiplies typing time
    slow: float = 1.0  # multiplies pack.slow_reply_seconds
    forbidden_rise: int = 1
    dismissal_rise: int = 1
    empathy_calm: int = 1
    empathy_needs_answer: bool = False
    answer_needs: tuple[str, ...] = ()  # the answer calms only after one of these moves
    max_holds: int = 2
    follow_up: bool = False
    nudge: str | None = None  # variant of the generic nudge lines
    transfer_emotion: int = 0  # emotion change when the agent transfers the contact


TRAITS: dict[str, TypeTraits] = {
    "rational": TypeTraits(empathy_needs_answer=True, nudge="rational"),
    "emotional": TypeTraits(forbidden_rise=2, dismissal_rise=2, empathy_calm=2, nudge="emotional", transfer_emotion=1),
    "hesitant": TypeTraits(patience=1.25, follow_up=True, nudge="hesitant"),
    "dominant": TypeTraits(
        patience=0.6,
        forbidden_rise=2,
        max_holds=1,
        nudge="dominant",
        transfer_emotion=-1,
        answer_needs=("escalate", "offer_compensation", "ticket_escalated"),
    ),
    "talkative": TypeTraits(patience=1.2, typing=1.3, nudge="talkative"),
    "suspicious": TypeTraits(empathy_needs_answer=True, nudge="suspicious"),
    "elderly": TypeTraits(patience=1.5, typing=1.8, slow=1.5, nudge="elderly"),
    "vip": TypeTraits(patience=0.8, slow=0.75, max_holds=1),
}
