"""Video evaluators on recordings built in the tests: the identity decision (a wrong approval is a gate
failure of the scorecard), face presence and framing, each with pass, fail and N/A and the deciding evidence."""

from __future__ import annotations

from grading.evaluators import EVALUATORS
from grading.scoring import grade

from .builders import assigned, build, ev, pack

MATCH = "en-video-phone-change-id"  # the card matches the CRM: approve
MISMATCH = "en-video-refund-other-card"  # someone else's card: refuse


def run(name, rec, **params):
    return EVALUATORS[name]().run(rec, params)


def decided(decision, ts, reason=None):
    return ev("video.id_verification", "agent", reason, {"decision": decision}, ts)


def summary(samples, face, dark=0.0, off=0.0, final=True, ts=60):
    data = {"samples": samples, "face_present_ratio": face, "dark_ratio": dark, "off_centre_ratio": off}
    return ev("video.camera_summary", data={**data, "final": final}, ts=ts)


def hint(h, ts):
    return ev("video.camera_hint", data={"hint": h}, ts=ts)


def vid(events, sid=MATCH, lang="en"):
    return build(events, sid=sid, lang=lang, channel="video")


def test_matching_id_approved_passes_and_the_gate_is_na():
    """Approving a matching card passes the decision item; the mismatch gate does not apply."""
    rec = vid([assigned(0), decided("approved", 20)])
    r = run("id_verification", rec)
    assert r.status == "pass" and [e.event_id for e in r.evidence] == [102] and "X71820446" in r.evidence[0].note
    assert run("id_verification", rec, fail_on="approved_mismatch").status == "na"


def test_matching_id_refused_fails():
    """Refusing a card that matches the CRM is the wrong decision."""
    r = run("id_verification", vid([assigned(0), decided("refused", 20, "looks odd")]))
    assert r.status == "fail" and "expected approved" in r.note and r.evidence[-1].quote == "looks odd"


def test_mismatch_refused_with_a_reason_passes_both_items():
    """Refusing someone else's card with a reason passes the decision and the gate."""
    rec = vid([assigned(0), decided("refused", 30, "The card is not in the account holder's name")], MISMATCH)
    assert run("id_verification", rec).status == "pass"
    g = run("id_verification", rec, fail_on="approved_mismatch")
    assert g.status == "pass" and [e.event_id for e in g.evidence] == [102]


def test_mismatch_approved_fails_even_when_refused_later():
    """An approval of a mismatching card fails the gate item although the last decision is a refusal; the
    decision item (last decision of record) passes, with the earlier approval in its evidence."""
    rec = vid([assigned(0), decided("approved", 20), decided("refused", 40, "Sorry, wrong card")], MISMATCH)
    g = run("id_verification", rec, fail_on="approved_mismatch")
    assert g.status == "fail" and [e.event_id for e in g.evidence] == [102] and "Jessica Brooks" in g.evidence[0].note
    d = run("id_verification", rec)
    assert d.status == "pass" and [e.event_id for e in d.evidence] == [102, 103]


def test_no_decision_fails_and_no_id_check_is_na():
    """No decision on an ID scenario fails with evidence of absence; a guidance scenario is N/A."""
    r = run("id_verification", vid([assigned(0)], MISMATCH))
    assert r.status == "fail" and r.evidence[0].event_id is None
    assert run("id_verification", vid([assigned(0)], "en-video-purifier-guidance")).status == "na"


def test_refusal_without_reason_fails():
    """A refusal recorded without a usable reason (e.g. imported data) fails the decision item."""
    r = run("id_verification", vid([assigned(0), decided("refused", 9, "no")], MISMATCH), min_reason_chars=4)
    assert r.status == "fail" and "without a reason" in r.note


def test_approved_mismatch_fails_the_whole_scorecard():
    """Graded with the shipped video rubric, approving the mismatched card gates the scorecard (not passed,
    gate listed), however good the rest; the same recording with a refusal is not gated."""
    rubric = next(r for r in pack("en").rubrics if r.channel == "video")
    bad = vid([assigned(0), decided("approved", 20), summary(40, 1.0)], MISMATCH)
    card = grade(bad, rubric)
    assert card["gated"] and card["gates_failed"] == ["no-approved-mismatch"] and not card["passed"]
    good = grade(
        vid([assigned(0), decided("refused", 20, "Not the account holder's card"), summary(40, 1.0)], MISMATCH), rubric
    )
    assert not good["gated"]
    assert {i["id"]: i["status"] for i in good["items"]}["no-approved-mismatch"] == "pass"


def test_face_presence_pass_fail_partial_and_evidence():
    """95% of samples with a face passes; 60% fails with fraction 0.75 and the no_face moments as evidence."""
    assert run("face_presence", vid([assigned(0), summary(40, 0.95)])).status == "pass"
    rec = vid([assigned(0), hint("ok", 2), hint("no_face", 10), hint("ok", 15), hint("no_face", 30), summary(40, 0.6)])
    r = run("face_presence", rec, min_ratio=0.8)
    assert r.status == "fail" and abs(r.fraction - 0.75) < 1e-9
    assert [e.event_id for e in r.evidence] == [106, 103, 105] and "60%" in r.note


def test_face_presence_uses_the_final_summary():
    """The final summary decides over earlier periodic ones."""
    rec = vid([assigned(0), summary(10, 0.2, final=False, ts=30), summary(40, 0.9, ts=60)])
    r = run("face_presence", rec)
    assert r.status == "pass" and r.evidence[0].event_id == 103


def test_face_presence_without_camera_fails_or_na():
    """No camera (permission denied): fails by default, N/A when configured; no analysis at all or too few
    samples: N/A."""
    no_cam = vid([assigned(0), ev("video.camera_unavailable", "agent", data={"reason": "permission_denied"}, ts=3)])
    r = run("face_presence", no_cam)
    assert r.status == "fail" and r.evidence[0].event_id == 102 and "permission_denied" in r.note
    assert run("face_presence", no_cam, camera_missing="na").status == "na"
    assert run("face_presence", vid([assigned(0)])).status == "na"
    assert run("face_presence", vid([assigned(0), summary(2, 1.0)])).status == "na"


def test_camera_framing():
    """Lit and centred passes; too dark for 40% of samples fails at half credit with the too_dark moment."""
    assert run("camera_framing", vid([assigned(0), summary(40, 1.0, dark=0.05, off=0.1)])).status == "pass"
    r = run("camera_framing", vid([assigned(0), hint("too_dark", 5), summary(40, 1.0, dark=0.4, off=0.1)]))
    assert r.status == "fail" and r.fraction == 0.5 and [e.event_id for e in r.evidence] == [103, 102]
    assert run("camera_framing", vid([assigned(0)])).status == "na"


def test_video_evaluators_do_not_grade_chat():
    """They grade the video channel only (a chat rubric naming them is refused by the loader)."""
    for name in ("id_verification", "face_presence", "camera_framing"):
        assert EVALUATORS[name].channels == frozenset({"video"})


def test_zh_rubric_gate_on_zh_scenario():
    """The Chinese rubric gates a zh mismatch approval the same way."""
    rubric = next(r for r in pack("zh_CN").rubrics if r.channel == "video")
    card = grade(vid([assigned(0), decided("approved", 20)], "zh-video-unfreeze-number-mismatch", "zh_CN"), rubric)
    assert card["gates_failed"] == ["no-approved-mismatch"]


def test_shipped_video_rubrics():
    """Each language ships one video rubric of 100 points for L5-L3, with the mismatch item as a scorecard gate
    and manual items for what the server cannot see."""
    for lang in ("en", "zh_CN"):
        rubrics = [r for r in pack(lang).rubrics if r.channel == "video"]
        assert len(rubrics) == 1 and sum(i.points for i in rubrics[0].items) == 100
        items = {i.id: i for i in rubrics[0].items}
        assert items["no-approved-mismatch"].gate == "scorecard"
        assert sum(i.scoring == "manual" for i in rubrics[0].items) >= 3
