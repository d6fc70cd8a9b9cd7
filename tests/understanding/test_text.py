"""Normalisation, chat abbreviations and explicit negation scopes."""

from __future__ import annotations

from understanding.text import clauses, negation_views, normalise


def test_abbreviations_are_spelled_out_in_both_languages():
    """Pinyin initials and English chat shorthand become words; a word that merely contains them does not."""
    assert normalise("nh 亲，pls 稍等", "zh_CN") == "您好 亲,please 稍等"
    assert normalise("thx, u r right", "en") == "thanks, you are right"
    assert normalise("Unhappy USER", "en") == "unhappy user"


def test_more_chat_shorthand_is_spelled_out():
    """Sign-offs, times and desk words typed in shorthand read as the words they stand for (feature v6)."""
    assert normalise("ttyl, lmk if the pkg isnt there in 2 hrs", "en") == (
        "talk to you later, let me know if the package isn't there in 2 hours"
    )
    assert normalise("one sec, checking w my mgr. tc!", "en") == "one second, checking w my manager. take care!"
    # A Chinese message may sign off in English shorthand too; the pinyin initials keep their Chinese reading.
    assert normalise("好的亲 ttyl", "zh_CN") == "好的亲 talk to you later"
    assert normalise("kk", "zh_CN") == "看看" and normalise("kk", "en") == "ok"


def test_negated_words_form_their_own_view():
    """无法补偿 puts 补偿 in the negated view; "can't refund" puts "refund" there; the rest stays plain."""
    v = negation_views(normalise("我们无法给您补偿", "zh_CN"))
    assert "补偿" in v.negated and "补偿" not in v.plain
    v = negation_views(normalise("Sorry, I can't refund this order", "en"))
    assert "refund" in v.negated and "sorry" in v.plain


def test_fixed_expressions_with_a_negator_do_not_negate():
    """不好意思 / 没问题 / no problem / don't worry negate nothing."""
    for text, lang in [
        ("不好意思问一下订单号", "zh_CN"),
        ("没问题，马上给您补发", "zh_CN"),
        ("No problem, we'll refund you", "en"),
    ]:
        assert negation_views(normalise(text, lang)).negated == "", text


def test_negation_stops_at_the_clause():
    """A negation in one clause leaves the next clause plain."""
    v = negation_views(normalise("这个没法退，但可以给您补偿一张券", "zh_CN"))
    assert "补偿" in v.plain and "退" in v.negated


def test_clauses_and_bad_input():
    """Clauses split at punctuation; control characters, zero-width marks and over-long text are cleaned."""
    assert clauses("您好。请问订单号？谢谢") == ["您好", "请问订单号", "谢谢"]
    assert normalise("a\x00b\u200bc", "en") == "a bc"
    assert len(normalise("长" * 5000, "zh_CN")) == 600
