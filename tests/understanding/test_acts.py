"""Dialogue acts read by the shipped model, per act, with paraphrase, negation and trap cases in both languages.

These lines are the project's own (not the calibration set's); they guard the behaviours the issue names."""

from __future__ import annotations

import pytest

ZH = [
    # paraphrases of asks and answers
    ("您把下单时那一串编号发我一下，我这边看看", {"ask_order"}, set()),
    ("麻烦报一下注册时留的手机号后四位，核对下身份哈", {"ask_verification"}, set()),
    ("东西现在到哪一步了您知道吗？有没有收到取件短信", {"ask_detail"}, set()),
    ("亲您好呀～这边是小美，有啥能帮您的？", {"greeting"}, set()),
    ("您的包裹昨天晚上已经到了杭州的中转站，估计后天能送到", {"answer"}, set()),
    ("让您等了这么久，实在过意不去", {"empathy"}, set()),
    ("我这边已经把情况报给主管了，她会亲自跟进", {"escalate"}, set()),
    ("明天中午之前我一定给您回个电话说进展", {"promise_followup"}, set()),
    ("您先别走开，我去系统里翻一下记录", {"hold"}, set()),
    ("那今天就先这样，祝您周末愉快，再见啦", {"closing"}, set()),
    ("辛苦您提供的照片，很清楚", {"thank"}, set()),
    # negation: the act's words negated do not perform it
    ("不好意思，这种情况我们没办法给您额外补偿", set(), {"offer_compensation"}),
    ("这个不用等，结果已经出来了：退款昨天已经原路退回", {"answer"}, {"hold"}),
    # traps: lexicon words that do not perform their act
    ("退款会原路退回到您付款的那张卡上", {"answer"}, {"offer_compensation"}),
    ("感谢您的理解和耐心", {"thank"}, {"empathy"}),
    # rude or dismissive without a listed word
    ("这个说明书上写得清清楚楚，您是不是压根没看？", {"forbidden"}, {"empathy"}),
    ("这事不归我们管，您找快递去吧", {"dismissal"}, {"answer"}),
    # several acts in one line
    ("您好！麻烦把订单号发我一下，我马上帮您查", {"greeting", "ask_order"}, set()),
    # a rule with a limit or a choice of remedies is not a refusal; a refusal with a way out is
    ("每200积分抵2块钱，单笔最多抵订单金额的三成", set(), {"refuse_politely"}),
    ("这单超过七天了没法无理由退，不过质量问题可以走保修", {"refuse_politely"}, set()),
    # private data in full vs masked
    ("您登记的手机号是13812345678，对吧", {"disclose_private"}, set()),
    ("您尾号5678的手机号已经核对过了", set(), {"disclose_private"}),
]

EN = [
    ("could you send over the number on your order confirmation?", {"ask_order"}, set()),
    ("For security, can you confirm the last four digits of the phone on the account?", {"ask_verification"}, set()),
    ("When did the kettle start leaking - the first time you used it?", {"ask_detail"}, set()),
    ("hey there, Sam here from the Kefu team - what's up?", {"greeting"}, set()),
    ("Your parcel reached the Leeds depot last night and should be with you on Thursday", {"answer"}, set()),
    ("I'm really sorry you've had to chase this so many times", {"empathy"}, set()),
    ("I've passed this to my team leader, who handles refunds above my limit", {"escalate"}, set()),
    ("I'll email you an update by 5pm tomorrow either way", {"promise_followup"}, set()),
    ("bear with me a sec while I pull up your account", {"hold"}, set()),
    ("Is there anything else I can sort out for you today?", {"closing"}, set()),
    ("thanks for sending the photos, that really helps", {"thank"}, set()),
    ("I'm afraid we can't offer a voucher for this one", set(), {"offer_compensation"}),
    ("Your refund goes back to the card you paid with", {"answer"}, {"offer_compensation"}),
    ("I'll do whatever I can to get this fixed today", set(), {"forbidden"}),
    ("Honestly, if you'd read the manual you wouldn't be asking this", {"forbidden"}, set()),
    ("not really our problem, you'd have to take it up with the courier", {"dismissal"}, set()),
    ("Hi! Could you give me your order number so I can check?", {"greeting", "ask_order"}, set()),
    ("You can pick a free replacement or a full refund, whichever suits you", set(), {"refuse_politely"}),
    ("We have your address as 12 Baker Street, London - is that right?", {"disclose_private"}, set()),
    ("the card ending 0107 has been refunded", set(), {"disclose_private"}),
]


@pytest.mark.parametrize(("text", "present", "absent"), ZH)
def test_zh_acts(readers, text, present, absent):
    """The Chinese reader finds the acts the line performs and not the ones it only mentions."""
    got = set(readers["zh_CN"].moves(text))
    assert present <= got, (text, got)
    assert not (absent & got), (text, got)


@pytest.mark.parametrize(("text", "present", "absent"), EN)
def test_en_acts(readers, text, present, absent):
    """The English reader finds the acts the line performs and not the ones it only mentions."""
    got = set(readers["en"].moves(text))
    assert present <= got, (text, got)
    assert not (absent & got), (text, got)


def test_every_act_comes_with_confidence_and_evidence(readers):
    """Each recognised act carries a confidence in (0, 1] and evidence: words or the nearest examples."""
    reading = readers["zh_CN"].read("您好，麻烦提供一下订单号，我帮您查询")
    assert reading.acts
    for act in reading.acts:
        assert 0 < act.confidence <= 1
        assert act.words or act.nearest
    assert reading.model_version == readers["zh_CN"].model.version


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "😀😀🙏",
        "x" * 2000,
        "您好hello我想check一下order😀",
        "\x00\x01\x02\ufffd\ufffd" * 50,
        "%PDF-1.4 \x89PNG",
    ],
)
def test_bad_input_gets_a_reading_without_errors(readers, text):
    """Empty, emoji-only, 2,000-character, mixed-script and binary-looking messages are read without errors."""
    for reader in readers.values():
        reading = reader.read(text)
        assert isinstance(reading.names, list)
    assert readers["zh_CN"].read("😀😀🙏").acts == []


def test_scenario_answer_keywords_and_figures(readers, scenarios):
    """With a scenario, the reader reports which of its answer keyword groups a line states and its figures."""
    sc = scenarios["zh-delivery-status"]
    reading = readers["zh_CN"].read("查到了，包裹现在在杭州转运中心，预计6月1日送到", sc)
    assert reading.has("answer") and len(reading.answer_groups) >= 2
    assert reading.answer_keywords


# Issue 12: talking down to a customer without any taboo word is forbidden language (it fails the gate); the same
# help said respectfully is not. Lines written for this test, none of them a training example.
BELITTLING = [
    (
        "zh_CN",
        "您这么大岁数了，这些新玩意儿搞不懂也难怪，反正保修期内给您免费修。",
        "您别着急，新东西刚开始用都不太习惯，保修期内给您免费修。",
    ),
    (
        "zh_CN",
        "都讲三遍了还没记住？维修免费，快递员上门来取。",
        "我再跟您确认一遍：维修免费，快递员上门来取。",
    ),
    pytest.param(
        "zh_CN",
        "叔叔，我打字已经够慢的了，您倒是认真看啊：免费上门取件。",
        "叔叔，我打字慢一点，您慢慢看：免费上门取件。",
        marks=pytest.mark.xfail(
            strict=True,
            reason="issue 11: this twin sits on the forbidden gate's threshold (0.80) in every model trained since"
            " 2026-12-04: 0.74-0.88 by example set; the 2026-12-05 models read it 0.82 and 0.804 (the rude line 0.99)",
        ),
    ),
    (
        "en",
        "Honestly, a child could work this out - the reset button is on the left.",
        "The reset button is on the left; it's a little hidden, so it's easy to miss.",
    ),
    pytest.param(
        "en",
        "As I've explained twice now, the repair is free. Please pay attention this time.",
        "Just to confirm again in case my earlier message got buried, the repair is free.",
        marks=pytest.mark.xfail(strict=True, reason="issue 12: the en model misses impatience said politely"),
    ),
]


# More negation and trap cases, written for these tests (issue 11): a negated commitment is not made; the words
# of one act doing another do not make that act.
NEGATION_TRAP = [
    ("zh_CN", "这单不用转人工，我这边就能办：退款已经提交了", {"answer"}, {"escalate"}),
    ("zh_CN", "不用等了，刚查到：包裹今天下午就派送", {"answer"}, {"hold"}),
    ("zh_CN", "维修是免费的，这是保修本来就包含的", {"answer"}, {"offer_compensation"}),
    ("en", "No need to hang on - I can already see it was delivered at 2pm.", {"answer"}, {"hold"}),
    ("en", "I won't need to pass you to another team, I can fix this one here.", set(), {"escalate"}),
    ("en", "Thanks a lot for your patience while I looked into it.", {"thank"}, {"empathy"}),
    ("en", "The money goes back on the card you used, in 3-5 working days.", {"answer"}, {"offer_compensation"}),
]


@pytest.mark.parametrize(("lang", "text", "present", "absent"), NEGATION_TRAP)
def test_negation_and_trap_paraphrases(readers, lang, text, present, absent):
    """Negated commitments and one act's words used for another are read by what the line does."""
    got = set(readers[lang].moves(text))
    assert present <= got, (text, got)
    assert not (absent & got), (text, got)


@pytest.mark.parametrize(("lang", "rude", "polite"), BELITTLING)
def test_belittling_help_is_forbidden_and_the_respectful_twin_is_not(readers, lang, rude, polite):
    """Condescension wrapped around real help is read as forbidden language; the same help said respectfully is
    read as help, without it (a false gate would fail a trainee)."""
    assert "forbidden" in readers[lang].moves(rude), rude
    got = set(readers[lang].moves(polite))
    assert "forbidden" not in got and got & {"answer", "explain_policy"}, (polite, got)


# Restating the customer's problem repeats some of what they said; with the customer's line at hand, a restatement
# that shares nothing with it is not one (understanding.reader, understanding.text.shares_content). Lines written for
# this test: (lang, agent line, a customer line it restates, a customer line it has nothing to do with).
RESTATEMENTS = [
    ("zh_CN", "跟您确认一下，您是说净化器滤网一直在报警，对吧？", "上周买的净化器，滤网一直报警", "怎么开发票"),
    ("zh_CN", "我理解的是：耳机左边没声音，想换一副新的，对吗？", "耳机左边完全没声音了，能换新的吗", "什么时候发货啊"),
    (
        "en",
        "So if I've got this right, the blender stopped working after two days?",
        "My blender died after two days of use",
        "Hi, can I change my delivery address?",
    ),
    (
        "en",
        "Just checking I understand: you were charged twice for the same jacket?",
        "I see two charges for one jacket on my card",
        "When will my parcel arrive?",
    ),
]


@pytest.mark.parametrize(("lang", "line", "restated", "unrelated"), RESTATEMENTS)
def test_a_restatement_must_share_something_with_the_customers_line(readers, lang, line, restated, unrelated):
    """Read alone or after the line it restates, the check is confirm_understanding; after a customer line it shares
    nothing with, it is not (before: confirm_understanding whatever the customer had said)."""
    reader = readers[lang]
    assert "confirm_understanding" in reader.moves(line)
    assert "confirm_understanding" in reader.moves(line, None, restated)
    assert "confirm_understanding" not in reader.moves(line, None, unrelated)
