"""Face analysis of a camera: face found or not, too dark, off-centre; hints settle; notes are rate-limited."""

from __future__ import annotations

from media.face_analysis import CameraMonitor, FrameAnalysis, analyse_frame

from .faces import empty_frame, face_frame


def test_centred_face_is_ok():
    """A drawn face in the middle is found, centred and bright enough: hint ok."""
    a = analyse_frame(face_frame())
    assert a.face and not a.dark and not a.off_centre and a.hint == "ok"
    x, y, w, h = a.box
    assert abs((x + w / 2) - 320) < 40 and 100 < w < 260


def test_no_face_in_an_empty_room():
    """The backdrop alone has no face: hint no_face."""
    a = analyse_frame(empty_frame())
    assert not a.face and a.box is None and a.hint == "no_face"


def test_face_at_the_edge_is_off_centre():
    """A face near the left edge is found but off-centre."""
    a = analyse_frame(face_frame(x=95))
    assert a.face and a.off_centre and a.offset[0] < -0.5 and a.hint == "off_centre"


def test_dim_picture_is_too_dark_even_with_a_face():
    """At a fifth of the light the face can still be found, but the picture is too dark (hint too_dark)."""
    a = analyse_frame(face_frame(dim=0.2))
    assert a.dark and a.brightness < 60 and a.hint == "too_dark"


def test_grey_input_works_like_colour():
    """A grey frame (what the server takes from a decoded track) gives the same verdict."""
    import cv2

    a = analyse_frame(cv2.cvtColor(face_frame(), cv2.COLOR_BGR2GRAY))
    assert a.face and a.hint == "ok"


def _s(face=True, dark=False, off=False, b=120.0):
    return FrameAnalysis(face, b, (0, 0, 10, 10) if face else None, (0.0, 0.0) if face else None, dark, off)


def test_monitor_settles_hints_and_counts_ratios():
    """A one-sample flicker does not change the hint; two in a row do; ratios count every sample."""
    m = CameraMonitor(summary_every=1000, settle_samples=2)
    notes = []
    for i, s in enumerate([_s(), _s(), _s(face=False), _s(), _s(face=False), _s(face=False), _s(face=False)]):
        notes += m.feed(s, i * 0.5)
    assert [(n.kind, n.data["hint"], n.data["previous"]) for n in notes] == [
        ("hint", "ok", None),
        ("hint", "no_face", "ok"),
    ]
    assert notes[1].at == 2.5
    summ = m.summary()
    assert summ["samples"] == 7 and summ["face_present_ratio"] == round(3 / 7, 3) and summ["hint"] == "no_face"
    assert summ["seconds"] == 3.0 and summ["final"] is False


def test_monitor_summaries_are_periodic_not_per_frame():
    """At 2 samples a second over 65 s with summary_every=30, exactly two summaries are noted."""
    m = CameraMonitor(summary_every=30)
    kinds = []
    for i in range(130):
        kinds += [n.kind for n in m.feed(_s(dark=i % 10 == 0), i * 0.5)]
    assert kinds.count("summary") == 2 and kinds.count("hint") <= 3
    assert m.summary(final=True)["dark_ratio"] == 0.1 and m.summary(final=True)["final"] is True


def test_empty_monitor_summary():
    """Before any sample the ratios are None, not zero (no evidence is not a bad figure)."""
    s = CameraMonitor().summary()
    assert s["samples"] == 0 and s["face_present_ratio"] is None
