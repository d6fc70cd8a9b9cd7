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


def test_a_post_with_the_keywords_answers_only_when_read_as_answering(packs):
    """The keywords in a question back to the customer, or in checking that is only announced, answer nothing;
    the same keywords stated as the facts do (the rule a chat scenario's answer follows)."""
    from channels.group.match import read_as_answer

    with packs.app_context():
        assert answer_evidence("@甲 您下单时选的是48小时发货还是预售呢？", SHIP) == "48小时"
        assert not read_as_answer("@甲 您下单时选的是48小时发货还是预售呢？", "zh_CN")
        assert read_as_answer("各位，现货付款后48小时内发货", "zh_CN")
        held = "Will it leave within 48 hours? Let me check with the warehouse and get back to you."
        assert answer_evidence(held, EN) == "48 hours" and not read_as_answer(held, "en")
        assert read_as_answer("Everyone: in-stock orders leave within 48 hours of payment.", "en")


def _customer(kind, need, question):
    import random

    from simulator.group_audience import GroupCustomer

    customer = GroupCustomer(0, "甲", kind, need, question, 0, 1, 200, random.Random(1), member_id="m1")
    customer.on_posted(10.0, "question" if need else kind)
    return customer


def _said_to_m1(seq, text):
    data = {"mentions": ["m1"], "reply_to": None, "cluster": None}
    return {"seq": seq, "ts": 50.0, "type": "message", "actor": "agent", "text": text, "data": data}


def test_a_brush_off_said_to_a_waiting_customer_costs_half_their_patience_and_they_say_so(packs):
    """Told to go and look it up themselves, a customer waiting on delivery times complains at once and leaves
    when half the patience they had left is gone, not at the end of it."""
    from scenarios.group import group_scenarios

    with packs.app_context():
        scenario = group_scenarios("zh_CN")["zh-group-618"]
        need = scenario.need("ship-time")
        customer = _customer("asker", need.snapshot(), need.paraphrases[0])
        lines = customer.on_agent_post(_said_to_m1(1, "@甲 这个我们管不了，你自己去看详情页"), scenario, "zh_CN")
        assert [line.kind for line in lines] == ["nudge"] and customer.status == "waiting"
        # asked at 10, slighted at 50 with 160 s of its 200 left: it leaves 80 s later, at 130, not at 210
        assert customer.on_tick(129.0, scenario) == []
        assert [line.kind for line in customer.on_tick(131.0, scenario)] == ["leave_line", "leave"]


def test_a_rude_customer_calms_when_spoken_to_politely_not_when_insulted_back(packs):
    """Spoken to directly, a rude customer calms down; told to calm down, they get ruder, and the room page does not
    count them answered."""
    from channels.group.room import Post, answers
    from scenarios.group import group_scenarios

    with packs.app_context():
        scenario = group_scenarios("zh_CN")["zh-group-618"]
        rude = _customer("rude", None, scenario.rude[0])
        rude.rude_left = 1
        assert [
            line.kind for line in rude.on_agent_post(_said_to_m1(1, "@甲 你冷静点，吵也没用"), scenario, "zh_CN")
        ] == ["rude"]
        assert answers(Post(1, 50.0, "@甲 你冷静点，吵也没用", ("m1",)), "m1", None, "zh_CN") is None
        polite = _said_to_m1(2, "@甲 您好，请问有什么可以帮您？")
        assert [line.kind for line in rude.on_agent_post(polite, scenario, "zh_CN")] == ["calm"]


def test_the_simulated_customer_thanks_the_answer_not_the_question_back(packs):
    """A customer waiting on delivery times is not answered by a question that names them, and thanks the post
    that states them."""
    import random

    from scenarios.group import group_scenarios
    from simulator.group_audience import GroupCustomer

    with packs.app_context():
        scenario = group_scenarios("zh_CN")["zh-group-618"]
        need = scenario.need("ship-time")
        customer = GroupCustomer(
            0, "甲", "asker", need.snapshot(), need.paraphrases[0], 0, 1, 200, random.Random(1), member_id="m1"
        )
        customer.on_posted(10.0, "question")

        def post(seq, text):
            data = {"mentions": ["m1"], "reply_to": None, "cluster": None}
            return {"seq": seq, "ts": 20.0 + seq, "type": "message", "actor": "agent", "text": text, "data": data}

        assert customer.on_agent_post(post(1, "@甲 您下单时选的是48小时发货还是预售呢？"), scenario, "zh_CN") == []
        assert customer.status == "waiting"
        lines = customer.on_agent_post(post(2, "@甲 现货付款后48小时内发货"), scenario, "zh_CN")
        assert customer.status == "answered" and [line.kind for line in lines][:1] == ["thanks"]
