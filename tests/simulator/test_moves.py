"""Agent move recognition: jieba tokens for Chinese, lower-cased words for English, patterns, forbidden, answer."""

from __future__ import annotations

from understanding.lexicon import MoveRecogniser, tokenize

from .builders import en_pack, zh_pack, zh_refund


def test_chinese_synonym_matches_as_whole_tokens():
    """您好 at the start of a sentence is a greeting; the moves come back in the order the agent made them."""
    rec = MoveRecogniser(zh_pack())
    assert rec.moves("您好，请问有什么可以帮您？") == ["greeting"]
    assert rec.moves("非常抱歉，您好") == ["empathy", "greeting"]
    assert rec.evidence("我理解您的心情，请稍等") == {"empathy": "理解您的心情", "hold": "请稍等"}


def test_no_false_hit_inside_a_longer_word():
    """你好 does not match inside 你|好像, and "hi" does not match inside "this" or "Othello"."""
    assert MoveRecogniser(zh_pack()).moves("你好像搞错了订单") == []
    assert MoveRecogniser(en_pack()).moves("this is Othello") == []


def test_particle_glued_by_jieba_still_matches():
    """jieba glues particles onto the last word (稍等一下, 看吧); the phrase still matches, a real word does not."""
    rec = MoveRecogniser(zh_pack())
    assert "hold" in rec.moves("请稍等一下，我查查")
    assert "forbidden" in rec.moves("说明书上都有，你自己看吧")


def test_punctuation_breaks_a_phrase():
    """不知道 is a brush-off; 不，知道 (no, I know) is not."""
    rec = MoveRecogniser(zh_pack())
    assert rec.moves("这个我不知道") == ["dismissal"]
    assert rec.moves("不，知道了") == []


def test_english_is_case_insensitive_and_word_based():
    """English synonyms match lower-cased whole words, multi-word phrases as word sequences."""
    rec = MoveRecogniser(en_pack())
    assert rec.moves("HELLO there, I'm SORRY about that") == ["greeting", "empathy"]
    assert rec.moves("Could I have your Phone Number?") == ["ask_verification"]
    assert rec.moves("Could I have your phone, number?") == []
    assert rec.moves("I'm sorrowful") == []


def test_patterns_match_raw_text():
    """A lexicon regex matches the raw text (手机的号码, "hold on")."""
    assert MoveRecogniser(zh_pack()).evidence("请告诉我您手机的号码") == {"ask_verification": "手机的号码"}
    assert MoveRecogniser(en_pack()).evidence("Hold on please") == {"hold": "Hold on"}


def test_forbidden_includes_pack_and_scenario_phrases():
    """forbidden: the move's synonyms, the pack's forbidden_phrases and the scenario's expected.forbidden_phrases."""
    rec = MoveRecogniser(zh_pack())
    sc = zh_refund()
    assert rec.evidence("这是规定，没有例外", sc) == {"forbidden": "这是规定"}
    assert rec.evidence("这不归我管", sc) == {"forbidden": "这不归我管"}
    assert rec.moves("这不归我管") == []  # the scenario phrase needs the scenario
    assert MoveRecogniser(en_pack()).moves("Sorry, that's policy") == ["empathy", "forbidden"]


def test_answer_needs_min_keyword_groups():
    """The answer counts when at least min_keywords groups are present; any synonym of a group counts."""
    rec = MoveRecogniser(zh_pack())
    sc = zh_refund()
    assert "answer" not in rec.moves("退款会在3个工作日内到账", sc)
    ev = rec.evidence("退款会在三个工作日内原路退回到您的账户", sc)
    assert ev["answer"] == "三个工作日 + 原路退回"
    assert "answer" not in rec.moves("退款会在三个工作日内原路退回")  # no scenario, no answer


def test_tokenize_normalises_width_and_case():
    """Full-width letters and punctuation are normalised; punctuation becomes one break."""
    assert tokenize("ＨＥＬＬＯ，，世界") == tokenize("hello, 世界")


def test_tokens_are_cut_once_and_each_caller_gets_its_own_list():
    """Each text is cut once (the cut is cached); a caller that edits its tokens does not change the next
    caller's."""
    first = tokenize("，，请稍等一下")
    first.pop(0)
    first.append("changed")
    assert tokenize("，，请稍等一下") != first
    assert "changed" not in tokenize("，，请稍等一下")
