"""A practice call from a demo-pack voice scenario through the whole path: the practice API, the ACD, the
trainee's answer, the simulated caller speaking, and a CRM check on the desk reaching the caller."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from extensions import db
from media.rtc_client import ToneTrack

from .conftest import agent_sockets, connect, events_of, wait_for

ROOT = Path(__file__).resolve().parents[3]


def test_practice_call_caller_speaks_and_hears_the_crm_check(voice_app, make_user, browsers):
    """After the trainee's greeting the caller says the scenario's opening; verifying the caller in the CRM
    makes it say the scenario's reply to verify_identity ("Great, thanks.")."""
    app = voice_app
    with app.app_context():
        from scenarios.loader import load_pack_into_db

        load_pack_into_db(ROOT / "scenarios" / "packs" / "en")
        from tickets.models import Customer

        customer_id = db.session.scalar(select(Customer.id).where(Customer.ref == "C0001", Customer.lang == "en"))
        db.session.remove()
    make_user("agent1", level="L4")
    desk, voice, http = agent_sockets(app, "agent1")
    res = http.post("/api/voice/practice", json={"scenario_id": "en-voice-order-status"})
    assert res.status_code == 201, res.json
    cid = res.json["contact"]["id"]
    wait_for(lambda: any(e["type"] == "assignment" for e in events_of(app, cid)))
    mic = ToneTrack(150, voice=True, speaking=False)
    agent_pc = connect(browsers, voice, "answer", {"contact_id": cid}, mic)
    wait_for(lambda: events_of(app, cid, "call.recording"))
    mic.speaking = True  # the greeting
    time.sleep(1.2)
    mic.speaking = False
    said = wait_for(lambda: events_of(app, cid, "call.utterance"), timeout=20)
    assert said[0]["text"].startswith("Hi, I ordered a smartwatch") and said[0]["actor"] == "customer"
    r = http.post(
        f"/api/crm/customers/{customer_id}/verify",
        json={"contact_id": cid, "method": "phone_last4", "result": "verified"},
    )
    assert r.status_code == 200, r.json
    wait_for(lambda: any(e["text"] == "Great, thanks." for e in events_of(app, cid, "call.utterance")), timeout=20)
    states = events_of(app, cid, "customer.state")
    assert states and "verified" in states[-1]["data"]["goals_done"]
    started = events_of(app, cid, "call.recording")[0]["data"]["started_at"]
    last = events_of(app, cid, "call.utterance")[-1]["data"]
    time.sleep(max(0.0, started + last["offset"] + last["seconds"] + 0.5 - time.time()))  # let it finish
    assert voice.emit("hang_up", {"contact_id": cid}, namespace="/voice", callback=True)["ok"]
    metrics = events_of(app, cid, "call.metrics")[0]["data"]
    assert metrics["legs"]["customer"]["talk_time"] > 2.0  # the synthesised lines were recorded
    browsers.run(agent_pc.close())
