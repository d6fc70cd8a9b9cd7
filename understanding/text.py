"""Text preparation shared by training and reading: normalisation, chat abbreviations, clauses and negation.

What an agent types is normalised once (NFKC, lower case, control characters dropped, very long text cut) and
common chat abbreviations are spelled out (nh -> 您好, pls -> please), so that the classifier sees one spelling.

Negation is handled explicitly, not left to the embedding model (sentence embeddings place "we can't compensate
you" next to "we will compensate you"). A negator opens a scope that runs to the end of its clause; the words
in scope form a separate *negated view* of the message, which the classifier sees as features of their own
(``我们无法给您补偿`` -> plain view ``我们无法``, negated view ``给您补偿``), and lexicon hits inside a scope do not
count as evidence of their act. Fixed expressions that contain a negator but negate nothing (不好意思, 没问题,
no problem, not only) are tokens of their own or listed below.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_CHARS = 600  # longer messages are read from their first 600 characters (the acts live in the first lines)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200f\ufeff]")
_SPACES = re.compile(r"\s+")
_CLAUSE_BREAK = re.compile(r"[。！？!?；;\n]+|[，,](?=\s*\S)|\.(?=\s|$)|…+|~+")

# Chat abbreviations agents type, spelled out before anything else reads the message. Whole tokens only.
ABBREVIATIONS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "nh": "您好",
        "dd": "等等",
        "sd": "稍等",
        "bzd": "不知道",
        "xx": "谢谢",
        "xxx": "谢谢",
        "3q": "谢谢",
        "kk": "看看",
        "zdl": "知道了",
        "hd": "好的",
        "bhys": "不好意思",
        "qs": "亲",
        "dbq": "对不起",
        "mmd": "么么哒",
        "wt": "问题",
    },
    "en": {
        "pls": "please",
        "plz": "please",
        "thx": "thanks",
        "thnx": "thanks",
        "ty": "thank you",
        "u": "you",
        "ur": "your",
        "r": "are",
        "sry": "sorry",
        "srry": "sorry",
        "im": "i'm",
        "dont": "don't",
        "cant": "can't",
        "wont": "won't",
        "didnt": "didn't",
        "isnt": "isn't",
        "doesnt": "doesn't",
        "ill": "i'll",
        "lemme": "let me",
        "gonna": "going to",
        "wanna": "want to",
        "gimme": "give me",
        "asap": "as soon as possible",
        "b4": "before",
        "2day": "today",
        "tmrw": "tomorrow",
        "tmr": "tomorrow",
        "msg": "message",
        "acct": "account",
        "pw": "password",
        "hv": "have",
        "btw": "by the way",
        "idk": "i don't know",
        "np": "no problem",
        "nvm": "never mind",
        "abt": "about",
        "wud": "would",
        "cud": "could",
        "shud": "should",
        "pic": "picture",
        "pics": "pictures",
        "thanx": "thanks",
        "tnx": "thanks",
        "tks": "thanks",
        "yw": "you're welcome",
        "thru": "through",
        "rn": "right now",
        "lmk": "let me know",
        "fyi": "for your information",
        "tbh": "to be honest",
        "ttyl": "talk to you later",
        "cya": "see you",
        "l8r": "later",
        "gr8": "great",
        "wknd": "weekend",
        "nite": "night",
        "tonite": "tonight",
        "2nite": "tonight",
        "2moro": "tomorrow",
        "tmw": "tomorrow",
        "mins": "minutes",
        "hrs": "hours",
        "hr": "hour",
        "sec": "second",
        "secs": "seconds",
        "wk": "week",
        "wks": "weeks",
        "yr": "year",
        "yrs": "years",
        "pkg": "package",
        "addr": "address",
        "dept": "department",
        "mgr": "manager",
        "appt": "appointment",
        "cust": "customer",
        "pmt": "payment",
        "amt": "amount",
        "approx": "approximately",
        "rly": "really",
        "gd": "good",
        "cuz": "because",
        "coz": "because",
        "tho": "though",
        "ofc": "of course",
        "brb": "be right back",
        "wat": "what",
        "wut": "what",
        "wen": "when",
        "tc": "take care",
        "gn": "good night",
        "kk": "ok",
    },
}
_ABBR_TOKEN = re.compile(r"(?<![A-Za-z0-9'])[A-Za-z0-9']+(?![A-Za-z0-9'])")

# Negators. Chinese ones are matched on jieba tokens (so 不好意思 / 不客气 / 没问题, single tokens, never negate);
# English ones on words.
ZH_NEGATORS = frozenset(
    {"不", "没", "没有", "无法", "不能", "不会", "不可", "不可以", "不予", "未", "别", "无", "不是", "并非", "不行"}
    | {"没法", "不了", "不用", "不必", "甭", "莫", "勿", "不要", "不再", "无权", "不得", "没办法", "办不到", "做不到"}
    | {"不可能", "不太", "不该", "没能", "不准", "禁止", "拒绝"}
)
# Tokens that look negated but are not a negation of what follows.
ZH_NOT_NEGATION = frozenset({"不好意思", "不客气", "没问题", "没关系", "不过", "不仅", "不但", "不错", "无论", "不管"})
EN_NEGATORS = frozenset(
    {"not", "no", "never", "cannot", "can't", "won't", "don't", "doesn't", "didn't", "isn't", "aren't", "wasn't"}
    | {"unable", "nothing", "neither", "nor", "without", "shouldn't", "couldn't", "wouldn't", "haven't", "hasn't"}
    | {"mustn't", "needn't", "refuse", "impossible", "none"}
)
EN_NOT_NEGATION = (
    "no problem",
    "no worries",
    "not only",
    "no matter",
    "don't worry",
    "do not worry",
    "don't hesitate",
    "no rush",
    "never mind",
)
_EN_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NEG_SCOPE_WORDS = 8  # an English negation reaches this many words at most


def normalise(text: str, lang: str) -> str:
    """One spelling for what an agent typed: NFKC (full-width to half-width), lower case, control characters and
    zero-width marks dropped, whitespace collapsed, cut to ``MAX_CHARS``, chat abbreviations spelled out."""
    if not isinstance(text, str):
        text = str(text or "")
    text = _CONTROL.sub(" ", _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text))).lower()
    text = _SPACES.sub(" ", text).strip()[:MAX_CHARS]
    table = ABBREVIATIONS.get(lang) or ABBREVIATIONS["en"]
    # Both packs' abbreviations apply to mixed Chinese-English text; a Chinese message may say "pls".
    other = ABBREVIATIONS["en"] if lang != "en" else {}

    def spell(m: re.Match) -> str:
        word = m.group(0)
        return table.get(word) or other.get(word) or word

    return _ABBR_TOKEN.sub(spell, text)


def clauses(text: str) -> list[str]:
    """The message cut at sentence and clause punctuation (no empty pieces)."""
    return [c.strip() for c in _CLAUSE_BREAK.split(text) if c and c.strip()]


@dataclass(frozen=True)
class Views:
    """A normalised message split by negation: ``plain`` is the text outside negation scopes, ``negated`` the
    words inside them, ``scopes`` the (start, end) character spans of the scopes in ``text``."""

    text: str
    plain: str
    negated: str
    scopes: tuple[tuple[int, int], ...]

    def in_scope(self, start: int, end: int) -> bool:
        """Whether a span of ``text`` lies inside a negation scope."""
        return any(s <= start and end <= e for s, e in self.scopes)


def _cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def negation_views(text: str) -> Views:
    """Split a normalised message into its plain and negated views (see the module docstring)."""
    scopes: list[tuple[int, int]] = []
    pos = 0
    for clause in clauses(text):
        start = text.find(clause, pos)
        if start < 0:
            continue
        pos = start + len(clause)
        scopes.extend((start + s, start + e) for s, e in _scopes_in_clause(clause))
    plain_parts: list[str] = []
    neg_parts: list[str] = []
    last = 0
    for s, e in scopes:
        plain_parts.append(text[last:s])
        neg_parts.append(text[s:e])
        last = e
    plain_parts.append(text[last:])
    return Views(text, " ".join(p.strip() for p in plain_parts if p.strip()), " ".join(neg_parts), tuple(scopes))


def _scopes_in_clause(clause: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    # Chinese: a negator token opens a scope to the clause's end.
    if any(_cjk(ch) for ch in clause):
        from .lexicon import _cut

        at = 0
        for tok in _cut(clause):
            idx = clause.find(tok, at)
            if idx < 0:
                continue
            at = idx + len(tok)
            if tok in ZH_NOT_NEGATION or any(clause.startswith(x, idx) for x in ZH_NOT_NEGATION):
                continue
            if tok in ZH_NEGATORS:
                out.append((at, len(clause)))
                break
            if len(tok) >= 2 and tok[0] in "不没无未别" and _negating_compound(tok):
                out.append((idx + 1, len(clause)))  # 不退 / 没空: the rest of the token is negated too
                break
    # English: a negator opens a scope of a few words (to the clause's end at most).
    lowered = clause
    for m in _EN_WORD.finditer(lowered):
        word = m.group(0)
        if word not in EN_NEGATORS and not word.endswith("n't"):
            continue
        tail = lowered[m.start() :]
        if any(tail.startswith(p) for p in EN_NOT_NEGATION):
            continue
        words = list(_EN_WORD.finditer(lowered, m.end()))[:_NEG_SCOPE_WORDS]
        if words:
            out.append((m.end(), words[-1].end()))
        break
    return out


def _negating_compound(tok: str) -> bool:
    """jieba keeps some negated verbs as one token (不能, 没空, 无权, 不退): they negate, unless they are one of the
    fixed expressions."""
    return tok not in ZH_NOT_NEGATION and tok[:2] not in (
        "不断",
        "不久",
        "无论",
        "不同",
        "不少",
        "未来",
        "别的",
        "别人",
    )


# Words that two lines share without sharing a subject: English function words of four letters or more, and
# Chinese character pairs of address, tag questions and filler.
_COMMON_EN_WORDS = (
    "that this with your have just what about from they them there were will would could should been you're it's "
    "okay right sure yeah"
)
_COMMON_ZH_PAIRS = (
    "您的 一下 我们 这个 是不 不是 对吧 是吧 对吗 您是 就是 这边 那个 的话 一个 没有 可以 什么 怎么 现在 已经 还是"
)
_COMMON_EN = frozenset(_COMMON_EN_WORDS.split())
_COMMON_ZH = frozenset(_COMMON_ZH_PAIRS.split())


def content_terms(text: str) -> set[str]:
    """What a line is about, as comparable terms: English words of four letters or more (not function words),
    runs of two or more digits (an order number, a date) and the pairs of adjacent Chinese characters (not those of
    address, tag questions and filler)."""
    t = (text or "").lower()
    out = {w for w in re.findall(r"[a-z]{4,}", t) if w not in _COMMON_EN}
    out |= set(re.findall(r"\d{2,}", t))
    for run in re.findall(r"[\u4e00-\u9fff]+", t):
        out |= {run[i : i + 2] for i in range(len(run) - 1)} - _COMMON_ZH
    return out


def shares_content(text: str, other: str) -> bool:
    """Whether two lines have a content term in common (``content_terms``)."""
    return bool(content_terms(text) & content_terms(other))
