"""Sending a knowledge-base article from the desk: only its customer-facing part, as the agent edited it, reaches
the customer; the internal body (agent instructions, field names) never does."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contacts.models import ContactEvent
from extensions import db, socketio
from knowledge_base.models import Article

INTERNAL = "坐席在订单详情查看最新轨迹，不要告诉客户内部字段。"
CUSTOMER = "您可以凭运单号在快递公司官网查询物流轨迹。"


def _login(app, username):
    c = app.test_client()
    assert c.post("/login", data={"username": username, "password": "pass1234"}).status_code == 302
    return c


def _articles():
    db.session.add_all(
        [
            Article(slug="tracking", lang="zh_CN", category_code="delivery", title="物流轨迹", body=INTERNAL,
                    customer_text=CUSTOMER),
            Article(slug="internal-only", lang="zh_CN", category_code="delivery", title="内部规则", body=INTERNAL),
        ]
    )  # fmt: skip
    db.session.commit()


@pytest.fixture
def chat(app, make_user):
    """An agent's desk with one active chat, and two articles: one with a customer-facing part, one without."""
    make_user("agent1", level="L4")
    with app.app_context():
        _articles()
    desk = socketio.test_client(app, namespace="/desk", flask_test_client=_login(app, "agent1"))
    assert desk.emit("set_state", {"state": "available"}, namespace="/desk", callback=True)["ok"]
    cust = socketio.test_client(app, namespace="/customer", flask_test_client=app.test_client())
    start = cust.emit(
        "start", {"name": "王女士", "queue": "chat.general", "lang": "zh_CN"}, namespace="/customer", callback=True
    )
    assert start["ok"], start
    cid = start["contact_id"]
    assert desk.emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)["ok"]
    return app, desk, cid


def _events(app, cid, kind):
    with app.app_context():
        rows = db.session.scalars(select(ContactEvent).where(ContactEvent.contact_id == cid, ContactEvent.type == kind))
        return [(e.text, dict(e.data or {})) for e in rows]


def _messages(app, cid):
    return [text for text, _data in _events(app, cid, "message")]


def _send(desk, cid, slug, **extra):
    return desk.emit("send_article", {"contact_id": cid, "slug": slug, **extra}, namespace="/desk", callback=True)


def test_the_edited_customer_text_is_sent_never_the_body(chat):
    """The agent's edit of the customer part goes out with a kb.send record; the internal body is not sent."""
    app, desk, cid = chat
    res = desk.emit(
        "send_article", {"contact_id": cid, "slug": "tracking", "text": CUSTOMER + "单号是 XD123。"}, namespace="/desk",
        callback=True,
    )  # fmt: skip
    assert res["ok"], res
    assert _messages(app, cid) == [CUSTOMER + "单号是 XD123。"]
    assert [data["slug"] for _text, data in _events(app, cid, "kb.send")] == ["tracking"]
    assert not any(INTERNAL in t for t in _messages(app, cid))


def test_without_text_the_customer_part_is_sent(chat):
    """No edit: the article's customer-facing part as written."""
    app, desk, cid = chat
    assert desk.emit("send_article", {"contact_id": cid, "slug": "tracking"}, namespace="/desk", callback=True)["ok"]
    assert _messages(app, cid) == [CUSTOMER]


def test_an_article_without_a_customer_part_needs_the_agents_words(chat):
    """An internal-only article sends nothing by itself (a clear error, nothing recorded); with the agent's own
    words it goes out as they wrote them. Empty and non-string text is refused."""
    app, desk, cid = chat
    res = desk.emit("send_article", {"contact_id": cid, "slug": "internal-only"}, namespace="/desk", callback=True)
    assert not res["ok"] and "own words" in res["error"]
    bad = desk.emit(
        "send_article", {"contact_id": cid, "slug": "tracking", "text": "  "}, namespace="/desk", callback=True
    )
    assert not bad["ok"]
    odd = desk.emit(
        "send_article", {"contact_id": cid, "slug": "tracking", "text": 7}, namespace="/desk", callback=True
    )
    assert not odd["ok"]
    assert _messages(app, cid) == []
    own = desk.emit(
        "send_article", {"contact_id": cid, "slug": "internal-only", "text": "我们会在 24 小时内回复您。"},
        namespace="/desk", callback=True,
    )  # fmt: skip
    assert own["ok"] and _messages(app, cid) == ["我们会在 24 小时内回复您。"]
