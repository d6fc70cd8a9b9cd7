"""Callers waiting in a voice queue: a role-play caller who hangs up is counted as abandoned with its wait; a
caller waiting with the line open hears its place in the queue, again every 30 s, until an agent picks up."""

from __future__ import annotations

from clock import clock
from extensions import db, socketio
from media.rtc_client import ToneTrack

from .conftest import agent_sockets, connect, contact_status, events_of, heard_since, wait_for


def _dial(app, name: str):
    caller = socketio.test_client(app, namespace="/voice", flask_test_client=app.test_client())
    res = caller.emit("dial", {"name": name, "queue": "voice.general", "lang": "en"}, namespace="/voice", callback=True)
    assert res["ok"] and res["status"] == "queued", res
    return caller, {"contact_id": res["contact_id"], "token": res["token"]}


def _figures(app) -> dict:
    with app.app_context():
        from routing.actions import queue_figures

        return queue_figures(["voice.general"])["voice.general"]


def _announce(app) -> int:
    clock.advance(1.0)  # the ticker looks for due callers once a sandbox second
    with app.app_context():
        from channels.voice.queue_announcements import announce_waiting_callers

        made = announce_waiting_callers()
        db.session.remove()
    return made


def test_role_play_caller_hanging_up_while_waiting_is_abandoned(voice_app):
    """No agent is available; the person hangs up after 25 s of sandbox time: the contact is abandoned with
    reason customer_hung_up and its wait, and voice.general counts it (after the 20 s service level)."""
    app = voice_app
    caller, who = _dial(app, "Ms Wang")
    clock.advance(25)
    res = caller.emit("caller_hang_up", who, namespace="/voice", callback=True)
    assert res["ok"] and res["status"] == "abandoned", res
    (abandoned,) = events_of(app, who["contact_id"], "contact.abandoned")
    assert abandoned["data"]["reason"] == "customer_hung_up" and 25 <= abandoned["data"]["wait_seconds"] < 35
    fig = _figures(app)
    assert fig["abandoned"] == 1 and fig["abandoned_after_sl"] == 1 and fig["abandon_rate"] == 1.0
    assert fig["waiting"] == 0


def test_waiting_caller_hears_its_place_in_the_queue_until_an_agent_answers(voice_app, make_user, browsers):
    """Two people call with no agent available and connect their audio: each hears a synthesised line with
    its place (1 and 2), recorded as call.queue_announcement and shown on its page; not again within 30 s, again
    after 30 s; once an agent answers the first, its announcements stop (the queue leg is gone)."""
    app = voice_app
    make_user("agent1")
    first, who1 = _dial(app, "Ms Wang")
    second, who2 = _dial(app, "Mr Li")
    cid1, cid2 = who1["contact_id"], who2["contact_id"]
    assert _announce(app) == 0  # their audio is not up yet: nothing would be heard
    pc1 = connect(browsers, first, "caller_offer", who1, ToneTrack(220, voice=True, speaking=False))
    pc2 = connect(browsers, second, "caller_offer", who2, ToneTrack(220, voice=True, speaking=False))
    for cid in (cid1, cid2):
        wait_for(lambda cid=cid: [e for e in events_of(app, cid, "call.connected") if e["data"]["leg"] == "customer"])
    n1 = len(pc1.levels)
    assert _announce(app) == 2
    (a1,) = events_of(app, cid1, "call.queue_announcement")
    (a2,) = events_of(app, cid2, "call.queue_announcement")
    assert a1["data"]["position"] == 1 and a2["data"]["position"] == 2
    assert "number 1 in the queue" in a1["text"] and "number 2 in the queue" in a2["text"]
    assert a1["data"]["seconds"] > 2
    wait_for(lambda: (heard_since(pc1, n1) > -30).sum() > 25, timeout=10)  # the caller hears it
    shown = [m["args"][0] for m in first.get_received("/voice") if m["name"] == "event"]
    assert {"event": "call.queue_announcement", "position": 1} in [
        {"event": s.get("event"), "position": (s.get("data") or {}).get("position")} for s in shown
    ]

    clock.advance(5)
    assert _announce(app) == 0  # not due for 30 s
    clock.advance(30)
    assert _announce(app) == 2
    assert len(events_of(app, cid1, "call.queue_announcement")) == 2

    desk, voice, _ = agent_sockets(app, "agent1")  # available: the ACD gives them the first caller
    wait_for(lambda: contact_status(app, cid1) == "active")
    agent_pc = connect(browsers, voice, "answer", {"contact_id": cid1}, ToneTrack(150, voice=True))
    worker = app.extensions["kefu_media_worker"]
    assert "queue" not in worker.calls[str(cid1)].legs
    clock.advance(31)
    assert _announce(app) == 1  # only the second caller is still waiting
    assert len(events_of(app, cid1, "call.queue_announcement")) == 2
    assert [e["data"]["position"] for e in events_of(app, cid2, "call.queue_announcement")] == [2, 2, 1]
    voice.emit("hang_up", {"contact_id": cid1}, namespace="/voice", callback=True)
    second.emit("caller_hang_up", who2, namespace="/voice", callback=True)
    for pc in (pc1, pc2, agent_pc):
        browsers.run(pc.close())
