"""The §4.1 theory-knowledge weights of the standard, per level, as data.

Copied from ../shared/standard/skills-2021.yaml (``weights.theory``), which reads section 4.1 of the National
Occupational Skill Standard for Call Centre Service Staff (2021, 4-04-05-03). The app does not read ../shared at
run time, so the table lives here. Percent of the theory exam per knowledge area; each level sums to 100.
"""

from __future__ import annotations

LEVELS = ("L5", "L4", "L3")

# Order matters: it is the order of areas on exam papers and the tie-break of largest-remainder rounding.
THEORY_WEIGHTS: dict[str, dict[str, int]] = {
    "professional_ethics": {"L5": 5, "L4": 5, "L3": 5},
    "basic_knowledge": {"L5": 15, "L4": 10, "L3": 10},
    "service_response": {"L5": 30, "L4": 15, "L3": 5},
    "business_handling": {"L5": 30, "L4": 30, "L3": 30},
    "information_records": {"L5": 20, "L4": 20, "L3": 15},
    "data_analysis": {"L5": 0, "L4": 0, "L3": 15},
    "operations": {"L5": 0, "L4": 20, "L3": 20},
}
AREAS: tuple[str, ...] = tuple(THEORY_WEIGHTS)

AREA_NAMES: dict[str, dict[str, str]] = {
    "professional_ethics": {"zh_CN": "职业道德", "en": "Professional ethics"},
    "basic_knowledge": {"zh_CN": "基础知识", "en": "Basic knowledge"},
    "service_response": {"zh_CN": "服务应答处理", "en": "Service response handling"},
    "business_handling": {"zh_CN": "业务受理及处理", "en": "Business handling"},
    "information_records": {"zh_CN": "信息记录与处理", "en": "Information records and processing"},
    "data_analysis": {"zh_CN": "数据筛选与数据分析", "en": "Data screening and analysis"},
    "operations": {"zh_CN": "业务运营", "en": "Business operations"},
}

# §1.9: the theory exam lasts at least 60 minutes, is marked out of 100 and 60 or more passes.
EXAM_MINUTES_MIN = 60
PASS_MARK = 60


def area_name(area: str, lang: str) -> str:
    """The area's name in ``lang`` ('zh_CN' or 'en'); the key itself for an unknown area."""
    names = AREA_NAMES.get(area)
    if not names:
        return area
    return names.get(lang) or names["en"]


def weights_for(level: str) -> dict[str, int]:
    """{area: percent} for a level, in table order. Raises ValueError for an unknown level."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
    return {area: row[level] for area, row in THEORY_WEIGHTS.items()}
