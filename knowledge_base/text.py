"""Text analysis for knowledge-base search: Chinese words by jieba, English word stems, stop words.

The same ``terms()`` runs over articles when they are indexed and over queries, so whatever jieba or the
stemmer does to a word, it does the same on both sides.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from array import array

# Words of the after-sales trade that jieba's general dictionary cuts badly (it reads 退货运费 as
# 退/货运费). A high frequency makes the dictionary path prefer them.
TRADE_WORDS = (
    "退货",
    "退款",
    "换货",
    "运费",
    "运费险",
    "七天无理由",
    "价保",
    "保价",
    "催单",
    "签收",
    "拒收",
    "到账",
    "顺丰",
    "工单",
    "售后",
    "补发",
    "错发",
    "漏发",
    "开发票",
    "优惠券",
    "满减",
    "包邮",
    "以旧换新",
)
TRADE_WORD_FREQ = 20000


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ZH_STOP = _words(
    """的 了 是 我 你 他 她 它 我们 你们 他们 吗 呢 啊 吧 呀 哦 嗯 哈 在 和 与 及 或 也 就 都 还 又 要 会 能 可以
    这 那 这个 那个 这样 那样 有 没有 一个 一下 请 请问 您 您好 你好 好 怎么 怎么办 怎样 什么 为什么 如何 哪 哪里
    哪个 把 被 给 让 对 从 到 向 着 过 很 太 非常 已经 还是 但是 可是 因为 所以 如果 然后 就是 不是 一直 现在 之 其
    该 并 等 则 而 以 于 上 下 中 个 为 如 此 时 即 由 您的 我的 谢谢 麻烦 一些 一点 不 没 自己 想 能不能 可不可以
    行 呗"""
)

EN_STOP = _words(
    """a an the and or but if of to in on at for with by from is are was were be been being it its it's this that
    these those i i'm you he she we they me my your our their them us do does did done can could would should will
    shall may might must have has had having not so as what how why when where who whom which please hi hello hey
    thanks thank there here about into than then just also am get got any some all very too much many more most
    one dear regards ok okay yes"""
)

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_HAS_WORD_CHAR = re.compile(r"[^\W_]")

_init_lock = threading.Lock()
_ready = False


def init_jieba() -> None:
    """Load jieba's dictionary once per process (about 1-3 s here), quietly, and add the trade words.

    Safe to call from many threads: the first caller loads, the others wait for it. After this returns,
    jieba only reads its dictionary, so concurrent cutting is safe.
    """
    global _ready
    if _ready:
        return
    with _init_lock:
        if _ready:
            return
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        for word in TRADE_WORDS:
            jieba.add_word(word, freq=TRADE_WORD_FREQ)
        _ready = True


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light English stemmer whose stem stays a prefix of the word (so highlighting can find it):
    refunds/refunded/refunding -> refund, shipped -> ship, deliveries/delivery/delivered -> deliver,
    charge(s) -> charg."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # shipped -> shipp -> ship
            break
    if word.endswith(("y", "e")) and len(word) > 4:
        word = word[:-1]
    return word


def _english_terms(text: str) -> list[str]:
    out = []
    for word in _WORD.findall(text.lower()):
        if word in EN_STOP:
            continue
        out.append(stem(word.replace("'", "")))
    return out


def _chinese_terms(text: str) -> list[str]:
    import jieba

    init_jieba()
    out = []
    # HMM off: unknown words fall apart into single characters on both the article and the query side,
    # which still match each other; HMM's guessed words would not match their own parts.
    for token in jieba.lcut_for_search(text, HMM=False):
        token = token.strip().lower()
        if not token or not _HAS_WORD_CHAR.search(token) or token in ZH_STOP:
            continue
        if token.isascii():
            if token in EN_STOP:
                continue
            token = stem(token)
        out.append(token)
    return out


def terms(text: str, lang: str) -> list[str]:
    """Index/query terms of ``text``: jieba for Chinese (and any English words inside it); English words,
    lower-cased, stop words dropped, lightly stemmed. Text in an English article that holds Chinese
    characters goes through jieba too."""
    if not text:
        return []
    if lang.startswith("zh") or _CJK.search(text):
        return _chinese_terms(text)
    return _english_terms(text)


_ASCII_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")


class Highlighter:
    """Finds where a query's terms occur in an article's own text, as ``(start, end)`` spans.

    English words are matched by stemming each word of the text (refunded matches the query's refund);
    Chinese terms by plain substring search. Nothing is compiled per query, so it costs microseconds.
    """

    def __init__(self, query_terms):
        query_terms = set(query_terms)
        self.ascii = {t for t in query_terms if t.isascii()}
        other = [t for t in query_terms if not t.isascii()]
        if any(len(t) > 1 for t in other):
            # Lone characters (谁, 出) still count in ranking but marking each one in a snippet is noise.
            other = [t for t in other if len(t) > 1]
        self.other = sorted(other, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.ascii or self.other)

    def spans(self, text: str, words: WordIndex | None = None) -> list[tuple[int, int, str]]:
        """Non-overlapping (start, end, term) in text order; where two overlap the longer match wins.

        ``words`` is ``word_index(text)`` made beforehand (the index keeps one per article body), which
        saves stemming every word of the text again on each query.
        """
        found = []
        if self.ascii:
            stems, offsets = words if words is not None else word_index(text)
            wanted = self.ascii
            found = [(offsets[2 * i], offsets[2 * i + 1], t) for i, t in enumerate(stems) if t in wanted]
        for term in self.other:
            i = text.find(term)
            while i != -1:
                found.append((i, i + len(term), term))
                i = text.find(term, i + len(term))
        found.sort(key=lambda s: (s[0], s[0] - s[1]))
        out: list[tuple[int, int, str]] = []
        for span in found:
            if not out or span[0] >= out[-1][1]:
                out.append(span)
        return out


WordIndex = tuple[tuple[str, ...], array]


def word_index(text: str) -> WordIndex:
    """The stems of the Latin-script words of ``text`` (stop words left out) and their [start, end) offsets,
    flattened into one compact unsigned array."""
    stems = []
    offsets = array("I")
    for m in _ASCII_WORD.finditer(text):
        word = m.group(0).lower()
        if word in EN_STOP:
            continue
        stems.append(stem(word.replace("'", "")))
        offsets.append(m.start())
        offsets.append(m.end())
    return tuple(stems), offsets
