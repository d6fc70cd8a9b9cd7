"""Group evaluators on recordings built here: distinct needs answered, time to first answer per need,
individual needs moved to one-to-one, forbidden phrases - pass, fail and N/A, with the deciding evidence."""

from __future__ import annotations

from grading.evaluators.group import (
    GroupAnswerTime,
    GroupForbiddenPhrases,
    GroupIndividualMoved,
    GroupNeedsAnswered,
)
from grading.recording import Event, Recording
from tests.simulator.builders import zh_pack

NEEDS = [
    {
        "id": "ship",
        "title": "发货时效",
        "individual": False,
        "ask_keywords": ["发货"],
        "answer_keywords": [["48小时"], ["1-3天"]],
        "min_keywords": 1,
    },
    {
        "id": "coupon",
        "title": "优惠券叠加",
        "individual": False,
        "ask_keywords": ["优惠券"],
        "answer_keywords": [["店铺券"], ["平台券"]],
        "min_keywords": 2,
    },
    {
        "id": "points",
        "title": "积分余额",
        "individual": True,
        "private_scenario": "zh-verify-account",
        "ask_keywords": ["积分"],
        "answer_keywords": [],
        "min_keywords": 1,
    },
]


class Build:
    def __init__(self):
        self.events: list[Event] = []
        self.add(0, "group.opened", "agent", data={"needs": NEEDS, "agent_id": 1, "audience": 3})
        self.add(0, "assignment", "system")
        for i, name in enumerate(("甲", "乙", "丙", "丁"), 1):
            self.add(1, "group.member_joined", "customer", data={"member": f"m{i}", "name": name, "simulated": True})

    def add(self, ts, type, actor, text=None, data=None) -> Event:
        n = len(self.events) + 1
        ev = Event(100 + n, n, 1000.0 + ts, type, actor, text, data or {})
        self.events.append(ev)
        return ev

    def ask(self, ts, member, need, text="问一下"):
        return self.add(
            ts, "message", "customer", text, {"member": member, "need": need, "kind": "question", "simulated": True}
        )

    def post(self, ts, text, **data):
        return self.add(ts, "message", "agent", text, {"mentions": [], "reply_to": None, "cluster": None, **data})

    def rec(self) -> Recording:
        return Recording(1, "group", "zh_CN", tuple(self.events), pack=zh_pack(), level="L3")


def _run(cls, rec, **params):
    return cls().run(rec, params)


def test_all_needs_answered_in_time_and_individual_moved(app):
    """A cluster answer and a mention answer both common needs within the limit; the points asker is moved."""
    with app.app_context():
        b = Build()
        b.ask(10, "m1", "ship")
        b.ask(12, "m2", "ship")
        b.ask(15, "m3", "coupon")
        b.ask(16, "m4", "points")
        ship = b.post(40, "各位，付款后48小时内发货。", cluster="ship")
        coupon = b.post(70, "@丙 一张店铺券加一张平台券可以同时用。", mentions=["m3"])
        moved = b.add(
            75,
            "group.moved_private",
            "agent",
            data={"member": "m4", "need": "points", "individual": True, "private_contact_id": 9},
        )
        rec = b.rec()
        res = _run(GroupNeedsAnswered, rec)
        assert res.status == "pass" and res.fraction == 1.0
        assert [e.event_id for e in res.evidence] == [ship.id, coupon.id]
        assert "asked by 2" in res.evidence[0].note
        t = _run(GroupAnswerTime, rec, within_seconds=60)
        assert t.status == "pass" and "30 s" in t.evidence[0].note and "55 s" in t.evidence[1].note
        mv = _run(GroupIndividualMoved, rec)
        assert mv.status == "pass" and mv.evidence[0].event_id == moved.id
        assert _run(GroupForbiddenPhrases, rec).status == "pass"


def test_unanswered_late_and_unmoved_fail_with_evidence(app):
    """A reply to someone else does not answer a need; a need never answered and one answered late fail;
    an individual need left in the group fails quoting the question; a forbidden phrase fails quoting it."""
    with app.app_context():
        b = Build()
        b.ask(10, "m1", "ship")
        coupon_q = b.ask(11, "m2", "coupon")
        points_q = b.ask(12, "m4", "points", "帮我查查我的积分")
        b.post(20, "店铺券和平台券能一起用。", mentions=["m3"])  # addressed to someone who did not ask it
        b.post(300, "48小时内发货，你自己看订单页。")
        b.add(301, "group.announcement", "agent", "这是规定，积分问题不在群里说。", {"cluster": None})
        rec = b.rec()
        res = _run(GroupNeedsAnswered, rec, pass_share=0.8)
        assert res.status == "fail" and res.fraction == 0.5
        unanswered = [e for e in res.evidence if e.note.startswith("unanswered")]
        assert [e.event_id for e in unanswered] == [coupon_q.id] and "优惠券叠加" in unanswered[0].note
        t = _run(GroupAnswerTime, rec, within_seconds=120)
        assert t.status == "fail" and t.fraction == 0.0 and "290 s" in t.evidence[0].note
        mv = _run(GroupIndividualMoved, rec)
        assert mv.status == "fail" and mv.evidence[0].event_id == points_q.id
        fb = _run(GroupForbiddenPhrases, rec)
        assert fb.status == "fail" and len(fb.evidence) == 2
        assert {e.quote[:4] for e in fb.evidence} == {"48小时", "这是规定"}


def test_nothing_asked_is_not_applicable(app):
    """No questions and no posts: every group item is N/A, not failed."""
    with app.app_context():
        rec = Build().rec()
        for cls in (GroupNeedsAnswered, GroupAnswerTime, GroupIndividualMoved, GroupForbiddenPhrases):
            assert _run(cls, rec).status == "na", cls.name


def test_a_question_back_naming_the_keywords_does_not_answer_the_need(app):
    """The room's scorecard reads posts as the audience does: a question that names the delivery times answers
    nothing, and the time to answer runs to the post that states them."""
    with app.app_context():
        b = Build()
        b.ask(10, "m1", "ship")
        b.post(20, "@甲 您下单时选的是48小时发货还是预售呢？", mentions=["m1"])
        answer = b.post(50, "@甲 现货付款后48小时内发货。", mentions=["m1"])
        rec = b.rec()
        res = _run(GroupNeedsAnswered, rec)
        assert [e.event_id for e in res.evidence] == [answer.id]
        t = _run(GroupAnswerTime, rec, within_seconds=60)
        assert t.status == "pass" and "40 s" in t.evidence[0].note
