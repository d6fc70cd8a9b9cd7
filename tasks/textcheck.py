"""Finding stated facts and figures in a trainee's text (reports, articles, scripts, coaching notes).

A fact is found when any of its phrasings occurs (case- and width-insensitive, spaces ignored; a phrasing that
starts with ``re:`` is a regular expression). A figure is found when a number in the text is within the
tolerance of the true value (a share may be written 0.35, 35 % or 35%)."""

from __future__ import annotations

import re
import unicodedata

from pydantic import BaseModel, ConfigDict, Field, field_validator

_NUM = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)?\s*%?")


class Fact(BaseModel):
    """A fact the text must (or, in ``forbidden``, must not) state: any of ``any`` phrasings."""

    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    any: list[str] = Field(min_length=1)

    @field_validator("any")
    @classmethod
    def valid_patterns(cls, v: list[str]) -> list[str]:
        for p in v:
            if p.startswith("re:"):
                re.compile(p[3:])
        return v


def norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).casefold()


def find_fact(fact: Fact, text: str) -> str | None:
    """The phrasing found in ``text``, or None."""
    flat = norm(text)
    raw = unicodedata.normalize("NFKC", text or "")
    for p in fact.any:
        if p.startswith("re:"):
            m = re.search(p[3:], raw, re.IGNORECASE)
            if m:
                return m.group(0)
        elif norm(p) and norm(p) in flat:
            return p
    return None


def numbers(text: str) -> list[tuple[float, bool]]:
    """Numbers in ``text`` as (value, written with %)."""
    out = []
    for m in _NUM.finditer(unicodedata.normalize("NFKC", text or "")):
        s = m.group(0).replace(" ", "")
        pct = s.endswith("%")
        try:
            out.append((float(s.rstrip("%").replace(",", ".")), pct))
        except ValueError:
            continue
    return out


def find_figure(value, text: str, tolerance: float, share: bool = False) -> str | None:
    """Where ``value`` (a number, or a label) is stated in ``text``; None when it is not."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if norm(value) in norm(text) else None
    for n, pct in numbers(text):
        candidates = [n / 100] if pct else ([n, n / 100] if share else [n])
        for c in candidates:
            if abs(c - float(value)) <= tolerance + 1e-9:
                return f"{n:g}{'%' if pct else ''}"
    return None
