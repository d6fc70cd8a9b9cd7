"""Livestream evaluators on recordings built from tuples: questions, response time, forbidden words, the
complaint taken offline, face-present ratio and audio level; and the shipped rubrics grade a livestream."""

from __future__ import annotations

from grading.evaluators import EVALUATORS
from grading.scoring import grade

from .builders import build, ev, pack


def comment(text, viewer, ts, kind=None, need=None):
    data = {"viewer": viewer, "name": viewer}
    if kind:
        data["sim"] = {"kind": kind, "need": need}
    return ev("livestream.comment", "audience", text, data, ts)


def act(type_, seq, ts, text=None, viewer=None):
    return ev(type_, "agent", text, {"comment_seq": seq, "viewer": viewer}, ts)


def samples(ts, faces, levels):
    return ev("livestream.presenter_samples", data={"samples": [{"t": ts + i, "face": f, "level_dbfs": lv}
              for i, (f, lv) in enumerate(zip(faces, levels, strict=True))]}, ts=ts)  # fmt: skip


def run(name, rec, **params):
    return EVALUATORS[name]().run(rec, params)


def stream():
    """seq 1 started; 2-3 the same need twice; 4 another need; 5 a person's question; 6 praise; 7 complaint."""
    return [
        ev("livestream.started", data={"audience_size": 5}, ts=0),
        comment("Question: Refund times?", "s1", 10, "question", "refund-times"),
        comment("+1 on Refund times", "s2", 20, "repeat", "refund-times"),
        comment("Could you explain Points rules?", "s3", 30, "question", "points-rules"),
        comment("Do you ship abroad?", "g1", 40),
        comment("Love this stream", "s4", 45, "praise"),
        comment("My order is late! I want to complain", "s0", 50, "complaint"),
    ]


def test_questions_answered_and_response_time(app):
    """Three distinct questions (a repeat counts once); two answered → 2/3 passes 0.6; the median response is
    computed from the first asking, unacknowledged ones wait until the end."""
    acts = [act("livestream.answered", 3, 25, viewer="s2"), act("livestream.pinned", 5, 70, "Yes, to 30 countries.")]
    rec = build(stream() + acts + [ev("contact.ended", ts=200)], channel="livestream")
    with app.app_context():  # a pinned answer is read by the understanding
        r = run("livestream_questions_answered", rec)
        assert r.status == "pass" and abs(r.fraction - 2 / 3) < 1e-9 and "2/3" in r.note
        r = run("livestream_response_time", rec, max_median_seconds=60)
        # waits: refund 25-10=15, points never acked 200-30=170, person 70-40=30 -> median 30
        assert r.status == "pass" and "30 s" in r.note
        assert run("livestream_response_time", rec, max_median_seconds=20).status == "fail"
        assert run("livestream_questions_answered", rec, pass_share=0.9).status == "fail"
        empty = build([ev("livestream.started")], channel="livestream")
        assert run("livestream_questions_answered", empty).status == "na"


def test_a_reply_answers_when_read_as_answering_and_not_when_it_only_acknowledges(app):
    """A chat reply that states the answer answers the question, as a pinned one does; thanks for asking, or a
    promise to look into it, acknowledges it without answering (the simulated audience reads them the same way)."""
    thanks = act("livestream.reply", 2, 15, "Great question, thanks for asking!")
    later = act("livestream.reply", 4, 35, "I'll look into the points rules and get back to you after the stream.")
    answer = act("livestream.reply", 5, 45, "Yes, we ship to 30 countries, delivery takes 7-10 days.")
    rec = build(stream() + [thanks, later, answer, ev("contact.ended", ts=200)], channel="livestream")
    with app.app_context():
        r = run("livestream_questions_answered", rec)
    assert abs(r.fraction - 1 / 3) < 1e-9 and "1/3 distinct questions answered, 3/3 acknowledged" in r.note
    assert [e.quote for e in r.evidence if e.note == "answered"] == [answer[2]]


def test_forbidden_words_in_replies_and_pins():
    """A reply with a pack forbidden phrase fails with evidence quoting it; clean replies pass; none is N/A."""
    bad = build(stream() + [act("livestream.reply", 7, 60, "Calm down, it's not my problem")], channel="livestream")
    r = run("livestream_forbidden_words", bad)
    assert r.status == "fail" and r.evidence[0].seq == 8
    good = build(
        stream() + [act("livestream.reply", 7, 60, "Sorry to hear that, let me take this to a private chat")],
        channel="livestream",
    )
    assert run("livestream_forbidden_words", good).status == "pass"
    assert run("livestream_forbidden_words", build(stream(), channel="livestream")).status == "na"
    zh = build([act("livestream.reply", 1, 5, "你冷静一下，这不是我的问题")], channel="livestream", lang="zh_CN")
    assert run("livestream_forbidden_words", zh).status == "fail"


def test_complaint_taken_offline():
    """The complaint passes only when its viewer is moved to a one-to-one chat; no complaint is N/A."""
    move = ev("livestream.moved_to_chat", "agent", None, {"comment_seq": 7, "viewer": "s0", "chat_contact_id": 9}, 80)
    moved = build(stream() + [move], channel="livestream")
    r = run("livestream_complaint_offline", moved)
    assert r.status == "pass" and "30 s" in r.note
    assert run("livestream_complaint_offline", build(stream(), channel="livestream")).status == "fail"
    assert run("livestream_complaint_offline", build(stream()[:4], channel="livestream")).status == "na"


def test_face_present_ratio_and_audio_level():
    """Face in 9 of 10 samples passes 0.8 (7 of 10 fails with partial credit); audio at -20 dBFS passes while
    mostly silent or clipped audio fails; without samples both are N/A."""
    good = build([samples(0, [True] * 9 + [False], [-20] * 10)], channel="livestream")
    assert run("livestream_face_present", good).status == "pass"
    assert run("livestream_audio_level", good).status == "pass"
    poor = build([samples(0, [True] * 7 + [False] * 3, [-70] * 6 + [-20] * 4)], channel="livestream")
    r = run("livestream_face_present", poor)
    assert r.status == "fail" and 0.8 < r.fraction < 0.9 and r.evidence[0].seq == 1
    assert run("livestream_audio_level", poor).status == "fail"
    clipped = build([samples(0, [True] * 10, [-0.5] * 5 + [-20] * 5)], channel="livestream")
    assert run("livestream_audio_level", clipped).status == "fail"
    audio_only = build(
        [ev("livestream.presenter_samples", data={"samples": [{"t": 1, "level_dbfs": -20}]})], channel="livestream"
    )
    assert run("livestream_face_present", audio_only).status == "na"
    assert run("livestream_audio_level", build(stream(), channel="livestream")).status == "na"


def test_shipped_rubrics_grade_a_livestream_in_both_languages(app):
    """Each language pack has a livestream rubric; grading a livestream recording gives a scorecard whose items
    are the livestream evaluators' results."""
    for lang in ("en", "zh_CN"):
        rubrics = [r for r in pack(lang).rubrics if r.channel == "livestream"]
        assert len(rubrics) == 1 and sum(i.points for i in rubrics[0].items) == 100
        rec = build(stream() + [act("livestream.answered", 2, 15, viewer="s1"), samples(60, [True] * 5, [-18] * 5),
                                ev("contact.ended", ts=100)], channel="livestream", lang=lang)  # fmt: skip
        with app.app_context():
            card = grade(rec, rubrics[0])
        results = {i["id"]: i["status"] for i in card["items"]}
        assert results["face-present"] == "pass" and results["complaint-offline"] == "fail"
        assert results["questions-answered"] == "fail"  # 1 of 3
