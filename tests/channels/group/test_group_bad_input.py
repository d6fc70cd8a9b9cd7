"""Bad input in a group room gets a clear error and loses nothing: over-long, empty and malformed posts,
floods from one customer, forged members, someone else's room, a closed room."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from channels.group.actions import (
    do_close_group_room,
    do_join_group_member,
    do_move_member_to_private,
    do_pin_announcement,
    do_post_group_message,
    do_reply_in_group,
    do_unpin_announcement,
    member_for_token,
    room_state,
)
from channels.group.recording import get_room
from channels.group.sessions import start_group_room
from contacts.actions import ActionError
from contacts.models import ContactEvent
from extensions import db
from tests import factories

from .conftest import user


def _count(room_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(ContactEvent).where(ContactEvent.contact_id == room_id))


@pytest.fixture
def room(app, packs, trainee):
    with app.app_context():
        (r,) = start_group_room(user(trainee), "zh-group-618", audience=0)
        return r.id


def test_post_limits_and_flood(app, room):
    """Empty and over-long posts are refused naming the limit; a customer posting faster than the limit is
    told to slow down after the burst; what was accepted is all recorded, once."""
    with app.app_context():
        r = get_room(room)
        mid, _ = do_join_group_member(r, "阿明")
        before = _count(room)
        with pytest.raises(ActionError, match="empty message"):
            do_post_group_message(r, mid, "   ")
        with pytest.raises(ActionError, match="the limit is 1000"):
            do_post_group_message(r, mid, "很" * 1001)
        with pytest.raises(ActionError, match="client_id"):
            do_post_group_message(r, mid, "你好", client_id="x" * 65)
        accepted = 0
        with pytest.raises(ActionError, match="slow down"):
            for i in range(10):
                do_post_group_message(r, mid, f"第{i}次：发货要多久？")
                accepted += 1
        assert accepted == 4  # the burst
        assert _count(room) == before + accepted


def test_html_is_recorded_as_text(app, room):
    """Markup in a post is kept verbatim as text (pages insert it with textContent; never interpreted)."""
    with app.app_context():
        r = get_room(room)
        mid, _ = do_join_group_member(r, "<b>Eve</b>")
        ev, _ = do_post_group_message(r, mid, "<script>alert(1)</script>发货？")
        assert ev["text"] == "<script>alert(1)</script>发货？"
        assert room_state(room).members[mid].name == "<b>Eve</b>"


def test_forged_members_and_other_rooms(app, room):
    """A person cannot post as another member (token checked), names are bounded, and a trainee cannot act in
    another trainee's room."""
    with app.app_context():
        r = get_room(room)
        a, tok_a = do_join_group_member(r, "A")
        b, _tok_b = do_join_group_member(r, "B")
        assert member_for_token(r, a, tok_a).id == a
        with pytest.raises(ActionError, match="unknown member"):
            member_for_token(r, b, tok_a)
        with pytest.raises(ActionError, match="1 to 40"):
            do_join_group_member(r, "x" * 41)
        stranger = factories.user("stranger", role="trainee", level="L3")
        with pytest.raises(ActionError, match="not yours"):
            do_reply_in_group(r, stranger, "hello")
        with pytest.raises(ActionError, match="must be a number"):
            get_room("abc")
        with pytest.raises(ActionError, match="no group room"):
            get_room(999999)


def test_agent_input_checks(app, room, trainee):
    """Mentions must be known members in a list, clusters known needs; unpinning or moving twice, and anything
    after closing, is refused; the room closes once."""
    with app.app_context():
        r, agent = get_room(room), user(trainee)
        mid, _ = do_join_group_member(r, "C")
        with pytest.raises(ActionError, match="list"):
            do_reply_in_group(r, agent, "hi", mentions="m1")
        with pytest.raises(ActionError, match="unknown member"):
            do_reply_in_group(r, agent, "hi", mentions=["m99"])
        with pytest.raises(ActionError, match="unknown need cluster"):
            do_reply_in_group(r, agent, "hi", cluster="nope")
        with pytest.raises(ActionError, match="no pinned announcement"):
            do_unpin_announcement(r, agent, 12345)
        ann, _ = do_pin_announcement(r, agent, "公告：发票在订单详情下载。")
        do_unpin_announcement(r, agent, ann["seq"])
        with pytest.raises(ActionError, match="no pinned announcement"):
            do_unpin_announcement(r, agent, ann["seq"])
        do_move_member_to_private(r, agent, mid)
        with pytest.raises(ActionError, match="already in a private chat"):
            do_move_member_to_private(r, agent, mid)
        do_close_group_room(r, agent)
        with pytest.raises(ActionError, match="already closed"):
            do_close_group_room(r, agent)
        with pytest.raises(ActionError, match="closed"):
            do_reply_in_group(r, agent, "还在吗")
        with pytest.raises(ActionError, match="closed"):
            do_join_group_member(r, "late")
