"""The mood of a person-played customer's line (understanding/mood.py), which the grader's customer-outcome and
"empathy when upset" items read: the packs' scenario lines and their own ``customer_moods``. Lines written for
this test, none of them a pack line."""

from __future__ import annotations

import pytest

from understanding.embedding import get_embedder
from understanding.mood import MOODS, MoodReader, mood_examples

PROBES = [
    ("en", "Never mind, I'll sort it out myself.", "upset"),
    ("en", "Oh brilliant, another form to fill in. Really helpful.", "upset"),
    ("en", "Just forget it.", "upset"),
    ("en", "Don't worry about it, I'll take my business elsewhere.", "upset"),
    ("en", "Wow. Unbelievable.", "upset"),
    ("en", "Okay, I'll keep an eye on the tracking.", "neutral"),
    ("en", "Right, I see.", "neutral"),
    ("en", "Alright, I'll wait for the email then.", "neutral"),
    ("en", "Perfect, that's exactly what I needed - thank you!", "satisfied"),
    ("en", "Lovely, thanks for sorting that so quickly.", "satisfied"),
    ("en", "You've been a great help, cheers.", "satisfied"),
    ("zh_CN", "不用了不用了，我自己去投诉。", "upset"),
    ("zh_CN", "算了吧，跟你说不清楚。", "upset"),
    ("zh_CN", "无语，就这服务？", "upset"),
    ("zh_CN", "好，我知道了，我再等等看。", "neutral"),
    ("zh_CN", "嗯，明白。", "neutral"),
    ("zh_CN", "行，那我等短信。", "neutral"),
    ("zh_CN", "太感谢了，问题解决了！", "satisfied"),
    ("zh_CN", "好的好的，辛苦你了，谢谢！", "satisfied"),
]


@pytest.fixture(scope="module")
def mood_readers(packs):
    embedder = get_embedder("use")
    return {lang: MoodReader(embedder, mood_examples(p.scenarios, p.info)) for lang, p in packs.items()}


@pytest.mark.parametrize(("lang", "line", "mood"), PROBES)
def test_a_customer_line_reads_as_its_mood(mood_readers, lang, line, mood):
    """Resignation ("just forget it"), a curt "I see" and warm thanks each read as what they are (before the
    packs' customer_moods and the sharper vote, 13 of these 19 were read right)."""
    got = mood_readers[lang].read(line)
    assert got.mood == mood, (line, got)


@pytest.mark.xfail(strict=True, reason="sarcasm wrapped in thanks still reads as thanks: the nearest-lines vote")
def test_sarcastic_thanks_read_as_upset(mood_readers):
    assert mood_readers["zh_CN"].read("呵呵，真是谢谢你们了。").mood == "upset"


def test_the_packs_own_mood_lines_are_read(packs):
    """Each pack's customer_moods reach the reader, under their own mood, after the scenarios' lines."""
    for p in packs.values():
        examples = dict(mood_examples(p.scenarios, p.info))
        for mood in MOODS:
            lines = getattr(p.info.customer_moods, mood)
            assert lines, (p.info.lang, mood)
            assert sum(examples.get(line) == mood for line in lines) >= 0.9 * len(lines), (p.info.lang, mood)
