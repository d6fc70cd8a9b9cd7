"""The wrong-information gate: a substantive answer must not state what the case shows to be false.

What counts as false is what the case knows: the figures of the scenario's answer, its customer's facts and the KB
article the answer rests on (a stated duration that agrees with none of the known ones of its unit: "1-3 working
days" for a card refund the article gives as 3-7), and the scenario's ``expected.wrong_claims`` (common false answers
for the case, said outside a negation). The same checks make the simulated customer object to wrong figures, so the
customer and the scorecard agree about what was wrong."""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel, ConfigDict

from extensions import db
from knowledge_base.models import Article
from understanding.facts import contradictions, known_figures
from understanding.text import negation_views, normalise

from ..phrases import agent_readings
from ..recording import Recording
from .base import N_, BaseEvaluator, ItemResult, evidence
from .phrases import answered_at

ANSWERING = ("answer", "explain_policy", "refuse_politely", "offer_compensation")


class AnswerCorrectParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _said(plain: str, phrases: list[str], lang: str) -> bool:
    return any(normalise(p, lang) in plain for p in phrases if p.strip())


def _reference(recording: Recording) -> str:
    """The body of the KB article the scenario's answer rests on ('' outside an app or when there is none)."""
    from flask import has_app_context

    sc = recording.scenario
    slug = sc.answer.kb_slug if sc and sc.answer else None
    if not slug or not has_app_context():
        return ""
    article = db.session.scalar(db.select(Article).where(Article.slug == slug, Article.lang == recording.lang))
    return (article.body or "") if article is not None else ""


class AnswerCorrect(BaseEvaluator):
    """No materially false statement: fails on an answering message (answer, policy, refusal, compensation) whose
    figures contradict the case's known figures, or that makes one of the scenario's ``wrong_claims``; otherwise
    N/A (the item is a gate: it never adds points). Without a scenario there is nothing to check against."""

    name = "answer_correct"
    Params = AnswerCorrectParams

    def evaluate(self, recording: Recording, params: AnswerCorrectParams) -> ItemResult:
        sc = recording.scenario
        if sc is None:
            return ItemResult.na(N_("no scenario: the case's facts are unknown"))
        # The case's own figures (its answer and facts) decide first; the article's (which often lists the
        # timings of every payment method) only where the case states none of that kind.
        case = known_figures(sc, "")
        article = [f for f in known_figures(sc, _reference(recording)) if not any(f.kind == c.kind for c in case)]
        known = case + article
        gave_answer = answered_at(recording)
        bad, answered = [], []
        for msg, reading in agent_readings(recording):
            if not hasattr(reading, "has") or not any(reading.has(a) for a in ANSWERING):
                continue
            if msg.seq in gave_answer:
                answered.append(msg)
            wrong = contradictions(reading.figures, known)
            # A message that also states the right figure is explaining, not misinforming ("review takes 1-2 days,
            # the money arrives in 3-7").
            if wrong and not any(not contradictions([f], known) for f in reading.figures if f.kind == wrong[0][0].kind):
                stated = "; ".join(f.text for f, _ in wrong)
                expected = ", ".join(sorted({k.text for _, ks in wrong for k in ks}))[:120]
                bad.append(
                    evidence(msg, N_("{stated} contradicts the case ({expected})", stated=stated, expected=expected))
                )
                continue
            plain = negation_views(normalise(msg.text or "", recording.lang)).plain
            for claim in sc.expected.wrong_claims:
                if all(_said(plain, group, recording.lang) for group in claim.all):
                    bad.append(evidence(msg, claim.why))
                    break
        if bad:
            return ItemResult.of(False, bad, N_("a materially false statement"))
        # A gate, not a source of points: a true answer earns its points in the answer and solution items, so a
        # pasted list of the case's keywords gains nothing here (and a chat with no answer loses nothing twice).
        if not answered:
            return ItemResult.na(N_("the case's answer was not given (the solution items carry that)"))
        return ItemResult.na(N_("no statement contradicts the case"))


def _reply_text(text: str) -> str:
    """What the agent wrote in a reply: quoted lines of the customer's mail ("> ...") are the customer's words."""
    return "\n".join(line for line in (text or "").splitlines() if not line.lstrip().startswith(">"))


def mail_as_messages(recording: Recording) -> Recording:
    """The mail thread as a conversation: each received mail a customer message and each sent reply an agent
    message, at the same ``seq`` (so evidence points at the real events), every other event as it was."""
    events = []
    for e in recording.events:
        if e.type == "email.sent" and e.actor == "agent":
            e = replace(e, type="message", text=_reply_text(e.text or ""))
        elif e.type == "email.received":
            e = replace(e, type="message", actor="customer")
        elif e.type == "message":
            continue  # a chat line inside a mail contact does not exist; never mix two views
        events.append(e)
    return replace(recording, events=tuple(events))


class EmailAnswerCorrect(BaseEvaluator):
    """The wrong-information gate on a mail thread: the agent's replies (without the quoted customer mail) are
    checked as chat answers are (see ``AnswerCorrect``); N/A the same way."""

    name = "email_answer_correct"
    channels = frozenset({"email"})
    Params = AnswerCorrectParams

    def evaluate(self, recording: Recording, params: AnswerCorrectParams) -> ItemResult:
        return AnswerCorrect().evaluate(mail_as_messages(recording), params)
