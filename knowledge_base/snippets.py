"""Search-result snippets: a short window of the article around the query's terms, as plain text.

The snippet is never HTML. Where the query matched is given as ``[start, end)`` character offsets so the
browser can build ``<mark>`` elements from text nodes, with nothing to escape or sanitise.
"""

from __future__ import annotations

from .text import Highlighter, WordIndex

ELLIPSIS = "…"


def width_for(lang: str) -> int:
    """Characters in a snippet: a Chinese character carries about as much as an English word's letters."""
    return 90 if lang.startswith("zh") else 180


def find_spans(text: str, highlighter: Highlighter) -> list[list[int]]:
    """Where the query's terms occur in ``text``, as [start, end) pairs."""
    if not text or not highlighter:
        return []
    return [[s, e] for s, e, _t in highlighter.spans(text)]


def make_snippet(
    text: str, highlighter: Highlighter, lang: str, words: WordIndex | None = None
) -> tuple[str, list[list[int]]]:
    """The window of ``text`` (an article body with its whitespace collapsed) that holds the most distinct
    query terms, and the match offsets inside it. ``words``: ``word_index(text)`` if already made."""
    width = width_for(lang)
    spans = highlighter.spans(text, words) if highlighter else []
    if len(text) <= width:
        return text, [[s, e] for s, e, _t in spans]
    start = 0
    if spans:
        # Slide a window that starts at each match; count distinct terms inside it (two pointers, O(matches)).
        best = (-1, 0)
        inside: dict[str, int] = {}
        j = 0
        for s, _e, term in spans:
            while j < len(spans) and spans[j][1] <= s + width:
                inside[spans[j][2]] = inside.get(spans[j][2], 0) + 1
                j += 1
            if len(inside) > best[0]:
                best = (len(inside), s)
            if term in inside:
                inside[term] -= 1
                if not inside[term]:
                    del inside[term]
        # A little context before the first match reads better than starting on the matched word.
        start = max(0, min(best[1] - width // 6, len(text) - width))
    if start > 0 and not lang.startswith("zh"):
        # Start on a word boundary in English rather than in the middle of a word.
        space = text.rfind(" ", max(0, start - 25), start)
        start = space + 1 if space != -1 else start
    end = min(len(text), start + width)
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(text) else ""
    shift = len(prefix) - start
    marks = [[s + shift, e + shift] for s, e, _t in spans if s >= start and e <= end]
    return prefix + text[start:end] + suffix, marks
