"""What the group-room audience tests share: the trainee's English sale room started and its audience driven, the
agent's answer to everyone, and what the room's members said (read from the recording)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from channels.group.sessions import start_group_room
from contacts.models import ContactEvent
from extensions import db

from .conftest import user

ANSWER = (
    "Hello everyone! Sale orders ship within 48 hours and delivery takes 3-5 days. Price protection: you can claim "
    "the difference within 7 days (not for flash sales or group deals). Coupons: one store coupon and one site-wide "
    "coupon per order; two of the same kind cannot be combined. Returns: 7 days with no reason needed, and we cover "
    "the return postage. Receipts: an electronic receipt is emailed within 3 working days."
)
MIX = {"off_topic": 0, "rude": 0, "individual": 0}


def lines(room_id: int, kind: str) -> list[ContactEvent]:
    """The room's members' messages of ``kind`` ("question", "thanks", ...) in order, read afresh."""
    db.session.expire_all()
    q = select(ContactEvent).where(ContactEvent.contact_id == room_id, ContactEvent.type == "message")
    return [e for e in db.session.scalars(q.order_by(ContactEvent.seq)) if (e.data or {}).get("kind") == kind]


def said(room_id: int, kind: str) -> Counter[str]:
    """How many messages of ``kind`` each member of the room said."""
    return Counter(e.data["member"] for e in lines(room_id, kind))


def room_with_askers(trainee: int, driver):
    """The trainee's English sale room (six in the audience, none off-topic, rude or individual; seed 3), its
    audience driven 100 s: (the agent, the room, the members who asked a question by then)."""
    agent = user(trainee)
    (room,) = start_group_room(agent, "en-group-sale", audience=6, mix=MIX, seed=3)
    driver.run_for(100)
    return agent, room, {e.data["member"] for e in lines(room.id, "question")}
