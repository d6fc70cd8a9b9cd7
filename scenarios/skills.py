"""The skill codes of the national standard (2021, ../shared/standard/skills-2021.yaml: the
``levels.<L>[].contents[].skills`` keys), as data: what content (scenarios, rubric items) is tagged with. They live
with the pack schema, which validates them; grading.standard holds what scoring adds (weights, functions, the pass
mark) and imports these. Copied by hand; re-copy when the standard file changes.
"""

from __future__ import annotations

SKILLS_BY_LEVEL = {
    "L5": "1.1.1 1.1.2 1.1.3 1.1.4 1.2.1 1.2.2 1.3.1 1.3.2 2.1.1 2.1.2 2.1.3 2.1.4 2.1.5 2.1.6 2.1.7 2.1.8 "
    "2.2.1 2.2.2 2.2.3 3.1.1 3.1.2 3.1.3 3.2.1 3.2.2",
    "L4": "1.1.1 1.1.2 1.2.1 1.2.2 1.3.1 1.3.2 2.1.1 2.1.2 2.2.1 2.2.2 2.3.1 2.3.2 2.4.1 2.4.2 2.5.1 2.5.2 "
    "3.1.1 3.1.2 3.2.1 4.1.1 4.1.2 4.2.1 4.2.2",
    "L3": "1.1.1 1.1.2 1.2.1 1.2.2 2.1.1 2.1.2 2.1.3 2.2.1 2.2.2 2.3.1 2.3.2 2.3.3 2.4.1 2.4.2 3.1.1 3.1.2 "
    "3.2.1 3.2.2 4.1.1 4.1.2 4.1.3 4.2.1 4.2.2 4.2.3 5.1.1 5.1.2 5.1.3 5.1.4 5.2.1 5.2.2 5.2.3",
}
SKILL_CODES: frozenset[str] = frozenset(f"{lvl}/{n}" for lvl, codes in SKILLS_BY_LEVEL.items() for n in codes.split())
