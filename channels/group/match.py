"""Recognising needs in a group chat, Chinese-aware: which need a customer's question is about, and whether an
agent's post answers a need. Both use the language understanding's phrase matching (understanding/lexicon.py:
jieba tokens, whole tokens only, particles glued on allowed), so 发货 matches "什么时候发货呀" but not inside 批发货品
split otherwise, and "ship" does not match inside "shipment"; a post with a need's keywords answers it only when
the understanding reads it as answering (``read_as_answer``), as a chat scenario's answer is decided. The live
room, the simulated audience and grading import it from here.

A need is the plain dict a room records (``scenarios.group.Need.snapshot``), so the live room, the
simulated customers and grading all decide "answered" the same way from the same recorded data.
"""

from __future__ import annotations

from understanding.lexicon import _Message, phrase_key


def _first(msg: _Message, phrases: list[str]) -> tuple[int, str] | None:
    best = None
    for p in phrases:
        key = phrase_key(p)
        at = msg.find(key) if key else None
        if at is not None and (best is None or at < best[0]):
            best = (at, p)
    return best


def answer_evidence(text: str, need: dict) -> str | None:
    """The keywords (joined with " + ") that make ``text`` answer ``need``: at least ``min_keywords`` of its
    ``answer_keywords`` groups each matched once; None when it does not answer it (or the need has no keywords,
    as an individual need)."""
    groups = need.get("answer_keywords") or []
    if not text or not groups:
        return None
    msg = _Message(text)
    hits = [h for h in (_first(msg, list(g)) for g in groups) if h is not None]
    if len(hits) < min(int(need.get("min_keywords") or 1), len(groups)):
        return None
    return " + ".join(p for _, p in sorted(hits))


def read_as_answer(text: str, lang: str, reader=None) -> bool:
    """Whether a post that states a need's answer keywords answers with them, by the language understanding's
    reading of it (``understanding.reader.keywords_answer``, the rule chat scenarios' answers follow): "您是问
    退款多久到账吗？" or "refund times? I'll ask billing and get back to you" names the keywords and answers
    nothing. ``reader``: the Reader to use (grading passes its recording's pack's); by default the app's for the
    loaded pack of ``lang``. No keyword fall-back."""
    from understanding.reader import keywords_answer

    return keywords_answer(post_acts(text, lang, reader))


# What a customer waiting in the room takes badly when it is said to them: a brush-off or taboo wording.
SLIGHTING_ACTS = frozenset({"dismissal", "forbidden"})


def slights(text: str, lang: str, reader=None) -> bool:
    """Whether a post said to a customer brushes them off or is rude and answers nothing (``SLIGHTING_ACTS``)."""
    acts = post_acts(text, lang, reader)
    return bool(acts & SLIGHTING_ACTS) and "answer" not in acts


def post_acts(text: str, lang: str, reader=None) -> set[str]:
    """The acts the language understanding reads in a post (``reader``: as for ``read_as_answer``)."""
    if reader is None:
        from understanding.store import reader_for_lang

        reader = reader_for_lang(lang)
    return set(reader.read(text).names)


def classify_question(text: str, needs: list[dict]) -> str | None:
    """The need a question is about, from the needs' ``ask_keywords``: the need with the most keywords in it,
    ties to the earliest match, then to the order of ``needs``. None for a question about none of them (small
    talk, or something the room was not set up for)."""
    if not text or not text.strip():
        return None
    msg = _Message(text)
    best: tuple[int, int, int] | None = None
    best_id = None
    for order, need in enumerate(needs):
        found = [msg.find(phrase_key(p)) for p in need.get("ask_keywords") or [] if phrase_key(p)]
        found = [at for at in found if at is not None]
        if not found:
            continue
        rank = (-len(found), min(found), order)
        if best is None or rank < best:
            best, best_id = rank, need["id"]
    return best_id
