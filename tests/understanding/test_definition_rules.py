"""The reader's rules taken from the act definitions (../shared/calibration/README.md), where the model reading one
line cannot tell: checking that starts once the customer answers is no hold, and a scenario's answer words in a
line that hands the case on or promises a call back do not make it an answer. Lines written for these tests."""

from __future__ import annotations

import pytest

# A check announced together with a request for the order or identity details: it starts once the customer sends
# them, so it is no hold (before: hold, read from "我帮您查一下" / "let me check").
CHECK_AFTER_ASKING = [
    ("zh_CN", "我帮您查一下，麻烦提供下订单号", "ask_order"),
    ("zh_CN", "马上为您查询，请报一下您的订单编号", "ask_order"),
    ("zh_CN", "我帮您核实一下，麻烦说一下注册手机号后四位", "ask_verification"),
    ("en", "Let me check on that - what's the order number?", "ask_order"),
    ("en", "Sure, let me check. Which order is it?", "ask_order"),
    ("en", "Let me look that up. What's the email on the account?", "ask_verification"),
]
# The same with a word of waiting: the customer is asked to wait, which is a hold.
WAIT_AND_ASK = [
    ("zh_CN", "请稍等，我先查一下，您订单号多少？"),
    ("en", "One moment please, I'm checking - and could you send the order number too?"),
]


@pytest.mark.parametrize(("lang", "line", "ask"), CHECK_AFTER_ASKING)
def test_checking_that_waits_for_the_customers_details_is_no_hold(readers, lang, line, ask):
    moves = readers[lang].moves(line)
    assert ask in moves
    assert "hold" not in moves


@pytest.mark.parametrize(("lang", "line"), WAIT_AND_ASK)
def test_asking_to_wait_while_asking_for_details_is_still_a_hold(readers, lang, line):
    assert {"hold", "ask_order"} <= set(readers[lang].moves(line))


# Lines of the compensation-limit scenarios, whose answer keywords are the authority, approval and 24-hour words:
# handing the case to the supervisor with a call back within 24 hours announces, it does not answer (before: answer,
# from the scenario's keywords alone).
ANNOUNCEMENTS = [
    ("zh_CN", "zh-compensation-limit", "这个金额我这边批不了，我马上报给值班主管，24小时内给您回电话"),
    ("zh_CN", "zh-compensation-limit", "我已经把您的诉求提交到主管那里了，24 小时内会有结果"),
    ("en", "en-compensation-limit", "I'm passing this to the duty supervisor now, you'll get a call within 24 hours."),
]


@pytest.mark.parametrize(("lang", "scenario", "line"), ANNOUNCEMENTS)
def test_an_escalation_with_the_scenarios_answer_words_is_not_an_answer(readers, scenarios, lang, scenario, line):
    reading = readers[lang].read(line, scenarios[scenario])
    assert {"escalate", "promise_followup"} <= set(reading.names)
    assert "answer" not in reading.names
    assert reading.answer_keywords  # the words are still reported (the simulated customer's goals count them)


def test_the_scenarios_answer_words_stated_plainly_are_still_an_answer(readers, scenarios):
    """The rule leaves a plain statement of the case's facts alone: the keywords make it an answer."""
    reading = readers["zh_CN"].read("查到了，包裹现在在杭州转运中心，预计6月1日送到", scenarios["zh-delivery-status"])
    assert reading.has("answer")


def test_a_potential_complement_declines_though_buguo_alone_is_but():
    """跳不过去 declines as 改不了 does (a refusal needs a declining word), though 不过 alone means "but" and opens no
    negation scope."""
    from understanding.features import prepare
    from understanding.reader import _declines

    assert _declines(prepare("这期已经在打包，跳不过去了，不过可以把下期暂停", "zh_CN"))
    assert not _declines(prepare("已经发出了，不过要明天才到", "zh_CN"))
