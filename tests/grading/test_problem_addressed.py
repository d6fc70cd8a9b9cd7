"""The unanswered-enquiry gate: courtesy without the answer, a goal met or a hand-off fails the scorecard; any one
of those passes; without a scenario there is no problem to judge."""

from __future__ import annotations

from grading.evaluators.resolution import ProblemAddressed, ProblemAddressedParams

from .builders import assigned, build, ev, msg

SID = "en-delivery-status"
OPENING = msg("customer", "Hi, my watch still hasn't arrived. Where is it?", 1)


def _run(events, sid=SID):
    return ProblemAddressed().run(build(events, sid=sid), ProblemAddressedParams())


def test_courtesy_alone_fails_the_gate():
    res = _run(
        [
            assigned(0),
            OPENING,
            msg("agent", "Hello, welcome, happy to help!", 3),
            msg("agent", "I'm so sorry, I completely understand how frustrating this is.", 6),
            msg("agent", "Thank you so much for your patience.", 9),
            msg("agent", "Is there anything else I can help with? Have a great day!", 12),
        ]
    )
    assert res.status == "fail"
    assert "never answered" in res.note


def test_the_answer_passes():
    res = _run(
        [
            assigned(0),
            OPENING,
            msg("agent", "It's at the Columbus sorting hub and should reach you on June 1.", 5),
        ]
    )
    assert res.status == "pass", res.note


def test_a_hand_off_passes_in_words_or_by_a_desk_action():
    said = _run(
        [
            assigned(0),
            OPENING,
            msg("agent", "I've passed this to our delivery team; they will call you back by 5 pm today.", 5),
        ]
    )
    assert said.status == "pass", said.note
    escalated = _run(
        [
            assigned(0),
            OPENING,
            msg("agent", "Sorry about that.", 4),
            ev("ticket.escalated", "agent", data={"target": "logistics"}, ts=6),
        ]
    )
    assert escalated.status == "pass", escalated.note


def test_a_goal_met_passes():
    res = _run(
        [
            assigned(0),
            OPENING,
            msg("agent", "Sorry about that.", 4),
            ev("customer.state", "simulator", data={"goals": ["know_eta"], "goals_done": ["know_eta"]}, ts=5),
        ]
    )
    assert res.status == "pass", res.note


def test_no_scenario_or_no_agent_line_is_not_applicable():
    assert _run([assigned(0), OPENING, msg("agent", "Thanks!", 3)], sid=None).status == "na"
    assert _run([assigned(0), OPENING]).status == "na"


def test_a_courteous_mail_that_answers_nothing_fails_and_a_handed_on_one_passes():
    """On email the agent's replies are judged, not the customer's mail quoted in them."""
    from grading.evaluators.resolution import EmailProblemAddressed

    def mail(reply):
        received = ev("email.received", "customer", text="Where is my watch? I'll call you back tomorrow.", ts=1)
        sent = ev("email.sent", "agent", text=f"Dear customer,\n\n{reply}\n\n> I'll call you back tomorrow.", ts=9)
        rec = build([assigned(0), received, sent], sid=SID, channel="email")
        return EmailProblemAddressed().run(rec, ProblemAddressedParams())

    assert mail("Thank you for your email. We are sorry for any inconvenience.").status == "fail"
    assert mail("I have passed this to our delivery team, who will email you an update by Friday.").status == "pass"
