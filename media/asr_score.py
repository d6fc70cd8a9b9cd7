"""How far a transcript is from what was said: word error rate (English) and character error rate (Chinese),
after the usual normalisation (case, punctuation and spacing ignored; full-width forms folded)."""

from __future__ import annotations

import re
import unicodedata

_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"\s+", " ", _PUNCT.sub(" ", text)).strip()


def units(text: str, lang: str) -> list[str]:
    """Words for English, characters (spaces dropped) for Chinese."""
    text = normalise(text)
    if lang.startswith("zh"):
        return [c for c in text if not c.isspace()]
    return text.split()


def edit_distance(a: list[str], b: list[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def error_rate(reference: str, hypothesis: str, lang: str) -> float:
    """WER (en) or CER (zh) of ``hypothesis`` against ``reference``: edits / reference length (may exceed 1)."""
    ref, hyp = units(reference, lang), units(hypothesis, lang)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
