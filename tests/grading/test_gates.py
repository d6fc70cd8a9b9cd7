"""Gates that hold: a failed gate fails the scorecard and caps its total below the pass mark; a scorecard with pending
manual items is provisional; disclosure is judged from what the agent writes too, with or without a scenario; a
person-played customer's anger is read from their words."""

from __future__ import annotations

import pytest

from grading.evaluators.desk import VerifyBeforeDisclose, VerifyBeforeDiscloseParams
from grading.scoring import GATE_CAP, grade

from .builders import assigned, build, ev, msg
from .test_scoring import ITEMS, make_rubric, recording


def test_a_failed_gate_caps_the_total_below_the_pass_mark_and_keeps_the_points():
    sc = grade(recording("L5"), make_rubric(d={"gate": "scorecard"}))
    assert sc["gated"] and not sc["passed"]
    assert sc["points"] == 75.0 and sc["total"] == GATE_CAP < sc["pass_mark"]


def test_pending_manual_items_make_a_passing_scorecard_provisional_until_scored():
    manual = {
        "id": "tone",
        "title": "tone",
        "skills": ["L5/1.2.1"],
        "points": 4,
        "scoring": "manual",
        "scale": "0..4",
        "guidance": "g",
    }
    from grading.rubric import Rubric

    rubric = Rubric(id="t", version=1, lang="en", channel="chat", levels=["L5"], title="t", items=[*ITEMS, manual])
    pending = grade(recording("L5"), rubric)
    assert pending["total"] >= 60 and pending["provisional"] and not pending["passed"]
    scored = grade(recording("L5"), rubric, manual_scores={"tone": {"value": 4, "by": "g1"}})
    assert not scored["provisional"] and scored["passed"]


def _disclose(events, sid=None):
    return VerifyBeforeDisclose().run(build(events, sid=sid), VerifyBeforeDiscloseParams())


def test_private_data_typed_in_the_chat_before_verification_fails_with_or_without_a_scenario():
    typed = [
        assigned(0),
        msg("customer", "Can you check my account?", 1),
        msg("agent", "Your number is 13812345678.", 5),
    ]
    for sid in (None, "en-delivery-status"):
        res = _disclose(typed, sid)
        assert res.status == "fail" and "before verification" in res.evidence[0].note, sid
    verified = [
        assigned(0),
        ev("crm.verify", "agent", data={"result": "verified", "method": "id_last4"}, ts=3),
        msg("agent", "Your number is 13812345678.", 5),
    ]
    assert _disclose(verified).status == "pass"
    # The customer's own number read back to confirm it is not a disclosure; a quiet chat has no occasion.
    echoed = [assigned(0), msg("customer", "It's 13812345678", 1), msg("agent", "13812345678, got it.", 5)]
    assert _disclose(echoed).status == "na"
    assert _disclose([assigned(0), msg("agent", "Hello!", 1)]).status == "na"


@pytest.fixture
def en_app(app):
    from pathlib import Path

    from scenarios.loader import load_pack_into_db

    with app.app_context():
        load_pack_into_db(Path(__file__).resolve().parents[2] / "scenarios" / "packs" / "en")
        yield app


def test_a_person_played_customers_anger_makes_empathy_apply_and_ends_the_outcome(en_app):
    """No simulated state: the customer's words decide whether they were upset and how they ended."""
    from grading.evaluators.outcome import CustomerOutcome, CustomerOutcomeParams
    from grading.evaluators.phrases import RequiredPhrases, RequiredPhrasesParams

    angry = build(
        [
            assigned(0),
            msg("customer", "This is a disgrace, three weeks and still nothing! I want my money back now!", 1),
            msg("agent", "Let me look at that order for you.", 10),
            msg("customer", "Unbelievable. I'm done with you people, I'll take it to consumer protection.", 20),
        ]
    )
    empathy = RequiredPhrases().run(angry, RequiredPhrasesParams(step="empathy", when="customer_upset"))
    assert empathy.status == "fail" and "anger" in empathy.evidence[0].note
    outcome = CustomerOutcome().run(angry, CustomerOutcomeParams())
    assert outcome.status == "fail"
    calm = build(
        [
            assigned(0),
            msg("customer", "Hi, could you tell me when my parcel will arrive?", 1),
            msg("agent", "It arrives on Friday.", 10),
            msg("customer", "Great, thanks a lot for your help!", 20),
        ]
    )
    assert RequiredPhrases().run(calm, RequiredPhrasesParams(step="empathy", when="customer_upset")).status == "na"
    assert CustomerOutcome().run(calm, CustomerOutcomeParams()).status == "pass"


def test_a_wrong_figure_or_a_listed_wrong_claim_fails_the_answer_gate_and_a_true_answer_adds_no_points(en_app):
    from grading.evaluators.accuracy import AnswerCorrect, AnswerCorrectParams
    from scenarios.schema import WrongClaim

    from .builders import scenario

    def run(text, sc=None):
        rec = build([assigned(0), msg("customer", "I was charged twice!", 1), msg("agent", text, 9)])
        rec = rec.__class__(**{**rec.__dict__, "scenario": sc or scenario("en-double-charge")})
        return AnswerCorrect().run(rec, AnswerCorrectParams())

    wrong = run("The duplicate was refunded automatically to your PayPal, it takes 7-10 working days to arrive.")
    assert wrong.status == "fail" and "contradicts the case" in wrong.evidence[0].note
    right = run("The duplicate was refunded automatically to your PayPal; it arrives in 1-3 working days.")
    assert right.status == "na" and right.fraction == 0.0
    base = scenario("en-double-charge")
    claim = WrongClaim(all=[["cancel"], ["order again", "reorder"]], why="cancelling loses the order")
    sc = base.model_copy(update={"expected": base.expected.model_copy(update={"wrong_claims": [claim]})})
    said = run("Please cancel the order and reorder it, that triggers the refund.", sc)
    assert said.status == "fail" and said.evidence[0].note == "cancelling loses the order"
    negated = run("You don't need to cancel or reorder anything: the refund has started already.", sc)
    assert negated.status == "na"


def test_the_wrong_information_gate_reads_mail_replies_and_call_transcripts(en_app):
    """The same gate on a mail thread (the agent's replies, not the customer's quoted mail) and on what was said
    on a call (its transcript, evidence at the segment's moment); the shipped email, voice and video rubrics
    carry it as a pure gate."""
    from grading.evaluators.accuracy import EmailAnswerCorrect
    from grading.evaluators.spoken import SpokenAnswerCorrect

    from .builders import pack, scenario
    from .test_spoken_evaluators import START, _events

    sc = scenario("en-double-charge")
    wrong = "The duplicate was refunded automatically to your PayPal, it takes 7-10 working days to arrive."
    right = "The duplicate was refunded automatically to your PayPal; it arrives in 1-3 working days."

    def mail(reply):
        received = ev("email.received", "customer", text="I was charged twice! Someone said 7-10 working days?", ts=1)
        sent = ev("email.sent", "agent", text=f"Dear customer,\n\n{reply}\n\n> Someone said 7-10 working days?", ts=9)
        rec = build([assigned(0), received, sent], channel="email")
        return EmailAnswerCorrect().run(rec.__class__(**{**rec.__dict__, "scenario": sc}), AnswerCorrectParams())

    from grading.evaluators.accuracy import AnswerCorrectParams

    bad = mail(wrong)
    assert bad.status == "fail" and bad.evidence[0].seq == 3 and "contradicts the case" in bad.evidence[0].note
    assert mail(right).status == "na"  # the customer's quoted "7-10 working days" is not the agent's claim

    def call(said):
        rec = build(_events((2.0, "customer", "I was charged twice!"), (6.0, "agent", said)), channel="voice")
        return SpokenAnswerCorrect().run(rec.__class__(**{**rec.__dict__, "scenario": sc}), AnswerCorrectParams())

    spoken = call(wrong)
    assert (
        spoken.status == "fail"
        and spoken.evidence[0].ts == START + 6.0
        and "agent at 0:06.0" in spoken.evidence[0].note
    )
    assert call(right).status == "na"
    for channel, name in (
        ("email", "email_answer_correct"),
        ("voice", "spoken_answer_correct"),
        ("video", "spoken_answer_correct"),
    ):
        item = next(i for r in pack("en").rubrics if r.channel == channel for i in r.items if i.id == "answer-correct")
        assert item.evaluator == name and item.points == 0 and item.gate == "scorecard"
