"""A group room with 20 simulated customers asking clustered questions: the agent answers clusters one-to-many
(cluster reply, pinned announcement, @mentions), moves individual needs to one-to-one chats, and the coverage
figures are computed from the recording."""

from __future__ import annotations

from sqlalchemy import select

from channels.group.actions import (
    do_close_group_room,
    do_move_member_to_private,
    do_pin_announcement,
    do_reply_in_group,
    room_state,
)
from channels.group.sessions import start_group_room
from contacts.models import Contact, ContactEvent
from extensions import db
from grading.recording import load_recording
from grading.scoring import grade
from scenarios.registry import get_rubric

from .conftest import user

ANSWERS = {
    "ship-time": "各位亲，现货付款后 48 小时内发货，省会城市 1-3 天送达，其他城市 3-5 天。",
    "price-protect": "【价保说明】签收 7 天内同款降价可申请价保，退还差价；秒杀、拼团不在价保范围内。",
    "coupon-stack": "每笔订单可用 1 张店铺券 + 1 张平台券，同类券不能叠加哦。",
    "return-7day": "签收 7 天内支持无理由退货，商品完好不影响二次销售即可，寄回运费由您承担。",
}


def _events(room_id: int) -> list[ContactEvent]:
    db.session.expire_all()
    q = select(ContactEvent).where(ContactEvent.contact_id == room_id).order_by(ContactEvent.seq)
    return list(db.session.scalars(q))


def _item(card: dict, item_id: str) -> dict:
    return next(i for i in card["items"] if i["id"] == item_id)


def test_room_of_20_answers_clusters_and_scores_coverage(app, packs, trainee, driver):
    """20 customers join and ask; cluster answers, an announcement and @mentions answer four of the five common
    needs; the askers thank, the unanswered invoice askers leave impatient; individual needs go to reserved
    one-to-one chats; the scorecard's coverage is 4/5 with evidence."""
    with app.app_context():
        agent = user(trainee)
        (room,) = start_group_room(agent, "zh-group-618", audience=20, seed=7)
        driver.run_for(100)
        state = room_state(room.id)
        assert len(state.members) == 20
        clusters = {c["need"]: c for c in state.clusters()}
        asked = {n for n, c in clusters.items() if n and c["waiting"] and not c["individual"]}
        assert {"ship-time", "price-protect", "coupon-stack", "return-7day", "invoice"} <= asked
        several = [n for n in asked if len(clusters[n]["waiting"]) >= 2]
        assert several, "the same need is asked by several customers in different words"
        texts = {e.text for e in _events(room.id) if e.actor == "customer" and (e.data or {}).get("need") == several[0]}
        assert len(texts) >= 2

        # a post without the answer's keywords answers nobody
        _, none = do_reply_in_group(room, agent, "请稍等，我查一下。", cluster="coupon-stack")
        assert none == []

        _, a1 = do_reply_in_group(room, agent, ANSWERS["ship-time"], cluster="ship-time")
        _, a2 = do_pin_announcement(room, agent, ANSWERS["price-protect"], cluster="price-protect")
        coupon_askers = clusters["coupon-stack"]["waiting"]
        _, a3 = do_reply_in_group(room, agent, ANSWERS["coupon-stack"], mentions=coupon_askers)
        _, a4 = do_reply_in_group(room, agent, ANSWERS["return-7day"], cluster="return-7day")
        assert set(clusters["ship-time"]["waiting"]) <= set(a1)
        assert set(clusters["price-protect"]["waiting"]) <= set(a2)
        assert set(a3) == set(coupon_askers)
        assert set(clusters["return-7day"]["waiting"]) <= set(a4)

        individual = [m for n, c in clusters.items() if c["individual"] for m in c["waiting"]]
        assert individual, "the seed brings at least one account question"
        moved = []
        for mid in individual:
            _, contact, token = do_move_member_to_private(room, agent, mid)
            assert token is None  # a simulated member goes on as the private chat scenario
            moved.append(contact.id)
        driver.run_for(400)

        events = _events(room.id)
        thanks = {e.data["member"] for e in events if e.type == "message" and (e.data or {}).get("kind") == "thanks"}
        assert set(a1) | set(a2) | set(a3) | set(a4) <= thanks
        left = {e.data["member"]: e.data["reason"] for e in events if e.type == "group.member_left"}
        for mid in clusters["invoice"]["waiting"]:
            assert left.get(mid) == "impatient"
        minds = [e for e in events if e.type == "customer.state" and e.data.get("reaction") == "answered"]
        assert {e.data["answered_how"] for e in minds} >= {"cluster", "announcement", "mention"}
        for cid in moved:
            chat = db.session.get(Contact, cid)
            assert chat.channel == "chat" and chat.reserved_agent_id == agent.id and chat.simulated
            assert chat.scenario_id in ("zh-verify-account", "zh-double-charge")

        do_close_group_room(room, agent)
        card = grade(load_recording(room.id), get_rubric("zh-group-standard"))
        coverage = _item(card, "needs-answered")
        assert coverage["status"] == "pass" and coverage["fraction"] == 0.8
        assert any("unanswered" in e["note"] and "发票" in e["note"] for e in coverage["evidence"])
        assert _item(card, "individual-to-private")["status"] == "pass"
        assert _item(card, "forbidden-phrases")["status"] == "pass"
        assert _item(card, "answer-time")["evidence"]
        assert _item(card, "group-manner")["status"] == "pending"
