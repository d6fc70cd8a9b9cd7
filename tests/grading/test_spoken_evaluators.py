"""Grading what was said on a call from its transcript (grading/evaluators/spoken.py): phrases, forbidden
wording as a gate, steps in order, evidence with the segment's time, and N/A without a transcript."""

from grading.evaluators import EVALUATORS
from grading.scoring import grade

from .builders import build, ev, pack, scenario

START = 5000.0


def _events(*said, transcript=True, status="done", extra=()):
    segs = [{"start": t, "end": t + 2.0, "speaker": who, "text": text, "confidence": 0.7} for t, who, text in said]
    events = [
        ev("assignment", data={"agent_id": 7}, ts=START - 2),
        ev("call.recording", data={"started_at": START, "files": {}}, ts=START),
        *extra,
        ev("call.ended", "agent", ts=START + 60),
    ]
    if transcript:
        data = {"status": status, "segments": segs if status == "done" else [], "reason": "KEFU_ASR=off"}
        events.append(ev("call.transcript", data=data, ts=START + 70))
    return events


def run(name, rec, **params):
    return EVALUATORS[name]().run(rec, params)


def test_phrases_come_from_the_agent_leg_with_times():
    """A greeting the agent said at 0:01.5 passes with the segment quoted and the moment of the recording as
    the evidence's time; the customer saying hello does not count for the agent."""
    rec = build(
        _events((1.5, "agent", "Good morning, thank you for calling, how can I help?"), (4.0, "customer", "Hello")),
        channel="voice",
    )
    res = run("spoken_phrases", rec, step="greeting")
    assert res.status == "pass"
    (e,) = res.evidence
    tr = rec.of_type("call.transcript")[0]
    assert e.event_id == tr.id and e.seq == tr.seq and e.ts == START + 1.5
    assert "thank you for calling" in e.quote and "agent at 0:01.5" in e.note
    only_customer = build(_events((1.0, "customer", "Good morning, how can I help you?")), channel="voice")
    assert run("spoken_phrases", only_customer, step="greeting").status == "fail"


def test_quick_phrases_marked_as_said_do_not_count():
    """A greeting marked as said but never spoken fails: what was said is what was heard."""
    marked = ev("call.quick_phrase", "agent", data={"move": "greeting"}, ts=START + 1)
    rec = build(_events((3.0, "agent", "Yes?"), extra=[marked]), channel="voice")
    assert run("spoken_phrases", rec, step="greeting").status == "fail"


def test_forbidden_wording_fails_the_scorecard_with_the_quote():
    """An agent turn with forbidden wording fails the gate item, quoting it with its time, and the gate fails
    the whole scorecard of the shipped voice rubric; a polite call passes it."""
    sc = scenario("en-voice-late-delivery")
    rubric = next(r for r in pack("en").rubrics if r.channel == "voice")
    rude = build(
        _events(
            (1.0, "agent", "Hello, customer service, how can I help you?"),
            (9.0, "agent", "Calm down, that's not my problem, it's your own fault."),
        ),
        sid=sc.id,
        channel="voice",
    )
    res = run("spoken_forbidden", rude)
    assert res.status == "fail"
    assert any("your own fault" in e.quote and "0:09.0" in e.note for e in res.evidence)
    card = grade(rude, rubric)
    assert card["passed"] is False and card["gated"] and "no-forbidden-wording" in str(card["gates_failed"])
    polite = build(_events((1.0, "agent", "Hello, customer service, how can I help you?")), sid=sc.id, channel="voice")
    assert run("spoken_forbidden", polite).status == "pass"


def test_steps_in_order_mix_words_and_desk_actions():
    """The late-delivery steps are found in the transcript (greeting, empathy, order number, promise, closing)
    with opening the answer's article on the desk between them."""
    sc = scenario("en-voice-late-delivery")
    said = (
        (1.0, "agent", "Hello, Kefu Mall customer service, how can I help you?"),
        (8.0, "agent", "I'm so sorry about the delay, I understand how frustrating that is."),
        (14.0, "agent", "Could you give me your order number please?"),
        (40.0, "agent", "I will call you back before six tomorrow evening with news from the courier."),
        (50.0, "agent", "Thank you for calling, goodbye."),
    )
    article = ev("kb.open", "agent", data={"slug": sc.answer.kb_slug}, ts=START + 25)
    rec = build(_events(*said, extra=[article]), sid=sc.id, channel="voice")
    res = run("spoken_steps", rec)
    assert res.fraction >= 5 / 6, res.note
    kb = [e for e in res.evidence if "opened article" in e.note]
    assert kb and kb[0].event_id == rec.of_type("kb.open")[0].id and kb[0].seq == rec.of_type("kb.open")[0].seq


def test_without_a_transcript_the_spoken_items_are_na():
    """Recognition off (status off) or no transcript yet: every spoken item is N/A with the reason."""
    off = build(_events((1.0, "agent", "Hello"), status="off"), channel="voice")
    missing = build(_events(transcript=False), channel="voice")
    for rec, why in ((off, "KEFU_ASR=off"), (missing, "no transcript")):
        for name, params in (("spoken_phrases", {"step": "greeting"}), ("spoken_forbidden", {}), ("spoken_steps", {})):
            res = run(name, rec, **params)
            assert res.status == "na" and why in res.note, (name, res)
