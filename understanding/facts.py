"""Facts in what the agent states: private data in full, and figures checked against what the case knows.

``private_data(text)`` finds private data stated in full (a mainland mobile number, an 18-digit ID number, a
card or bank number, an email address, a street address); masked forms (139****7007, 尾号8812, ending 0107)
are not disclosures. ``figures(text)`` pulls the figures a statement rests on: order numbers, amounts, dates,
durations. ``contradictions(stated, known)`` says which stated figures disagree with every known figure of the
same kind, so a confident wrong answer ("24 小时到账" where the policy says 3-7 working days) is caught.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_ID = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){15,18}\d(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ZH_ADDRESS = re.compile(
    r"[\u4e00-\u9fff]{2,}(?:路|街|道|巷|弄)\s*\d+\s*号(?:\s*\d+\s*(?:栋|幢|号楼))?(?:\s*\d+\s*(?:室|单元))?"
)
_EN_ADDRESS = re.compile(
    r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Way|Boulevard|Blvd)\b",
)


@dataclass(frozen=True)
class Private:
    kind: str  # phone | id_number | card | email | address
    value: str


def private_data(text: str) -> list[Private]:
    """Private data stated in full in ``text`` (see the module docstring)."""
    if not text:
        return []
    out: list[Private] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, m: re.Match) -> None:
        if any(s < m.end() and m.start() < e for s, e in taken):
            return
        taken.append((m.start(), m.end()))
        out.append(Private(kind, m.group(0)))

    for m in _ID.finditer(text):
        add("id_number", m)
    for m in _PHONE.finditer(text):
        add("phone", m)
    for m in _CARD.finditer(text):
        if len(re.sub(r"\D", "", m.group(0))) >= 16:
            add("card", m)
    for m in _EMAIL.finditer(text):
        add("email", m)
    for rx in (_ZH_ADDRESS, _EN_ADDRESS):
        for m in rx.finditer(text):
            add("address", m)
    return out


# -- figures --------------------------------------------------------------------------------------------------

_ZH_NUM = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_EN_NUM = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30, "forty-eight": 48, "twenty-four": 24,
}  # fmt: skip
_NUM = (
    r"(\d+(?:\.\d+)?|[一二两三四五六七八九十]+|one|two|three|four|five|six|seven|eight|nine|ten|fourteen|fifteen"
    r"|twenty|thirty|twenty-four|forty-eight)"
)
_DURATION = re.compile(
    r"(?<![第\d.])" + _NUM + r"(?:\s*(?:-|~|到|至|to)\s*" + _NUM + r")?\s*(?:个)?\s*"
    # 月 and 日 alone are dates (5月30日), not durations: only 个月 / 天 / 工作日 count.
    r"(工作日|working days?|business days?|天|days?|小时|hours?|h\b|周|weeks?|个月|months?|分钟|minutes?)",
    re.IGNORECASE,
)
_AMOUNT = re.compile(r"(?:[¥￥$]\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*(?:元|块|yuan|dollars?|rmb))", re.IGNORECASE)
_ORDER = re.compile(r"\b[A-Z]{2}\d{8,}\b")
_UNIT = {
    "工作日": "wd", "working day": "wd", "working days": "wd", "business day": "wd", "business days": "wd",
    "天": "d", "day": "d", "days": "d", "小时": "h", "hour": "h", "hours": "h", "h": "h",
    "周": "w", "week": "w", "weeks": "w", "个月": "mo", "month": "mo", "months": "mo",
    "分钟": "min", "minute": "min", "minutes": "min",
}  # fmt: skip


def _num(s: str | None) -> float | None:
    if not s:
        return None
    s = s.lower()
    if s in _EN_NUM:
        return float(_EN_NUM[s])
    if all(ch in _ZH_NUM for ch in s):
        if s == "十":
            return 10.0
        if s.startswith("十"):
            return 10.0 + _ZH_NUM.get(s[1:], 0)
        if "十" in s:
            a, _, b = s.partition("十")
            return _ZH_NUM[a] * 10.0 + (_ZH_NUM[b] if b else 0)
        return float(_ZH_NUM[s]) if len(s) == 1 else None
    try:
        return float(s)
    except ValueError:
        return None


@dataclass(frozen=True)
class Figure:
    kind: str  # duration | amount | order
    value: tuple  # duration: (low, high, unit); amount: (amount,); order: (number,)
    text: str


def figures(text: str) -> list[Figure]:
    """The figures a statement rests on (see the module docstring)."""
    out: list[Figure] = []
    for m in _DURATION.finditer(text or ""):
        lo, hi = _num(m.group(1)), _num(m.group(2))
        unit = _UNIT.get(m.group(3).lower())
        if lo is not None and unit:
            out.append(Figure("duration", (lo, hi if hi is not None else lo, unit), m.group(0)))
    for m in _AMOUNT.finditer(text or ""):
        v = _num(m.group(1) or m.group(2))
        if v is not None:
            out.append(Figure("amount", (v,), m.group(0)))
    for m in _ORDER.finditer((text or "").upper()):
        out.append(Figure("order", (m.group(0),), m.group(0)))
    return out


def _agrees(a: Figure, b: Figure) -> bool:
    if a.kind != b.kind:
        return False
    if a.kind == "duration":
        (alo, ahi, au), (blo, bhi, bu) = a.value, b.value
        if au != bu and {au, bu} != {"wd", "d"}:
            return False
        # The stated range must lie within the known one: "5 working days" agrees with 3-7, "1-3" does not
        # (touching at one end is still a promise the case cannot keep).
        return blo <= alo and ahi <= bhi
    if a.kind == "amount":
        return abs(a.value[0] - b.value[0]) < 0.01
    return a.value == b.value


def contradictions(stated: list[Figure], known: list[Figure]) -> list[tuple[Figure, list[Figure]]]:
    """Stated figures that agree with no known figure of their kind, when the case knows figures of that kind
    (and, for durations, of a comparable unit): each with the known figures it disagrees with."""
    out: list[tuple[Figure, list[Figure]]] = []
    for f in stated:
        same = [k for k in known if k.kind == f.kind]
        if f.kind == "duration":
            same = [k for k in same if k.value[2] == f.value[2] or {k.value[2], f.value[2]} == {"wd", "d"}]
        if f.kind == "amount":
            continue  # amounts: an agent may quote a price, a coupon, a fee: too many legitimate figures
        if same and not any(_agrees(f, k) for k in same):
            out.append((f, same))
    return out


def known_figures(scenario, reference: str = "") -> list[Figure]:
    """The figures an answer can be checked against: the scenario's answer keywords, its customer's facts and the
    KB article the case rests on (``reference``)."""
    texts = [p for group in (scenario.answer.keywords if scenario.answer else []) for p in group]
    texts += [f.value for f in scenario.customer.facts.values()]
    return [f for t in [*texts, reference or ""] for f in figures(t)]
