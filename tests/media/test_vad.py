"""Turn detection on a call leg (media.vad.TurnDetector)."""

import numpy as np
import pytest

from media.vad import TurnDetector, speech_segments

from .synth import SR, leg

FRAME = 0.03


def _stream(pcm, detector, chunk=960, start=100.0):
    """Feed ``pcm`` in 20 ms chunks as the call pipeline does."""
    events = []
    for i in range(0, pcm.size, chunk):
        events += detector.feed(pcm[i : i + chunk], start + i / SR)
    return events + detector.close()


def test_turns_with_times():
    """Two utterances give start/end pairs at the audio's own times, within a frame."""
    pcm = leg(8.0, [(1.0, 3.0), (5.0, 6.5)])
    events = _stream(pcm, TurnDetector())
    assert [e.kind for e in events] == ["speech_start", "speech_end"] * 2
    expected = [101.0, 103.0, 105.0, 106.5]
    assert [e.at for e in events] == pytest.approx(expected, abs=FRAME)


def test_short_pause_does_not_end_turn():
    """A 400 ms pause inside a turn is bridged; a 1 s pause ends it (end_silence_ms=700)."""
    pcm = leg(8.0, [(1.0, 2.0), (2.4, 3.0), (4.0, 5.0)])
    segs = speech_segments(pcm, SR)
    assert len(segs) == 2
    assert segs[0] == pytest.approx((1.0, 3.0), abs=FRAME)
    assert segs[1] == pytest.approx((4.0, 5.0), abs=FRAME)


def test_click_does_not_start_turn():
    """A 40 ms burst is too short to open a turn (start_speech_ms=90)."""
    pcm = leg(3.0, [(1.0, 1.04)])
    assert speech_segments(pcm, SR) == []


def test_gap_in_stream_counts_as_silence():
    """Audio that stops arriving (a stalled track) ends the open turn at its last voiced frame."""
    det = TurnDetector()
    events = det.feed(leg(1.0, [(0.2, 1.0)]), 0.0)
    events += det.feed(np.zeros(960, np.int16), 5.0)
    assert [e.kind for e in events] == ["speech_start", "speech_end"]
    assert events[1].at == pytest.approx(1.0, abs=FRAME)


def test_other_sample_rates_and_bad_input():
    """16 kHz input works as is; stereo or float input is refused clearly."""
    pcm16 = leg(4.0, [(1.0, 2.0)])[::3].copy()
    assert speech_segments(pcm16, 16000) == [pytest.approx((1.0, 2.0), abs=FRAME)]
    with pytest.raises(ValueError, match="int16"):
        TurnDetector().feed(np.zeros(960, np.float32), 0.0)


def test_synthesised_sentences_are_one_turn_each():
    """Real synthesised speech (espeak-ng, both languages): each sentence, commas and all, is one turn, and
    turns start within a frame or two of the audio."""
    from media.tts import synthesise

    for lang, lines in (
        ("zh_CN", ["您好，我的快递三天了还没到，物流也不更新。", "请帮我查一下，好吗？"]),
        ("en", ["Hello, my parcel is late, and the tracking has not moved.", "Can you check it, please?"]),
    ):
        a, b = (synthesise(t, lang) for t in lines)
        gap = np.zeros(int(1.5 * SR), np.int16)
        pcm = np.concatenate([gap, a, gap, b, gap])
        segs = speech_segments(pcm, SR)
        assert len(segs) == 2, (lang, segs)
        assert segs[0][0] == pytest.approx(1.5, abs=3 * FRAME)
        assert segs[1][0] == pytest.approx(3.0 + a.size / SR, abs=3 * FRAME)
        assert segs[0][1] <= 1.5 + a.size / SR + FRAME
