"""The simulated audience: what it says (KB questions, repeats, praise, trolls, one complaint until moved) and
how it posts through the same rate limit and action as a person, in batches the presenter receives."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from contacts.models import ContactEvent
from extensions import db
from livestream.audience import AudienceScript, audiences
from tests import factories

ARTICLES = [("refund-times", "Refund times"), ("points-rules", "Points rules"), ("return-7day", "7-day returns")]


def test_script_mix_is_seeded_and_reacts_to_answers_and_moves():
    """A seeded script gives the same comments; about the configured rate; the mix has every kind; answered
    needs stop being repeated and get a thank-you; the complainer stops once moved."""
    a = AudienceScript("en", 20, 60.0, ARTICLES, seed=7)
    b = AudienceScript("en", 20, 60.0, ARTICLES, seed=7)
    ca = [c for t in range(601) for c in a.due(t)]
    cb = [c for t in range(601) for c in b.due(t)]
    assert [c.text for c in ca] == [c.text for c in cb]
    assert 500 <= len(ca) <= 700  # 60 a minute for ten minutes (a Poisson process)
    kinds = Counter(c.kind for c in ca)
    assert {"question", "repeat", "praise", "troll", "complaint"} <= set(kinds)
    assert all(c.need in dict(ARTICLES) for c in ca if c.kind == "question")
    s = AudienceScript("zh_CN", 10, 120.0, ARTICLES, seed=3)
    first = [c for t in range(61) for c in s.due(t)]
    viewer = next(c.viewer for c in first if c.kind == "question")
    s.on_answered(s.last_need[viewer], viewer)
    s.on_moved(s.complainer[0])
    later = [c for t in range(61, 600) for c in s.due(t)]
    assert not [c for c in later if c.kind == "complaint"]
    assert any(c.kind == "thanks" for c in later)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in c.text) for c in first if c.kind in ("praise", "complaint"))


@pytest.mark.app_config(LIVESTREAM_BATCH_MS=150, LIVESTREAM_COMMENTS_PER_WINDOW=2, LIVESTREAM_COMMENT_WINDOW=5.0)
def test_audience_posts_rate_limited_comments_in_batches(app, socket_client):
    """A 30-viewer audience at 300 comments a minute: comments are recorded with their hidden labels, every
    viewer stays within the rate limit, and the presenter receives them batched (many comments per emit)."""
    from livestream.actions import start_livestream
    from scenarios.loader import load_pack_into_db

    with app.app_context():
        from pathlib import Path

        load_pack_into_db(Path(app.config["CONTENT_DIR"]) / "en")
        ann = factories.user("ann")
        sid = start_livestream(ann, title="Flash sale", lang="en", audience_size=30, comment_rate=300, seed=1).id
    c = app.test_client()
    c.post("/login", data={"username": "ann", "password": "pass1234"})
    presenter = socket_client("/livestream", c)
    assert presenter.emit("join", {"stream_id": sid}, namespace="/livestream", callback=True)["ok"]
    with app.app_context():
        script = audiences.start(sid)
    assert script is not None and script.articles
    time.sleep(4)
    audiences.stop(sid)
    time.sleep(0.4)
    batches = [m["args"][0] for m in presenter.get_received("/livestream")
               if m["name"] == "event" and m["args"][0].get("type") == "livestream_comments"]  # fmt: skip
    delivered = sum(len(b["comments"]) for b in batches)
    with app.app_context():
        q = db.select(ContactEvent).where(ContactEvent.contact_id == sid, ContactEvent.type == "livestream.comment")
        rows = list(db.session.scalars(q))
    assert len(rows) >= 8 and delivered == len(rows)
    assert len(batches) < len(rows)  # batched: fewer emits than comments
    assert all(r.data["sim"]["kind"] in ("question", "repeat", "praise", "troll", "complaint", "thanks") for r in rows)
    per_viewer = Counter(r.data["viewer"] for r in rows)
    assert max(per_viewer.values()) <= 2 * 2  # two per 5 s window, over 4 s at most two windows' worth
    assert audiences.refused >= 0


def test_simulated_complainer_moved_to_chat_becomes_the_complaint_customer(app):
    """Moving the simulated complainer opens the simulator's late-delivery complaint chat, reserved for the
    presenter and linked back to the livestream; the audience stops complaining."""
    from pathlib import Path

    from contacts.models import Contact
    from livestream.actions import do_post_comment, start_livestream
    from livestream.handoff import do_move_viewer_to_chat
    from scenarios.loader import load_pack_into_db

    with app.app_context():
        load_pack_into_db(Path(app.config["CONTENT_DIR"]) / "en")
        ann = factories.user("ann")
        contact = start_livestream(ann, title="Sale", lang="en", audience_size=5, seed=2)
        script = audiences.start(contact.id)
        audiences.stop(contact.id)  # drive it by hand below, not on the thread
        audiences._scripts[contact.id] = script
        complaint = next(c for c in (script.next_comment(t) for t in range(0, 400, 30)) if c.kind == "complaint")
        posted = do_post_comment(contact, complaint.viewer, complaint.name, complaint.text, sim={"kind": "complaint"})
        ev = do_move_viewer_to_chat(contact, ann.id, posted["seq"])
        chat = db.session.get(Contact, ev["data"]["chat_contact_id"])
        assert chat.scenario_id == "en-late-delivery-complaint" and chat.reserved_agent_id == ann.id
        origin = db.session.scalar(
            db.select(ContactEvent).where(ContactEvent.contact_id == chat.id, ContactEvent.type == "livestream.origin")
        )
        assert origin.data["livestream_id"] == contact.id
        assert complaint.viewer in script.moved  # heard through the published event
        assert not [c for c in (script.next_comment(t) for t in range(400, 800, 30)) if c.kind == "complaint"]
        audiences.stop(contact.id)
