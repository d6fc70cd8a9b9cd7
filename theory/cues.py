"""Test-wiseness cues of a question, per language: which option is longest, which carry hedging words, which
distractors look absurd. Used by the quality rules (theory/quality.py) and the no-knowledge simulation
(theory/simulate.py), so both read the same cues."""

from __future__ import annotations

import re
import unicodedata

# Procedure-and-politeness words a test-wise candidate bets on (issue 19: keyed 27 of 30 times in the old bank).
HEDGE = {
    "zh_CN": ("按规定", "规定", "流程", "核实", "礼貌", "耐心", "及时", "如实", "登记", "确认", "解释", "安抚", "按照"),
    "en": (
        "according to",
        "procedure",
        "verify",
        "politely",
        "polite",
        "confirm",
        "record",
        "explain",
        "patiently",
        "promptly",
        "policy",
        "in line with",
    ),
}
# Tell-tale words of an absurd, rude, illegal or joke distractor (a short list by design: a hint, not a verdict).
ABSURD = {
    "zh_CN": (
        "不理",
        "挂断",
        "骂",
        "吵架",
        "争吵",
        "辱骂",
        "嘲笑",
        "威胁",
        "编造",
        "撒谎",
        "随便",
        "制服",
        "室温",
        "颜色",
        "开玩笑",
        "置之不理",
        "泄露",
        "私下",
    ),
    "en": (
        "ignore",
        "hang up",
        "shout",
        "insult",
        "argue with",
        "lie to",
        "make up",
        "joke",
        "colour of",
        "color of",
        "temperature",
        "uniform",
        "blame the customer",
        "swear",
        "laugh at",
        "threaten",
        "leak",
    ),
}
# "All of the above" / "none of the above" options are banned outright (§ quality rules of the bank format).
ABOVE = re.compile(
    r"以上(都|皆|均|全)(是|不是|非|对|错|正确|不正确)|\b(all|none|both|neither) of the (above|options)\b", re.I
)
# Absolute words: a true/false statement carrying one is usually false; the simulation's hedge strategy bets so.
ABSOLUTE = {
    "zh_CN": ("一律", "绝对", "必须", "所有", "任何", "从不", "总是", "一定", "只能", "全部"),
    "en": ("always", "never", "all ", "any ", "must", "only", "every", "no one", "none"),
}
# A distractor shorter than this share of the key's length reads as filler.
SHORT_RATIO = 0.4


def text_len(s: str) -> int:
    """Visible length: a CJK character counts 2 (it carries about a word), other non-space characters 1."""
    n = 0
    for ch in s:
        if ch.isspace():
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return n


def lang_of(lang: str) -> str:
    return "zh_CN" if lang.startswith("zh") else "en"


def hedges(text: str, lang: str) -> int:
    """How many hedging words ``text`` carries."""
    low = text.lower()
    return sum(1 for w in HEDGE[lang_of(lang)] if w in low)


def absurd_words(text: str, lang: str) -> list[str]:
    low = text.lower()
    return [w for w in ABSURD[lang_of(lang)] if w in low]


def absolute_words(text: str, lang: str) -> int:
    low = text.lower() + " "
    return sum(1 for w in ABSOLUTE[lang_of(lang)] if w in low)


def uniquely_longest(options: dict[str, str]) -> str | None:
    """The letter of the option strictly longer than every other, or None when the longest is tied."""
    if not options:
        return None
    lens = sorted(((text_len(t), k) for k, t in options.items()), reverse=True)
    if len(lens) > 1 and lens[0][0] == lens[1][0]:
        return None
    return lens[0][1]


def keys_of(answer) -> list[str]:
    if isinstance(answer, bool) or answer is None:
        return []
    return [answer] if isinstance(answer, str) else list(answer)


def normalise_stem(stem: str) -> str:
    """Lower case, punctuation and spaces removed: the form near-duplicate detection compares."""
    return "".join(ch for ch in stem.lower() if ch.isalnum())
