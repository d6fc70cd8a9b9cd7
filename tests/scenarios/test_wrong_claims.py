"""The packs' ``expected.wrong_claims`` (the wrong-information gate) are usable: every chat and email scenario has
2-4 of them, each claim written out as a sentence trips the gate, and the scenario's own correct answer (built from
its answer keywords) trips none. Matching is the gate's own: normalise, drop negated scopes, substring per group."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading.evaluators.accuracy import _said
from scenarios.loader import load_pack
from scenarios.schema import Scenario, WrongClaim
from understanding.text import negation_views, normalise

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"
LANGS = ("zh_CN", "en")
# How the sentences below are put together: one clause per keyword group, clauses joined as the language writes them.
JOIN = {"zh_CN": ("，", "。"), "en": (", ", ". ")}

_PACKS = {lang: load_pack(PACKS / lang) for lang in LANGS}
SCENARIOS = [(lang, sc) for lang in LANGS for sc in _PACKS[lang].scenarios]
CHAT_EMAIL = [(lang, sc) for lang, sc in SCENARIOS if sc.channel in ("chat", "email")]
WITH_CLAIMS = [(lang, sc) for lang, sc in SCENARIOS if sc.expected.wrong_claims]
WITH_ANSWER = [(lang, sc) for lang, sc in WITH_CLAIMS if sc.answer and sc.answer.keywords]


def _ids(cases):
    return [sc.id for _, sc in cases]


def trips(text: str, claim: WrongClaim, lang: str) -> bool:
    """The gate's test for one message and one claim (grading.evaluators.accuracy.AnswerCorrect)."""
    plain = negation_views(normalise(text, lang)).plain
    return all(_said(plain, group, lang) for group in claim.all)


def variants(groups: list[list[str]]) -> list[list[str]]:
    """One pick per group, cycling through each group's phrases so that every phrase is used at least once."""
    return [[g[i % len(g)] for g in groups] for i in range(max(len(g) for g in groups))]


def correct_answers(sc: Scenario, lang: str) -> list[str]:
    """The scenario's correct answer, written out from its keywords: one sentence per keyword, and all of them in
    one message (every phrase of every group appears in some message)."""
    sep = JOIN[lang][1]
    return [sep.join(pick) + sep for pick in variants(sc.answer.keywords)]


@pytest.mark.parametrize(("lang", "sc"), CHAT_EMAIL, ids=_ids(CHAT_EMAIL))
def test_chat_and_email_scenarios_have_wrong_claims(lang, sc):
    """Each chat and email scenario names 2-4 common false answers, each with a reason the scorecard can show."""
    claims = sc.expected.wrong_claims
    assert 2 <= len(claims) <= 4, f"{sc.id}: {len(claims)} wrong claims"
    for claim in claims:
        assert claim.why.strip() and all(p.strip() for g in claim.all for p in g)


@pytest.mark.parametrize(("lang", "sc"), WITH_CLAIMS, ids=_ids(WITH_CLAIMS))
def test_each_wrong_claim_said_plainly_trips_the_gate(lang, sc):
    """Every phrase of every claim can be matched: a claim said outright (no negation) fails the message."""
    sep = JOIN[lang][0]
    for claim in sc.expected.wrong_claims:
        for pick in variants(claim.all):
            sentence = sep.join(pick)
            assert trips(sentence, claim, lang), f"{sc.id}: {sentence!r} does not trip {claim.all}"


@pytest.mark.parametrize(("lang", "sc"), WITH_CLAIMS, ids=_ids(WITH_CLAIMS))
def test_a_negated_claim_does_not_trip_the_gate(lang, sc):
    """The same claim denied ("no need to cancel the order") is not a false statement."""
    for claim in sc.expected.wrong_claims:
        pick = variants(claim.all)[0]
        if lang == "en":
            sentence = ". ".join(f"it is not true that {p}" for p in pick)
        else:
            sentence = "。".join(f"并不是{p}" for p in pick)
        assert not trips(sentence, claim, lang), f"{sc.id}: {sentence!r} trips {claim.all}"


@pytest.mark.parametrize(("lang", "sc"), WITH_ANSWER, ids=_ids(WITH_ANSWER))
def test_the_correct_answer_trips_no_wrong_claim(lang, sc):
    """The scenario's own correct answer never counts as misinformation."""
    for text in correct_answers(sc, lang):
        hit = [c.all for c in sc.expected.wrong_claims if trips(text, c, lang)]
        assert not hit, f"{sc.id}: the correct answer {text!r} trips {hit}"


# Correct answers as a trainee writes them, with the negations and contrasts a correct answer uses ("not to your
# balance", "no need to cancel", "don't send it back"): none of them may count as misinformation.
WRITTEN_ANSWERS = {
    "en-double-charge": [
        "The duplicate payment was refunded automatically to your PayPal, not to your account balance, and arrives "
        "in 1-3 working days. There's no need to cancel the order.",
        "Only one watch ships. You don't need to cancel your order or contact PayPal; "
        "the duplicate refund has started.",
    ],
    "en-compensation-limit": [
        "On my own authority I can offer $50. For the $300 I need the duty supervisor's approval; you'll have an "
        "answer within 24 hours. I can't promise it will be approved.",
    ],
    "en-crisis-power-bank-fire": [
        "Is everyone safe? Please stop using it, unplug it, and keep the remains and photos. Please don't send it "
        "back; a specialist will contact you within 2 hours. Please get your son to a doctor.",
    ],
    "en-damaged-kettle": [
        "You don't need to send it back and you don't need to contact the courier: we'll deal with Northwind "
        "ourselves. You can choose a free replacement sent within 48 hours or a full refund.",
    ],
    "en-return-7day": [
        "You can return it within 7 days. Return postage is paid by you; gold members get free pickups. The refund "
        "goes back to your Visa card, not to your account balance, within 48 hours of inspection.",
    ],
    "en-scam-call": [
        "That was a scam, not us. We will never ask you to install an app or read out a code. Please hang up. "
        "Did you install anything or share a code?",
    ],
    "en-verify-account": [
        "For your security I need your registered phone number and the last four digits of your ID. We never ask "
        "for your password or a verification code.",
    ],
    "en-late-delivery-complaint": [
        "I've raised an urgent trace with Bluebird; the courier must reply within 24 hours and I'll call you back. "
        "If it's lost we'll reship or refund. I can't guarantee it will arrive by Monday.",
    ],
    "zh-double-charge": [
        "您好，重复扣款的1099元系统已经自动退回，原路退回支付宝，不是退到余额，1-3个工作日到账。订单不用取消，也不用您申请退款。",
    ],
    "zh-compensation-limit": [
        "非常理解您的损失。我的权限内可以先给您50元补偿；300元超出我的权限，我帮您申请主管审批，24小时内给您答复，但不能保证一定批准。",
    ],
    "zh-crisis-power-bank-fire": [
        "请问您和孩子现在安全吗？请先停止使用，断电，远离充电宝，孩子的伤先就医。请保留残骸和照片，不要寄回。专员会在2小时内联系您。",
    ],
    "zh-damaged-kettle": [
        "非常抱歉！您不用寄回破损的水壶，我们会向快递公司追偿，您不用联系快递。您可以选择免费补发（48小时内发出）或全额退款。",
    ],
    "zh-return-7day": [
        "签收7天内未拆封商品支持七天无理由退货。寄回运费由您承担；金卡钻石会员每月有2次免费上门取件。质检通过后48小时内原路退回，不是退到余额。",
    ],
    "zh-scam-call": [
        "阿姨，这是诈骗电话！商城从不会要求您下载软件或者提供验证码。请您马上挂断，千万不要转账，也别把验证码告诉他。您下载软件了吗？",
    ],
    "zh-verify-account": [
        "为了您的账户安全，请提供注册手机号和身份证后四位。验证码和密码请勿告诉任何人，我们不会索要。",
    ],
    "zh-video-elderly-withdraw-id": [
        "核验通过了。余额可以提现到您本人名下的银行卡，不能转到孙子的卡，每月免费3次，不收手续费，1-3个工作日到账。",
    ],
}


@pytest.mark.parametrize("scenario_id", sorted(WRITTEN_ANSWERS))
def test_written_correct_answers_trip_no_wrong_claim(scenario_id):
    lang, sc = next((lang, sc) for lang, sc in SCENARIOS if sc.id == scenario_id)
    for text in WRITTEN_ANSWERS[scenario_id]:
        hit = [c.all for c in sc.expected.wrong_claims if trips(text, c, lang)]
        assert not hit, f"{sc.id}: {text!r} trips {hit}"


def test_every_scenario_with_a_keyword_answer_is_checked():
    """The correct-answer check covers every chat and email scenario (they all state their answer's keywords)."""
    chat_email = {sc.id for _, sc in CHAT_EMAIL if sc.answer and sc.answer.keywords}
    assert chat_email <= {sc.id for _, sc in WITH_ANSWER}
