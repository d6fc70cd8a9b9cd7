"""The desk's KB JSON: search, open and suggest, recording kb.search/kb.open on the agent's own contact."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from accounts.models import User
from contacts.events import append_event, subscribe, unsubscribe
from contacts.models import Contact, ContactEvent
from extensions import db
from knowledge_base.actions import do_record_kb_open, do_record_kb_search
from knowledge_base.models import Article

from . import factories as f


@pytest.fixture
def desk(app, make_user):
    """Two trainees with one active contact each, and the standard KB."""
    ids = {"tina": make_user("tina"), "tom": make_user("tom")}
    with app.app_context():
        f.standard_kb()
        ids["tina_contact"] = f.contact(ids["tina"], lang="zh_CN").id
        ids["tom_contact"] = f.contact(ids["tom"], lang="en").id
    return ids


@pytest.fixture
def published():
    seen = []
    subscribe(seen.append)
    yield seen
    unsubscribe(seen.append)


def kb_events(app, contact_id):
    with app.app_context():
        return [
            (e.type, e.actor, e.actor_id, e.data)
            for e in db.session.scalars(
                select(ContactEvent)
                .where(ContactEvent.contact_id == contact_id, ContactEvent.type.like("kb.%"))
                .order_by(ContactEvent.seq)
            )
        ]


def test_search_records_kb_search_on_own_contact(app, client, auth, desk, published):
    """A search with the agent's own contact id returns ranked results and records and publishes kb.search."""
    auth.login("tina")
    r = client.get("/api/kb/search", query_string={"q": "退货运费谁出", "contact_id": desk["tina_contact"]})
    assert r.status_code == 200
    body = r.get_json()
    assert body["lang"] == "zh_CN"  # the contact's language when none is given
    assert body["results"][0]["slug"] == "return-shipping" and body["recorded"] is True
    [(type_, actor, actor_id, data)] = kb_events(app, desk["tina_contact"])
    assert (type_, actor, actor_id) == ("kb.search", "agent", desk["tina"])
    assert data["query"] == "退货运费谁出" and data["results"][0] == "return-shipping"
    assert data["results"] == [x["slug"] for x in body["results"]]
    sent = [e for e in published if e.get("type") == "contact_event" and e["event"]["type"] == "kb.search"]
    assert sent and sent[0]["event"]["id"] == body["event_id"]


def test_open_records_kb_open_with_version(app, client, auth, desk):
    """Opening an article returns its text and records kb.open with slug, title and the version read."""
    auth.login("tom")
    r = client.get(f"/api/kb/articles/en/refund-time?contact_id={desk['tom_contact']}")
    assert r.status_code == 200
    art = r.get_json()["article"]
    assert art["title"] == "How long does a refund take" and art["version"] == 1 and "bank cards" in art["body"]
    [(type_, _actor, actor_id, data)] = kb_events(app, desk["tom_contact"])
    assert type_ == "kb.open" and actor_id == desk["tom"]
    assert data == {"slug": "refund-time", "lang": "en", "title": "How long does a refund take", "version": 1}


def test_another_trainees_contact_is_refused(app, client, auth, desk):
    """Search, open and suggest on someone else's contact get 403 and nothing is recorded on it."""
    auth.login("tina")
    other = desk["tom_contact"]
    assert client.get(f"/api/kb/search?q=refund&lang=en&contact_id={other}").status_code == 403
    assert client.get(f"/api/kb/articles/en/refund-time?contact_id={other}").status_code == 403
    r = client.get(f"/api/kb/suggest?contact_id={other}")
    assert r.status_code == 403 and r.get_json()["error"] == "this contact is not on your desk"
    assert kb_events(app, other) == []
    with app.app_context():
        tina = db.session.get(User, desk["tina"])
        contact = f.contact(desk["tom"])
        with pytest.raises(PermissionError):
            do_record_kb_search(contact, tina, "refund", [])
        with pytest.raises(PermissionError):
            do_record_kb_open(contact, tina, db.session.scalar(select(Article)))
        with pytest.raises(PermissionError):  # nobody's contact (still queued) is not hers either
            do_record_kb_search(f.contact(None, status="queued"), tina, "refund", [])


@pytest.mark.parametrize(
    ("url", "status", "fragment"),
    [
        ("/api/kb/search?q=", 400, "empty query"),
        ("/api/kb/search?q=%20%20", 400, "empty query"),
        ("/api/kb/search?q=" + "退" * 201, 400, "limit is 200"),
        ("/api/kb/search?q=refund&lang=fr", 400, "unknown language"),
        ("/api/kb/search?q=refund&limit=0", 400, "limit"),
        ("/api/kb/search?q=refund&limit=x", 400, "limit"),
        ("/api/kb/search?q=refund&contact_id=abc", 400, "must be a number"),
        ("/api/kb/search?q=refund&contact_id=999999", 404, "no contact 999999"),
        ("/api/kb/articles/en/no-such-slug", 404, "no article"),
        ("/api/kb/articles/fr/refund-time", 404, "unknown language"),
        ("/api/kb/articles/en/refund-time?contact_id=999999", 404, "no contact"),
        ("/api/kb/suggest", 400, "contact_id is required"),
        ("/api/kb/suggest?contact_id=999999", 404, "no contact"),
    ],
)
def test_bad_input_gets_clear_json_errors(client, auth, desk, url, status, fragment):
    """Bad input is answered with the right status and a JSON error that says what is wrong."""
    auth.login("tina")
    r = client.get(url)
    assert r.status_code == status
    assert fragment in r.get_json()["error"]


def test_search_without_contact_records_nothing(app, client, auth, desk):
    """No contact (the desk sends contact_id= when none is selected): results, nothing recorded."""
    auth.login("tina")
    r = client.get("/api/kb/search?q=refund&lang=en&contact_id=")
    assert r.status_code == 200 and r.get_json()["recorded"] is False
    assert r.get_json()["results"][0]["slug"] == "refund-time"
    assert kb_events(app, desk["tina_contact"]) == []


def test_closed_contact_is_served_but_not_recorded(app, client, auth, desk):
    """A closed contact's recording is final: the lookup works, nothing is appended to it."""
    with app.app_context():
        closed = f.contact(desk["tina"], status="closed").id
    auth.login("tina")
    r = client.get(f"/api/kb/articles/zh_CN/invoice?contact_id={closed}")
    assert r.status_code == 200 and r.get_json()["recorded"] is False
    assert kb_events(app, closed) == []


def test_suggest_from_customer_messages(app, client, auth, desk):
    """Suggestions come from the customer's recent messages (not the agent's) in the contact's language."""
    with app.app_context():
        c = db.session.get(Contact, desk["tina_contact"])
        f.customer_says(c, "你好，在吗？")
        f.customer_says(c, "我买的鞋子尺码不对，想退货，退货运费谁出？")
        append_event(c, "message", "agent", actor_id=desk["tina"], text="您好，请问发票需要重开吗？")
    auth.login("tina")
    r = client.get(f"/api/kb/suggest?contact_id={desk['tina_contact']}")
    assert r.status_code == 200
    body = r.get_json()
    assert body["suggestions"][0]["slug"] == "return-shipping"
    assert "退货" in body["keywords"] and "发票" not in body["keywords"]
    assert "invoice" not in [s["slug"] for s in body["suggestions"]]


def test_suggest_with_no_customer_words_is_empty(client, auth, desk):
    """A contact whose customer has not written yet gets no suggestions (and no error)."""
    auth.login("tom")
    r = client.get(f"/api/kb/suggest?contact_id={desk['tom_contact']}")
    assert r.status_code == 200 and r.get_json()["suggestions"] == []


def test_api_needs_login(client, desk):
    """The KB API answers 401 JSON to an anonymous caller."""
    r = client.get("/api/kb/search?q=refund")
    assert r.status_code == 401 and r.get_json()["error"] == "login required"
