"""The parts of the national standard that scoring needs, kept here as data so the app never reads ../shared.

Source: National Occupational Skill Standard "Call Centre Service Staff" (呼叫中心服务员), 2021 edition, as
structured in ../shared/standard/skills-2021.yaml: ``weights.skills`` (§4.2, the skill-test weight table, in
percent) and ``levels.<L>[].function`` (the function number -> key of each level). The skill codes (the
``levels.<L>[].contents[].skills`` keys) are in scenarios/skills.py, with the content schema that checks them, and
re-exported here. Copied by hand; re-copy when the standard file changes.
"""

from __future__ import annotations

import re

from scenarios.skills import SKILL_CODES  # the codes live with the content schema, which checks them

LEVELS = ("L5", "L4", "L3")
PASS_MARK = 60.0

# §4.2 skill-test weights (percent) per function key and level.
SKILL_WEIGHTS: dict[str, dict[str, int]] = {
    "service_response": {"L5": 35, "L4": 20, "L3": 5},
    "business_handling": {"L5": 35, "L4": 40, "L3": 35},
    "information_records": {"L5": 30, "L4": 20, "L3": 15},
    "data_analysis": {"L5": 0, "L4": 0, "L3": 15},
    "operations": {"L5": 0, "L4": 20, "L3": 30},
}
FUNCTION_KEYS = tuple(SKILL_WEIGHTS)

# Function number -> key, per level: the numbering differs (L3 function 4 is data analysis, L4's is operations).
FUNCTIONS: dict[str, dict[int, str]] = {
    "L5": {1: "service_response", 2: "business_handling", 3: "information_records"},
    "L4": {1: "service_response", 2: "business_handling", 3: "information_records", 4: "operations"},
    "L3": {
        1: "service_response",
        2: "business_handling",
        3: "information_records",
        4: "data_analysis",
        5: "operations",
    },
}

_CODE = re.compile(r"^(L[345])/(\d)\.\d\.\d$")


def function_of(skill_code: str) -> str:
    """The function key a skill code rolls up into: the first digit after the code's own level, read in that
    level's table (L4/2.3.1 -> function 2 of L4 -> business_handling). ValueError for an unknown code."""
    m = _CODE.match(skill_code or "")
    if not m or skill_code not in SKILL_CODES:
        raise ValueError(f"unknown skill code {skill_code!r}")
    return FUNCTIONS[m.group(1)][int(m.group(2))]


def weights_for(level: str) -> dict[str, int]:
    """Function key -> §4.2 skill weight (percent) for a level."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    return {key: row[level] for key, row in SKILL_WEIGHTS.items()}
