"""The satisfied customer's grace (issue 11): once its case is settled the customer stays for the agent's closing.

It waits a while after its own last line (and while the agent visibly works on the case), answers a line or two
that are not a closing in character instead of falling silent, takes its own leave (satisfied) when the agent
keeps talking past that, and does not announce it is satisfied in the same breath as a question it still asks.
"""

from __future__ import annotations

from simulator.persona import CLOSING_GRACE_SECONDS, GRACE_LINES, CustomerState

from .builders import zh_pack, zh_refund

ANSWER = "退款会在三个工作日内原路退回。"
NOT_A_CLOSING = "退款到账后银行会发短信提醒。"  # more information: no act the customer acts on
SATISFIED = "好的，谢谢，我再等等。"


def settled(ts: float = 2.0, question: str | None = None, **customer) -> tuple[CustomerState, object]:
    """A customer whose last goal the agent's answer at ``ts`` has just met; with ``question`` the customer's
    reply to that answer (its rule's line) is that question."""
    scenario = zh_refund(**customer)
    if question is not None:
        rule = next(r for r in scenario.rules if r.on == "answer" and r.after)
        rule.say = [question]
    s = CustomerState(scenario, zh_pack(), 1)
    s.on_agent_message("请提供订单号。", ts - 1)
    return s, s.on_agent_message(ANSWER, ts)


def test_the_grace_runs_from_the_customers_own_last_line():
    """The customer's thanks takes a while to type; the wait for the goodbye starts when it is sent."""
    s, r = settled(type="talkative")
    assert r.end is None and r.delay > 2
    assert s.on_tick(2 + r.delay + CLOSING_GRACE_SECONDS - 1) is None
    assert s.finished is None
    late = s.on_tick(2 + r.delay + CLOSING_GRACE_SECONDS + 1)
    assert late is not None and late.end == "satisfied" and late.lines


def test_desk_work_on_the_case_keeps_the_customer_waiting():
    """A ticket or an escalation the customer notices after its case is settled shows the agent still at work:
    the grace starts again from it."""
    s, r = settled(type="talkative")
    t = 2 + r.delay + CLOSING_GRACE_SECONDS - 5
    s.on_tick(t)
    s.on_desk_event("ticket.created", {}, t)
    assert s.on_tick(t + CLOSING_GRACE_SECONDS - 1) is None and s.finished is None


def test_a_line_that_is_not_a_closing_is_acknowledged_and_the_closing_still_ends_it():
    """More information after the case is settled gets a short acknowledgement, not silence and not a
    complaint; the customer is still there for the agent's closing, which ends the chat satisfied."""
    s, _ = settled()
    r = s.on_agent_message(NOT_A_CLOSING, 10)
    assert r.lines and r.end is None and s.finished is None
    assert r.emotion_delta == 0 and r.notes == []
    r = s.on_agent_message("还有什么可以帮您？", 20)
    assert r.end == "satisfied" and s.finished == "satisfied"


def test_the_customer_takes_its_leave_when_the_agent_keeps_talking():
    """After GRACE_LINES lines that are not a closing the customer says goodbye itself, satisfied."""
    s, _ = settled()
    for i in range(GRACE_LINES):
        r = s.on_agent_message(NOT_A_CLOSING, 10 + i)
        assert r.end is None and r.lines
    r = s.on_agent_message(NOT_A_CLOSING, 20)
    assert r.end == "satisfied" and r.lines and s.finished == "satisfied" and s.csat() == 5


def test_a_question_is_not_followed_by_thanks_in_the_same_breath():
    """When the reply that meets the last goal asks something, the customer thanks the agent only once the next
    line has answered it, and still waits for the closing."""
    s, r = settled(question="好的，那到账了会有短信提醒吗？")
    assert r.lines == ["好的，那到账了会有短信提醒吗？"] and r.end is None
    r = s.on_agent_message(NOT_A_CLOSING, 10)
    assert r.lines == [SATISFIED] and r.end is None
    assert s.on_agent_message("还有什么可以帮您？", 20).end == "satisfied"


def test_a_hesitant_customer_waits_for_the_closing_after_its_last_doubt():
    """A hesitant customer whose last doubt is answered thanks the agent and stays for the closing; a question
    in its own reply already is its last doubt (no second, generic one)."""
    s, r = settled(type="hesitant")
    assert r.kind == "followup" and len(r.lines) == 2
    r = s.on_agent_message("如果三天后还没到，您再联系我们。", 10)
    assert r.end is None and r.lines == [SATISFIED]
    assert s.on_agent_message("还有什么可以帮您？", 20).end == "satisfied"
    s, r = settled(type="hesitant", question="好的，那到账了会有短信提醒吗？")
    assert r.kind == "followup" and r.lines == ["好的，那到账了会有短信提醒吗？"]
