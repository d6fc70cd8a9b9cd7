"""Offline speech synthesis through espeak-ng (media.tts)."""

import threading

import numpy as np
import pytest

from media import tts
from media.vad import speech_segments


def test_mandarin_and_english_are_speech_at_48k():
    """Both languages come back as non-silent int16 mono at 48 kHz that the VAD hears as speech."""
    for text, lang in (("您好，我的快递三天了还没到。", "zh_CN"), ("Hello, my parcel has not arrived.", "en")):
        pcm = tts.synthesise(text, lang)
        assert pcm.dtype == np.int16 and pcm.ndim == 1
        assert 1.0 < pcm.size / tts.SAMPLE_RATE < 8.0
        assert np.abs(pcm).max() > 5000
        talk = sum(e - s for s, e in speech_segments(pcm, tts.SAMPLE_RATE))
        assert talk > 0.6 * pcm.size / tts.SAMPLE_RATE


def test_cached_and_read_only():
    """The same (text, lang) returns the same read-only array; another language is a different rendering."""
    a = tts.synthesise("请稍等", "zh_CN")
    assert tts.synthesise("请稍等", "zh_CN") is a
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0] = 1
    assert tts.synthesise("请稍等", "en") is not a


def test_angry_speech_is_faster():
    """A furious customer's line is spoken faster than a calm one's."""
    text = "I have been waiting for my refund for two weeks now."
    assert tts.synthesise(text, "en", emotion=3).size < 0.9 * tts.synthesise(text, "en", emotion=0).size


def test_blank_text_and_unknown_language():
    """Blank text is silence; a language with no voice is a clear TTSError."""
    assert tts.synthesise("   ", "en").size == 0
    with pytest.raises(tts.TTSError, match="no voice"):
        tts.synthesise("bonjour", "xx_YY")


def test_concurrent_calls_are_serialised():
    """Threads synthesising at once each get their own whole text (the library's global state is locked):
    each length matches a solo rendering of that text. espeak-ng varies a rendering by a few ms from run to
    run, so lengths are compared within 3%."""
    texts = ["Order shipped." + " And then some more words." * n for n in range(6)]
    results: dict[str, np.ndarray] = {}

    def work(text):
        results[text] = tts.synthesise(text, "en")

    threads = [threading.Thread(target=work, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for text in texts:
        tts._cache.pop((text, "en", 0), None)
        solo = tts.synthesise(text, "en")
        assert abs(solo.size - results[text].size) < 0.03 * solo.size


def test_resample_length():
    """Resampling 22,050 Hz to 48 kHz keeps the duration."""
    out = tts.resample(np.ones(22050, np.int16), 22050, 48000)
    assert out.size == 48000 and out.dtype == np.int16
