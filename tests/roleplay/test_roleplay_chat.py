"""Role-play with a scenario: a trainee opens a role-play, a person plays the customer from the link on /customer,
the trainee serves it on /desk, and the wrapped-up contact is graded with the scenario's items."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contacts.models import Contact
from extensions import db
from grading.models import Scorecard
from scenarios.loader import load_pack_into_db

from ..grading.builders import PACKS


@pytest.fixture
def en_pack(app):
    with app.app_context():
        load_pack_into_db(PACKS / "en")
    yield
    svc = app.extensions.get("kefu_grading")
    if svc is not None:
        svc.stop()


def _ack(sc, ns, event, data):
    res = sc.emit(event, data, namespace=ns, callback=True)
    assert isinstance(res, dict) and res.get("ok"), res
    return res


def test_a_roleplay_chat_carries_its_scenario_and_is_graded_with_its_items(app, client, auth, make_user, en_pack):
    from extensions import socketio

    make_user("rita", level="L4")
    auth.login("rita")
    opened = client.post("/api/roleplays", json={"scenario_id": "en-delivery-status"})
    assert opened.status_code == 201, opened.get_json()
    token = opened.get_json()["token"]
    assert "/customer/chat?roleplay=" in opened.get_json()["link"]

    # The role-player's card: who they are and what they know, never the grading key.
    card = app.test_client().get("/api/roleplays/card", query_string={"token": token}).get_json()["card"]
    assert card["opening"] and card["facts"]
    assert "expected" not in card and "answer" not in card

    customer_http = app.test_client()
    started = customer_http.post("/api/roleplays/start", json={"token": token})
    assert started.status_code == 201, started.get_json()
    cid, ctoken = started.get_json()["contact_id"], started.get_json()["token"]
    again = customer_http.post("/api/roleplays/start", json={"token": token})
    assert again.status_code == 400 and "already started" in again.get_json()["error"]

    desk = socketio.test_client(app, namespace="/desk", flask_test_client=client)
    cust = socketio.test_client(app, namespace="/customer", flask_test_client=customer_http)
    _ack(desk, "/desk", "set_state", {"state": "available"})
    _ack(cust, "/customer", "resume", {"contact_id": cid, "token": ctoken, "after_seq": 0})
    with app.app_context():
        contact = db.session.get(Contact, cid)
        assert contact.scenario_id == "en-delivery-status" and not contact.simulated
        assert contact.reserved_agent_id is not None
    for _ in range(200):
        with app.app_context():
            if db.session.get(Contact, cid).status == "active":
                break
        import time

        time.sleep(0.02)
    _ack(cust, "/customer", "send", {"contact_id": cid, "token": ctoken, "text": "Hi, where is my smartwatch?"})
    _ack(desk, "/desk", "send", {"contact_id": cid, "text": "Hello! Could you send me your order number?"})
    _ack(desk, "/desk", "end", {"contact_id": cid})
    _ack(desk, "/desk", "wrap_up", {"contact_id": cid, "code": "ENQ_DELIVERY"})
    assert app.extensions["kefu_grading"].wait_idle(30)
    with app.app_context():
        card = db.session.scalars(select(Scorecard).where(Scorecard.contact_id == cid, Scorecard.current)).one().data
    items = {i["id"]: i for i in card["items"]}
    # Scenario items are graded, not N/A: the answer was never given, so the steps fail.
    assert card["scenario_id"] == "en-delivery-status"
    assert items["step-order"]["status"] == "fail"
    assert items["kb-article"]["status"] in ("pass", "fail")


def test_a_trainee_cannot_open_a_roleplay_above_their_level_or_for_someone_else(client, auth, make_user, en_pack):
    other = make_user("otto", level="L4")
    make_user("lena", level="L5")
    auth.login("lena")
    r = client.post("/api/roleplays", json={"scenario_id": "en-compensation-limit"})
    assert r.status_code == 400 and "L4" in r.get_json()["error"]
    r = client.post("/api/roleplays", json={"scenario_id": "en-delivery-status", "agent_id": other})
    assert r.status_code == 400


def test_role_play_links_are_refused_when_unknown_or_on_the_wrong_page(app, client, auth, make_user, en_pack):
    make_user("rita", level="L4")
    auth.login("rita")
    r = app.test_client().post("/api/roleplays/start", json={"token": "not-a-real-token-at-all"})
    assert r.status_code == 400 and "unknown" in r.get_json()["error"]
    r = app.test_client().get("/api/roleplays/card", query_string={"token": "x" * 500})
    assert r.status_code == 404
    free = client.post("/api/roleplays", json={"channel": "email", "lang": "en"}).get_json()
    r = app.test_client().post("/api/roleplays/start", json={"token": free["token"]})
    assert r.status_code == 400 and "service+rp-" in r.get_json()["error"]
    assert app.test_client().get(f"/customer/roleplay/{free['token']}").status_code == 200
    assert app.test_client().get("/api/roleplays").status_code == 401
