"""Need recognition in group chat: questions classified and answers recognised on jieba tokens, not strings."""

from __future__ import annotations

from channels.group.match import answer_evidence, classify_question

SHIP = {
    "id": "ship",
    "ask_keywords": ["发货", "几天到", "快递"],
    "answer_keywords": [["48小时", "两天内"], ["1-3天", "3-5天"]],
    "min_keywords": 1,
}
COUPON = {
    "id": "coupon",
    "ask_keywords": ["优惠券", "叠加"],
    "answer_keywords": [["店铺券"], ["平台券"], ["不能叠加", "同类券"]],
    "min_keywords": 2,
}
EN = {
    "id": "ship",
    "ask_keywords": ["ship", "delivery"],
    "answer_keywords": [["48 hours"], ["1-3 days"]],
    "min_keywords": 1,
}


def test_answers_need_keywords_in_other_words(app):
    """An answer counts when enough keyword groups match whole tokens, spaces and full-width forms aside."""
    with app.app_context():
        assert answer_evidence("亲，现货付款后 48 小时内发货哦", SHIP) == "48小时"
        assert answer_evidence("每单可用一张店铺券加一张平台券", COUPON) == "店铺券 + 平台券"
        assert answer_evidence("店铺券可以用的", COUPON) is None  # one group of two needed
        assert answer_evidence("请稍等，我查一下", SHIP) is None
        assert answer_evidence("Orders leave within 48 hours.", EN) == "48 hours"
        assert answer_evidence("We ship in 1-3 days", EN) == "1-3 days"
        assert answer_evidence("1-30 days", EN) is None  # not a token run of the keyword
        assert answer_evidence("anything", {"id": "x", "individual": True}) is None


def test_classifies_questions_by_ask_keywords(app):
    """A question goes to the need with most keywords in it; small talk to none; 'ship' not inside 'shipment'."""
    with app.app_context():
        needs = [SHIP, COUPON]
        assert classify_question("优惠券能叠加吗？", needs) == "coupon"
        assert classify_question("我的快递几天到？", needs) == "ship"
        assert classify_question("今天天气真热", needs) is None
        assert classify_question("When will it ship?", [EN]) == "ship"
        assert classify_question("my shipment of apples", [EN]) is None
