"""The unanswered-enquiry gate: a chat that never addresses the customer's problem cannot pass.

Chinese contact-centre quality forms count an enquiry left unanswered (未解答 / 漏答) among the fatal errors,
whatever the courtesy around it: a chat of greetings, apologies and thanks that never gives the answer, never hands
the case on and meets none of the customer's goals is not a service. The courtesy items still score what was done
(the points are kept); the gate fails the scorecard and caps its total below the pass mark, as every gate does.

Addressed means any of: the scenario's answer was given (the same reading as the answer items: an answering
message whose answer keyword groups reach the scenario's minimum); a goal of the simulated customer was met; the
case was handed on (an escalate or promise_followup act in the agent's words, a transfer, a ticket escalation or
a scheduled callback); or the scenario's KB article was sent. Only the scenario knows what the problem is: without
one (free role-play) the item is N/A.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ..phrases import agent_readings, reading_has
from ..recording import Recording
from .accuracy import mail_as_messages
from .base import N_, BaseEvaluator, ItemResult, evidence
from .phrases import answered_at

HANDED_ON_ACTS = ("escalate", "promise_followup")
HANDED_ON_EVENTS = ("transfer", "ticket.escalated", "callback.scheduled")


class ProblemAddressedParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemAddressed(BaseEvaluator):
    """Gate: the customer's problem was answered, solved or handed on (see the module docstring). Fails a chat
    whose agent wrote but did none of these; N/A without a scenario, or when the agent never wrote (the timing
    items carry that)."""

    name = "problem_addressed"
    Params = ProblemAddressedParams

    def evaluate(self, recording: Recording, params: ProblemAddressedParams) -> ItemResult:
        sc = recording.scenario
        if sc is None:
            return ItemResult.na(N_("no scenario: the customer's problem is unknown"))
        readings = agent_readings(recording)
        if not readings:
            return ItemResult.na(N_("the agent wrote nothing"))
        answered = answered_at(recording)
        if answered:
            msg = next(m for m, _ in readings if m.seq in answered)
            return ItemResult.of(True, [evidence(msg, N_("the case's answer"))], N_("the problem was answered"))
        states = recording.of_type("customer.state")
        if states and states[-1].fields.goals_done:
            return ItemResult.of(
                True, [evidence(states[-1], N_("a goal of the customer met"), quote="")], N_("a goal was met")
            )
        for msg, reading in readings:
            if any(reading_has(reading, a) for a in HANDED_ON_ACTS):
                return ItemResult.of(True, [evidence(msg, N_("handed on"))], N_("the case was handed on"))
        handed = recording.of_type(*HANDED_ON_EVENTS)
        if handed:
            return ItemResult.of(True, [evidence(handed[0], N_("handed on"), quote="")], N_("the case was handed on"))
        slugs = set(sc.expected.kb_articles) | ({sc.answer.kb_slug} if sc.answer and sc.answer.kb_slug else set())
        sent = next((e for e in recording.of_type("kb.send") if e.fields.slug in slugs), None)
        if sent is not None:
            return ItemResult.of(
                True, [evidence(sent, N_("the case's article sent"), quote="")], N_("the case's article was sent")
            )
        return ItemResult.of(
            False,
            [evidence(None, N_("no answer, no goal met, nothing handed on"))],
            N_("the customer's problem was never answered nor handed on"),
        )


class EmailProblemAddressed(BaseEvaluator):
    """The unanswered-enquiry gate on a mail thread: the agent's replies (without the customer's quoted mail) are
    judged as chat lines are (see ``ProblemAddressed``): a courteous reply that answers nothing fails."""

    name = "email_problem_addressed"
    channels = frozenset({"email"})
    Params = ProblemAddressedParams

    def evaluate(self, recording: Recording, params: ProblemAddressedParams) -> ItemResult:
        return ProblemAddressed().evaluate(mail_as_messages(recording), params)
