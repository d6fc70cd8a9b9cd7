"""Call metrics on synthetic calls with known gaps and overlaps (media.call_metrics)."""

import json
import wave

import pytest

from media.call_metrics import compute_call_metrics, compute_call_metrics_from_files, metrics_from_segments

from .synth import SR, leg

FRAME = 0.03
DURATION = 60.0
# customer: opening; talks over the agent at 8.0; a turn with a 0.4 s pause inside (50-55); answers after hold
CUSTOMER = [(0.5, 4.0), (8.0, 12.0), (41.0, 44.0), (50.0, 52.0), (52.4, 55.0)]
# agent: answers 1.0 s late; 6.5 s of dead air before 18.5; hold 22.5-40; quick answers after
AGENT = [(5.0, 9.0), (18.5, 22.0), (44.8, 47.0), (56.0, 58.0)]
HOLDS = [(22.5, 40.0)]


@pytest.fixture(scope="module")
def metrics():
    agent = leg(DURATION, AGENT, f0=180)
    customer = leg(DURATION, CUSTOMER, f0=120)
    return compute_call_metrics(agent, customer, SR, HOLDS)


def test_talk_time_and_ratio(metrics):
    """Each leg's talk time is the sum of its speech (pauses under 0.7 s included) and the ratio follows."""
    agent, customer = metrics["legs"]["agent"], metrics["legs"]["customer"]
    for got, want in zip(agent["segments"], AGENT, strict=True):
        assert got == pytest.approx(list(want), abs=FRAME + 1e-6)
    assert agent["talk_time"] == pytest.approx(11.7, abs=4 * FRAME + 1e-6)
    assert customer["talk_time"] == pytest.approx(15.5, abs=5 * FRAME)
    assert agent["talk_ratio"] == pytest.approx(11.7 / 15.5, abs=0.02)
    assert customer["turns"] == 4 and agent["turns"] == 4
    assert agent["talk_share"] + customer["talk_share"] == pytest.approx(1.0, abs=0.002)


def test_dead_air_excludes_hold(metrics):
    """Only the 12.0-18.5 silence is dead air: the gaps around the hold are short and the hold is excluded."""
    dead = metrics["dead_air"]
    assert dead["count"] == 1
    assert dead["intervals"][0] == pytest.approx([12.0, 18.5], abs=FRAME)
    assert dead["total"] == pytest.approx(6.5, abs=2 * FRAME)


def test_overtalk_and_who_cut_in(metrics):
    """The customer talking over the agent from 8.0 to 9.0 is one overtalk of 1 s, cut in by the customer."""
    over = metrics["overtalk"]
    assert over["count"] == 1
    assert over["intervals"][0]["by"] == "customer"
    assert [over["intervals"][0]["start"], over["intervals"][0]["end"]] == pytest.approx([8.0, 9.0], abs=FRAME)


def test_response_latencies(metrics):
    """Agent latencies after the customer stops: 1.0, 6.5, 0.8 and 1.0 s (none across the hold)."""
    lat = metrics["response_latency"]
    assert [v["latency"] for v in lat["values"]] == pytest.approx([1.0, 6.5, 0.8, 1.0], abs=2 * FRAME)
    assert lat["max"] == pytest.approx(6.5, abs=2 * FRAME)
    assert lat["median"] == pytest.approx(1.0, abs=2 * FRAME)


def test_monologue_and_hold(metrics):
    """The customer's longest monologue is the 50-55 turn; hold time is 17.5 s; the dict is JSON."""
    cust = metrics["legs"]["customer"]
    assert cust["longest_monologue"] == pytest.approx(5.0, abs=2 * FRAME)
    assert cust["longest_monologue_start"] == pytest.approx(50.0, abs=FRAME)
    assert metrics["hold"] == {"count": 1, "total": 17.5, "intervals": [[22.5, 40.0]]}
    assert metrics["duration"] == DURATION
    assert json.loads(json.dumps(metrics)) == metrics


def test_from_wav_files_with_offsets(tmp_path, metrics):
    """Recorded WAV legs (agent's file starting 2 s into the call) give the same figures shifted in time."""
    paths = {}
    for name, talk, f0, start in (("agent", AGENT, 180, 2.0), ("customer", CUSTOMER, 120, 0.0)):
        pcm = leg(DURATION - start, [(s - start, e - start) for s, e in talk], f0)
        paths[name] = tmp_path / f"{name}.wav"
        with wave.open(str(paths[name]), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SR)
            w.writeframes(pcm.tobytes())
    got = compute_call_metrics_from_files(paths["agent"], paths["customer"], HOLDS, agent_offset=2.0)
    assert got["dead_air"]["intervals"][0] == pytest.approx([12.0, 18.5], abs=FRAME)
    assert got["legs"]["agent"]["talk_time"] == pytest.approx(metrics["legs"]["agent"]["talk_time"], abs=4 * FRAME)


def test_open_hold_and_monologue_rules():
    """An unfinished hold lasts to the end; a pause in which the other leg spoke splits a monologue."""
    got = metrics_from_segments(
        [(0.0, 4.0), (4.5, 9.0)], [(4.1, 4.4)], 20.0, [(12.0, None)], dead_air=5.0, overtalk=1.0
    )
    assert got["hold"]["total"] == 8.0
    assert got["legs"]["agent"]["longest_monologue"] == 4.5
    assert got["dead_air"]["count"] == 0  # 9-12 is 3 s, then hold
    silent = metrics_from_segments([], [], 7.0, [])
    assert silent["dead_air"]["intervals"] == [[0.0, 7.0]]
    assert silent["legs"]["agent"]["talk_ratio"] is None
    assert silent["response_latency"]["mean"] is None
