"""Call monitoring through /floor on a real voice call (aiortc peers for caller, trainee and lead): listen,
whisper and barge reach the right legs, every step is recorded, and leads outside the group are refused."""

from __future__ import annotations

import time

import numpy as np

from accounts.models import User
from extensions import db, socketio
from media.rtc_client import RtcClient, ToneTrack
from tests import factories
from tests.channels.voice.conftest import events_of, login, wait_for

AGENT_HZ, CALLER_HZ, LEAD_HZ = 440.0, 220.0, 1250.0
# Band levels measured here: a routed tone 0.08-0.15 (a caller's, spread by the call path, 0.03-0.07); a band
# nobody sends into 0.000-0.003 (codec noise of the other tones).
HEARD, SILENT = 0.02, 0.01


def amplitude_at(pcm: np.ndarray, freq: float, width: float = 120.0) -> float:
    """RMS (share of full scale) of what ``pcm`` carries within ``width`` Hz of ``freq``. A band, not one bin:
    through the call path a caller's tone arrives spread over a few tens of Hz."""
    if pcm.size < 4800:
        return 0.0
    spec = np.fft.rfft(pcm.astype(np.float64) / 32768)
    freqs = np.fft.rfftfreq(pcm.size, 1 / 48000)
    band = np.abs(freqs - freq) < width
    return float(np.sqrt(2 * (np.abs(spec[band]) ** 2).sum()) / pcm.size)


def _floor(app, username):
    sc = socketio.test_client(app, namespace="/floor", flask_test_client=login(app, username))
    assert sc.is_connected("/floor")
    return sc


def _peer(browsers, sock, event, payload, freq, ns):
    """A browser-like peer that keeps what it hears; offers with ``event`` and connects."""

    async def make():
        return RtcClient(ToneTrack(freq), keep_audio=True)

    client = browsers.run(make())
    res = sock.emit(event, {**payload, "sdp": browsers.run(client.offer())}, namespace=ns, callback=True)
    assert res["ok"], res
    browsers.run(client.accept(res["sdp"]))
    browsers.run(client.wait_connected())
    return client


def _hear(*clients, seconds=1.5):
    """Drop what is in flight, then keep ``seconds`` of what each client hears."""

    time.sleep(0.8)  # the jitter buffers and codecs still carry ~100 ms of the old routes; more on a loaded machine
    for c in clients:
        c.audio.clear()
    time.sleep(seconds)
    out = []
    for c in clients:
        pcm = list(c.audio)
        c.audio.clear()
        out.append(np.concatenate(pcm) if pcm else np.zeros(0, np.int16))
    return out


def _in_group(app, lead_name="leadA", agent_name="agent1"):
    with app.app_context():
        lead = factories.user(lead_name, role="lead")
        agent = db.session.scalar(db.select(User).where(User.username == agent_name))
        agent.group = factories.group(f"G-{lead_name}", lead)
        db.session.commit()


def test_lead_listens_whispers_and_barges_on_a_live_call(call, browsers):
    """Listening is silent; a whisper reaches the trainee only; barge reaches both; each mode is recorded,
    the desk is told of the whisper (not of silent listening), and hanging up the monitor leaves the call up."""
    app, cid = call["app"], call["cid"]
    _in_group(app)
    agent = _peer(browsers, call["voice"], "answer", {"contact_id": cid}, AGENT_HZ, "/voice")
    wait_for(lambda: events_of(app, cid, "call.recording"))
    assert call["desk"].emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)["ok"]
    caller = call["caller_pc"]
    caller.track.speaking, caller.keep_audio = True, True
    floor = _floor(app, "leadA")
    lead = _peer(browsers, floor, "monitor_call", {"contact_id": cid, "mode": "listen"}, LEAD_HZ, "/floor")

    a, c, heard_by_lead = _hear(agent, caller, lead)
    assert amplitude_at(heard_by_lead, AGENT_HZ) > HEARD, "the lead hears the trainee"
    assert amplitude_at(heard_by_lead, CALLER_HZ) > HEARD, "the lead hears the caller"
    assert amplitude_at(c, LEAD_HZ) < SILENT, "listening is silent"
    # The caller falls silent from here on: what the trainee hears is then the lead alone (the caller's tone
    # arrives through the call path spread wide enough to leak into the lead's band).
    caller.track.speaking = False
    a, c = _hear(agent, caller)
    assert amplitude_at(a, LEAD_HZ) < SILENT, "listening is silent for the trainee too"

    res = floor.emit("monitor_mode", {"contact_id": cid, "mode": "whisper"}, namespace="/floor", callback=True)
    assert res["ok"], res
    a, c, _ = _hear(agent, caller, lead)
    assert amplitude_at(a, LEAD_HZ) > HEARD, "the trainee hears the whisper"
    assert amplitude_at(c, LEAD_HZ) < SILENT, "the caller does not"
    assert amplitude_at(c, AGENT_HZ) > HEARD, "the caller still hears the trainee"

    assert floor.emit("monitor_mode", {"contact_id": cid, "mode": "barge"}, namespace="/floor", callback=True)["ok"]
    a, c, _ = _hear(agent, caller, lead)
    assert amplitude_at(a, LEAD_HZ) > HEARD and amplitude_at(c, LEAD_HZ) > HEARD, "barge: both hear the lead"

    assert floor.emit("monitor_hang_up", {"contact_id": cid}, namespace="/floor", callback=True)["ok"]
    a, c = _hear(agent, caller)
    assert amplitude_at(a, LEAD_HZ) < SILENT and amplitude_at(c, LEAD_HZ) < SILENT
    assert amplitude_at(c, AGENT_HZ) > HEARD, "the call goes on without the lead"

    types = [e["type"] for e in events_of(app, cid) if e["type"].startswith("monitor.")]
    assert types == ["monitor.listen", "monitor.whisper", "monitor.barge", "monitor.stop"]
    assert events_of(app, cid, "monitor.stop")[0]["data"]["mode"] == "barge"
    desk_seen = [
        m["args"][0]["event"]["type"]
        for m in call["desk"].get_received("/desk")
        if m["name"] == "event" and m["args"][0].get("type") == "contact_event"
    ]
    assert "monitor.whisper" in desk_seen and "monitor.listen" not in desk_seen
    browsers.run(agent.close())
    browsers.run(lead.close())


def test_call_monitoring_refusals(call, browsers, make_user):
    """A lead of another group is refused; a grader may listen but not whisper; modes are checked; nothing
    refused is recorded."""
    app, cid = call["app"], call["cid"]
    _in_group(app)
    with app.app_context():
        factories.user("leadB", role="lead")
    make_user("qa", role="grader")
    agent = _peer(browsers, call["voice"], "answer", {"contact_id": cid}, AGENT_HZ, "/voice")
    wait_for(lambda: events_of(app, cid, "call.recording"))
    offer = {"contact_id": cid, "mode": "listen", "sdp": "v=0"}
    res = _floor(app, "leadB").emit("monitor_call", offer, namespace="/floor", callback=True)
    assert not res["ok"] and "outside your groups" in res["error"]
    qa = _floor(app, "qa")
    res = qa.emit("monitor_call", {**offer, "mode": "whisper"}, namespace="/floor", callback=True)
    assert not res["ok"] and "graders monitor silently" in res["error"]
    res = _floor(app, "leadA").emit("monitor_call", {**offer, "mode": "shout"}, namespace="/floor", callback=True)
    assert not res["ok"] and "listen, whisper or barge" in res["error"]
    res = _floor(app, "leadA").emit("monitor_call", offer, namespace="/floor", callback=True)
    assert not res["ok"] and "no media section" in res["error"]
    assert not [e for e in events_of(app, cid) if e["type"].startswith("monitor.")]
    listener = _peer(browsers, qa, "monitor_call", {"contact_id": cid, "mode": "listen"}, LEAD_HZ, "/floor")
    assert [e["type"] for e in events_of(app, cid) if e["type"].startswith("monitor.")] == ["monitor.listen"]
    browsers.run(listener.close())
    browsers.run(agent.close())
