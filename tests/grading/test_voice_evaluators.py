"""Call evaluators (grading/evaluators/voice.py) on calls synthesised and measured by the tests."""

import pytest

from grading.evaluators import EVALUATORS
from media.call_metrics import compute_call_metrics
from tests.media.synth import SR, leg

from .builders import build, ev

START = 1000.0  # sandbox time the recording started


def _call(agent_talk, customer_talk, duration, holds=()):
    metrics = compute_call_metrics(leg(duration, agent_talk, 180), leg(duration, customer_talk, 120), SR, holds)
    return metrics


@pytest.fixture(scope="module")
def good_metrics():
    """A tidy call: quick answers, no long silence, nobody talking over anybody."""
    return _call([(4.0, 8.0), (12.8, 17.0)], [(0.5, 3.2), (8.6, 12.0), (17.5, 20.0)], 21.0)


@pytest.fixture(scope="module")
def bad_metrics():
    """A messy call: 7 s of dead air, the agent cutting in for 1.5 s, a 7 s slow answer, the agent lecturing."""
    return _call([(9.5, 12.5), (14.5, 34.0)], [(0.5, 2.5), (13.0, 16.0)], 35.0)


def _rec(metrics, extra=()):
    events = [
        ev("call.answered", "agent", ts=START - 1),
        ev("call.recording", data={"started_at": START, "files": {}}, ts=START),
        *extra,
        ev("call.ended", "agent", ts=START + metrics["duration"]),
        ev("call.metrics", data=metrics, ts=START + metrics["duration"]),
    ]
    return build(events, channel="voice")


def _transcript(*said, speaker="agent"):
    """``call.transcript`` data with one segment per (start offset, text)."""
    segs = [{"start": t, "end": t + 2.5, "speaker": speaker, "text": x, "confidence": 0.8} for t, x in said]
    return {"status": "done", "segments": segs, "engine": "test", "problems": []}


def run(name, rec, **params):
    return EVALUATORS[name]().run(rec, params)


def test_dead_air(good_metrics, bad_metrics):
    """The 7 s silence fails dead air with its moment as evidence; the tidy call passes."""
    assert run("dead_air", _rec(good_metrics)).status == "pass"
    res = run("dead_air", _rec(bad_metrics))
    assert res.status == "fail"
    (e,) = res.evidence
    assert e.event_id is not None and e.ts == pytest.approx(START + 2.5, abs=0.05)
    assert e.note == "dead air 7.0 s at 0:02.5"
    assert run("dead_air", _rec(bad_metrics), max_periods=1).status == "pass"


def test_overtalk_counts_the_agent_cutting_in(bad_metrics, good_metrics):
    """The agent starting at 14.5 over the customer (until 16.0) is overtalk; none in the tidy call."""
    res = run("overtalk", _rec(bad_metrics))
    assert res.status == "fail"
    assert res.evidence[0].ts == pytest.approx(START + 14.5, abs=0.05)
    assert "agent cut in" in res.evidence[0].note
    assert run("overtalk", _rec(good_metrics)).status == "pass"


def test_response_latency(good_metrics, bad_metrics):
    """Answers after 0.8 s are on time; the 7 s wait after the opening is not (1 of 1 slow)."""
    good = run("response_latency", _rec(good_metrics), max_seconds=2)
    assert good.status == "pass" and good.fraction == 1.0
    bad = run("response_latency", _rec(bad_metrics), max_seconds=2)
    assert bad.status == "fail" and bad.fraction == 0.0
    assert bad.evidence[0].note == "answered after 7.0 s at 0:02.5"
    assert bad.evidence[0].ts == pytest.approx(START + 2.5, abs=0.05)


def test_talk_ratio_and_monologue(good_metrics, bad_metrics):
    """The tidy call is balanced; the lecture (22.5 s of agent talk to 5 s) fails, and so does a monologue limit."""
    assert run("talk_ratio", _rec(good_metrics)).status == "pass"
    res = run("talk_ratio", _rec(bad_metrics))
    assert res.status == "fail" and "talk-to-listen 4.4" in res.note
    mono = run("talk_ratio", _rec(good_metrics), max_monologue=3)
    assert mono.status == "fail" and "agent monologue" in mono.evidence[-1].note


def test_hold_time_and_asking_first(good_metrics):
    """A 40 s hold after asking passes; a 90 s hold fails; not asking fails with ask_first; no hold is N/A."""
    asked = [
        ev("call.quick_phrase", "agent", data={"move": "hold"}, ts=START + 5),
        ev("call.held", "agent", data={"reason": "hold"}, ts=START + 6),
        ev("call.resumed", "agent", data={"reason": "hold"}, ts=START + 46),
    ]
    res = run("hold_time", _rec(good_metrics, asked), ask_first=True)
    assert res.status == "pass" and res.evidence[0].event_id == 104
    long = asked[:2] + [ev("call.resumed", "agent", ts=START + 96)]
    res = run("hold_time", _rec(good_metrics, long))
    assert res.status == "fail" and "over 60 s" in res.evidence[0].note
    unasked = asked[1:]
    assert run("hold_time", _rec(good_metrics, unasked)).status == "pass"
    res = run("hold_time", _rec(good_metrics, unasked), ask_first=True)
    assert res.status == "fail" and "without asking" in res.evidence[0].note
    transfer = [ev("call.held", "agent", data={"reason": "transfer"}, ts=START + 6)]
    assert run("hold_time", _rec(good_metrics, transfer)).status == "na"


def test_no_metrics_is_not_applicable(good_metrics):
    """A call without metrics, or whose metrics failed, is N/A for every metric item, never failed."""
    plain = build([ev("call.answered", "agent", ts=START)], channel="voice")
    broken = build([ev("call.metrics", data={"error": "metrics could not be computed: bad file"}, ts=START)])
    for name in ("dead_air", "overtalk", "response_latency", "talk_ratio"):
        assert run(name, plain).status == "na"
        res = run(name, broken)
        assert res.status == "na" and "bad file" in res.note


def test_quick_phrases_and_call_desk_steps_count_as_moves(good_metrics):
    """On a call, marked quick phrases satisfy required phrases and step order; opening the answer article
    counts as answering."""
    from tests.grading.builders import scenario

    sc = scenario("en-late-delivery-complaint")
    events = [
        ev("call.quick_phrase", "agent", data={"move": "greeting"}, ts=START + 1),
        ev("call.quick_phrase", "agent", data={"move": "empathy"}, ts=START + 5),
        ev("call.quick_phrase", "agent", data={"move": "ask_order"}, ts=START + 9),
        ev("kb.open", "agent", data={"slug": sc.answer.kb_slug}, ts=START + 15),
        ev("call.quick_phrase", "agent", data={"move": "promise_followup"}, ts=START + 20),
        ev("call.quick_phrase", "agent", data={"move": "closing"}, ts=START + 25),
    ]
    rec = build(events, sid=sc.id, channel="voice")
    res = run("required_phrases", rec, step="empathy")
    assert res.status == "pass" and res.evidence[-1].event_id == 102
    order = run("step_order", rec)
    assert order.status == "pass", order.note
    chat = build(events, sid=sc.id, channel="chat")
    assert run("step_order", chat).fraction < 1  # in chat, opening an article is not the answer


def test_grading_a_call_with_the_voice_rubric(good_metrics):
    """The shipped voice rubric grades a simulated call end to end: metric items pass with evidence, what the
    trainee said is read from the transcript, manual items wait for graders, and grading twice gives the same
    scorecard."""
    from grading.scoring import grade, scorecard_json
    from tests.grading.builders import pack, scenario

    sc = scenario("en-voice-order-status")
    rubric = next(r for r in pack("en").rubrics if r.channel == "voice")
    events = [
        ev("assignment", data={"agent_id": 7}, ts=START - 2),
        ev("call.answered", "agent", ts=START - 1),
        ev("call.recording", data={"started_at": START, "files": {}}, ts=START),
        ev("crm.verify", "agent", data={"result": "verified", "method": "phone"}, ts=START + 9),
        ev("kb.open", "agent", data={"slug": "delivery-tracking"}, ts=START + 12),
        ev("call.ended", "agent", ts=START + 21),
        ev("call.metrics", data=good_metrics, ts=START + 21),
        ev(
            "call.transcript",
            data=_transcript(
                (1, "Hello, thank you for calling Kefu Mall, how can I help you?"),
                (5, "May I have your name and the last four digits of your phone to verify the account?"),
                (18, "Thank you for calling, have a nice day, goodbye."),
            ),
            ts=START + 30,
        ),
    ]
    rec = build(events, sid=sc.id, channel="voice", level="L5")
    card = grade(rec, rubric)
    by_id = {i["id"]: i for i in card["items"]}
    for item in ("greeting", "dead-air", "response-latency", "overtalk", "step-order", "kb-article", "closing"):
        assert by_id[item]["status"] == "pass", (item, by_id[item])
    assert by_id["hold-etiquette"]["status"] == "na"
    assert by_id["voice-tone"]["status"] == "pending"
    assert scorecard_json(grade(rec, rubric)) == scorecard_json(card)
