"""Each evaluator on Recordings built in the tests: pass, fail and N/A, with the evidence that decided it."""

from __future__ import annotations

from grading.evaluators import EVALUATORS

from .builders import assigned, build, ev, msg, ticket


def run(name, rec, **params):
    return EVALUATORS[name]().run(rec, params)


def ids(result):
    return [e.event_id for e in result.evidence]


def test_first_response_pass_fail_and_na():
    """First reply 10 s after assignment passes; 45 s fails; a contact never assigned is N/A."""
    ok = build([assigned(0), msg("agent", "Hello, how can I help?", 10)])
    r = run("first_response", ok, within_seconds=30)
    assert r.status == "pass" and ids(r) == [101, 102] and "10.0 s" in r.note
    late = build([assigned(0), msg("agent", "Hello", 45)])
    r = run("first_response", late, within_seconds=30)
    assert r.status == "fail" and r.fraction == 0 and r.evidence[1].quote == "Hello"
    assert run("first_response", build([msg("customer", "anyone?", 1)])).status == "na"


def test_reply_gaps_partial_credit_and_na():
    """One of two customer turns waited 100 s: fraction 0.5, evidence quotes that message and the late reply."""
    rec = build(
        [
            assigned(0),
            msg("agent", "Hello", 5),
            msg("customer", "My parcel is late", 10),
            msg("customer", "order US1", 12),  # same turn: does not restart the clock
            msg("agent", "Let me check", 20),
            msg("customer", "Any news?", 30),
            msg("agent", "It is in Columbus", 130),
        ]
    )
    r = run("reply_gaps", rec, max_gap_seconds=60)
    assert r.status == "fail" and r.fraction == 0.5
    assert ids(r) == [106, 107] and r.evidence[0].quote == "Any news?" and "100.0 s" in r.evidence[0].note
    assert run("reply_gaps", rec, max_gap_seconds=60, pass_share=0.5).status == "pass"
    assert run("reply_gaps", build([msg("customer", "hi", 1), assigned(2), msg("agent", "Hello", 3)])).status == "na"


def test_required_greeting_and_closing_by_lexicon():
    """Greeting and closing are recognised by the pack lexicon, quoting the phrase; missing closing fails."""
    rec = build([assigned(0), msg("agent", "Good morning! How can I help?", 2)])
    r = run("required_phrases", rec, step="greeting")
    assert r.status == "pass" and ids(r) == [102] and "good morning" in r.evidence[0].note.lower()
    r = run("required_phrases", rec, step="closing")
    assert r.status == "fail" and ids(r) == [None]


def test_empathy_only_when_the_customer_was_upset():
    """Empathy is N/A for a calm customer; required after the customer.state that shows anger."""
    calm = build([assigned(0), msg("agent", "Hello", 1)], sid="en-delivery-status")
    assert run("required_phrases", calm, step="empathy", when="customer_upset").status == "na"
    angry_state = ev("customer.state", "simulator", data={"emotion": 2, "emotion_name": "angry"}, ts=5)
    early = build(
        [assigned(0), msg("agent", "Sorry for the wait", 1), angry_state, msg("agent", "Please hold", 8)],
        sid="en-delivery-status",
    )
    r = run("required_phrases", early, step="empathy", when="customer_upset")
    assert r.status == "fail" and ids(r) == [103, None]  # the apology came before the customer was upset
    later = build([assigned(0), angry_state, msg("agent", "I'm really sorry about this", 8)], sid="en-delivery-status")
    r = run("required_phrases", later, step="empathy", when="customer_upset")
    assert r.status == "pass" and ids(r) == [102, 103] and r.evidence[1].quote == "I'm really sorry about this"
    # A scenario whose customer starts upset needs empathy without any customer.state.
    r = run(
        "required_phrases",
        build([assigned(0), msg("agent", "Hi", 1)], sid="en-late-delivery-complaint"),
        step="empathy",
        when="customer_upset",
    )
    assert r.status == "fail"


def test_verification_request_only_when_required():
    """Asking for identity details is N/A unless the scenario requires verification before disclosure."""
    asks = [assigned(0), msg("agent", "For a quick security check, what is the phone number on the account?", 3)]
    r = run(
        "required_phrases", build(asks, sid="en-verify-account"), step="ask_verification", when="verify_before_disclose"
    )
    assert r.status == "pass" and ids(r) == [102]
    r = run(
        "required_phrases",
        build(asks, sid="en-delivery-status"),
        step="ask_verification",
        when="verify_before_disclose",
    )
    assert r.status == "na"


def test_scenario_required_phrases_fraction():
    """Without a step, every step in the scenario's required_phrases must appear in its words."""
    rec = build([assigned(0), msg("agent", "Hi there, let me look.", 1)], sid="en-delivery-status")
    r = run("required_phrases", rec)
    assert r.status == "fail" and r.fraction == 0.5
    assert [e.note.split(":")[0] for e in r.evidence] == ["closing", "greeting"] and ids(r) == [None, 102]
    assert run("required_phrases", build([assigned(0)])).status == "na"


def test_required_phrases_chinese_aware():
    """Chinese greeting matched on jieba tokens in a Chinese sentence; a message without one fails."""
    good = build([assigned(0), msg("agent", "您好，请问有什么可以帮您？", 1)], lang="zh_CN")
    assert run("required_phrases", good, step="greeting").status == "pass"
    bad = build([assigned(0), msg("agent", "请提供一下订单号。", 1)], lang="zh_CN")
    assert run("required_phrases", bad, step="greeting").status == "fail"


def test_forbidden_phrases_pack_and_scenario_lists():
    """A pack phrase ('calm down') and a scenario phrase ('look it up yourself') fail with quotes; clean passes."""
    rec = build(
        [
            assigned(0),
            msg("agent", "Hello", 1),
            msg("agent", "Please calm down.", 5),
            msg("agent", "Look it up yourself", 9),
        ],
        sid="en-delivery-status",
    )
    r = run("forbidden_phrases", rec)
    assert r.status == "fail" and ids(r) == [103, 104]
    assert r.evidence[0].quote == "Please calm down." and "calm down" in r.evidence[0].note
    assert run("forbidden_phrases", build([assigned(0), msg("agent", "Hello", 1)])).status == "pass"
    assert run("forbidden_phrases", build([assigned(0)])).status == "na"


def _verify_flow(verify_before_answer: bool):
    steps = [
        assigned(0),
        msg("agent", "Hello, thanks for contacting Kefu Mall.", 1),
        msg("agent", "For a quick security check, the phone number on the account please?", 5),
    ]
    verify = ev("crm.verify", "agent", data={"result": "verified", "method": "phone"}, ts=20)
    answer = msg("agent", "Your balance is 65.30 and you have 4,280 points.", 30)
    steps += [verify, answer] if verify_before_answer else [answer, verify]
    steps.append(msg("agent", "Is there anything else I can help with?", 40))
    return build(steps, sid="en-verify-account", level="L5")


def test_step_order_in_order_and_out_of_order():
    """ABCD-style flow: all five steps in order pass; verifying after answering matches 4 of 5."""
    r = run("step_order", _verify_flow(True))
    assert r.status == "pass" and r.fraction == 1 and ids(r) == [102, 103, 104, 105, 106]
    r = run("step_order", _verify_flow(False))
    assert r.status == "fail" and r.fraction == 0.8
    assert "out of order" in r.evidence[3].note and r.evidence[3].event_id == 104
    assert run("step_order", build([assigned(0)])).status == "na"


def test_verify_before_disclose():
    """Disclosure unverified fails (gate evidence), with or without a scenario; after crm.verify passes."""
    bad = build(
        [assigned(0), ev("crm.disclose", "agent", data={"verified": False, "customer_ref": "C0007"}, ts=3)],
        sid="en-verify-account",
    )
    r = run("verify_before_disclose", bad)
    assert r.status == "fail" and ids(r) == [102] and "C0007" in r.evidence[0].note
    good = build(
        [
            assigned(0),
            ev("crm.verify", "agent", data={"result": "verified", "method": "phone"}, ts=2),
            ev("crm.disclose", "agent", data={"verified": True, "customer_ref": "C0007"}, ts=3),
        ],
        sid="en-verify-account",
    )
    r = run("verify_before_disclose", good)
    assert r.status == "pass" and ids(r) == [102, 103]
    # Without a scenario the gate still holds: an unverified disclosure is one, whatever the script (issue 12).
    assert run("verify_before_disclose", bad.__class__(**{**bad.__dict__, "scenario": None})).status == "fail"


def test_ticket_end_state_fraction():
    """Expected complaints/high/medium: a ticket with priority normal matches 2 of 3 fields."""
    created = ev(
        "ticket.created",
        "agent",
        "late fridge",
        {"ticket_id": 1, "category": "complaints", "priority": "normal", "risk_level": "medium"},
        10,
    )
    rec = build(
        [assigned(0), created],
        sid="en-compensation-limit",
        tickets=[ticket(category="complaints", priority="normal", risk_level="medium")],
    )
    r = run("ticket_end_state", rec, fields=["category", "priority", "risk_level", "status"])
    assert r.status == "fail" and round(r.fraction, 4) == round(2 / 3, 4)
    assert ids(r) == [102, 102, 102] and "expected 'high'" in r.evidence[1].note
    none = build([assigned(0)], sid="en-compensation-limit")
    assert run("ticket_end_state", none).status == "fail"
    assert run("ticket_end_state", build([assigned(0)], sid="en-delivery-status")).status == "na"


def test_crisis_escalation_gate_item():
    """With risk_levels [high, crisis]: missing escalation fails, ticket.escalated to crisis_team passes,
    a medium-risk scenario is N/A."""
    params = {"risk_levels": ["high", "crisis"]}
    r = run("escalation", build([assigned(0)], sid="en-crisis-power-bank-fire", level="L3"), **params)
    assert r.status == "fail"
    esc = ev("ticket.escalated", "agent", data={"ticket_id": 1, "target": "crisis_team"}, ts=9)
    r = run("escalation", build([assigned(0), esc], sid="en-crisis-power-bank-fire", level="L3"), **params)
    assert r.status == "pass" and ids(r) == [102]
    assert run("escalation", build([assigned(0)], sid="en-compensation-limit"), **params).status == "na"


def test_compensation_limit():
    """$80 over the scenario's $50 limit fails; $30 passes; the pack's L5 limit (0) applies without one."""

    def comp(amount):
        return ev(
            "ticket.updated",
            "agent",
            data={"ticket_id": 1, "number": "T1", "changes": {"compensation_amount": [None, amount]}},
            ts=5,
        )

    r = run("compensation_limit", build([assigned(0), comp("80.00")], sid="en-compensation-limit"))
    assert r.status == "fail" and ids(r) == [102] and "over the limit of 50" in r.note
    assert run("compensation_limit", build([assigned(0), comp("30.00")], sid="en-compensation-limit")).status == "pass"
    r = run("compensation_limit", build([assigned(0), comp("10.00")], sid="en-delivery-status", level="L5"))
    assert r.status == "fail" and "limit of 0" in r.note
    assert run("compensation_limit", build([assigned(0)], sid="en-delivery-status")).status == "na"


def test_kb_article():
    """Opening an expected article passes; a wrong one fails naming it; no expected articles is N/A."""
    right = build(
        [assigned(0), ev("kb.open", "agent", data={"slug": "delivery-tracking"}, ts=4)], sid="en-delivery-status"
    )
    r = run("kb_article", right)
    assert r.status == "pass" and ids(r) == [102]
    wrong = build([assigned(0), ev("kb.open", "agent", data={"slug": "points-rules"}, ts=4)], sid="en-delivery-status")
    r = run("kb_article", wrong)
    assert r.status == "fail" and "points-rules" in r.evidence[0].note
    assert run("kb_article", build([assigned(0)])).status == "na"
    assert run("kb_article", right, require_send=True).status == "fail"


def test_customer_outcome():
    """Calm with all goals and CSAT 5 -> 1.0; furious, no goals, CSAT 1 -> 0; nothing to read -> N/A."""
    happy = build(
        [
            assigned(0),
            ev("customer.state", "simulator", data={"emotion": 0, "goals": ["a", "b"], "goals_done": ["a", "b"]}, ts=5),
            ev("csat.answered", "customer", data={"score": 5}, ts=9),
        ]
    )
    r = run("customer_outcome", happy)
    assert r.status == "pass" and r.fraction == 1 and ids(r) == [102, 103]
    sad = build(
        [
            assigned(0),
            ev("customer.state", "simulator", data={"emotion": 3, "goals": ["a"], "goals_done": []}, ts=5),
            ev("csat.answered", "customer", data={"score": 1}, ts=9),
        ]
    )
    assert run("customer_outcome", sad).fraction == 0 and run("customer_outcome", sad).status == "fail"
    half = build([ev("csat.answered", "customer", data={"score": 3}, ts=9)])
    assert run("customer_outcome", half).fraction == 0.5
    assert run("customer_outcome", build([assigned(0)])).status == "na"


def test_transfer_note():
    """A transfer with a real note passes; 'ok' fails (quoted); no transfer is N/A."""
    good = build([assigned(0), ev("transfer", "agent", "Customer wants a refund over my limit", {"target": "L3"}, 5)])
    assert run("transfer_note", good).status == "pass"
    r = run("transfer_note", build([assigned(0), ev("transfer", "agent", "ok", {"target": "L3"}, 5)]), min_chars=5)
    assert r.status == "fail" and r.evidence[0].quote == "ok" and ids(r) == [102]
    assert run("transfer_note", build([assigned(0)])).status == "na"


def test_wrap_up_code():
    """The expected ENQ_DELIVERY passes, another code fails, a scenario-less contact is N/A."""

    def rec(code):
        return build([assigned(0), ev("wrap_up", "agent", data={"code": code}, ts=50)], sid="en-delivery-status")

    assert run("wrap_up_code", rec("ENQ_DELIVERY")).status == "pass"
    r = run("wrap_up_code", rec("OTHER"))
    assert r.status == "fail" and ids(r) == [102] and "expected ENQ_DELIVERY" in r.note
    assert run("wrap_up_code", build([assigned(0)])).status == "na"
