"""Which skill items of the standard the content exercises, per level and language (`flask content coverage`).

An item is covered when something that is graded exercises it: a scenario whose rubric (the one a trainee
of that level would be graded by) has an item scoring the skill; a group scenario likewise
with the group rubric; a livestream session (no per-session content) through the livestream rubric's items;
or a task spec of a registered kind with a rubric item scoring it. Read from the pack files, not the database.
"""

from __future__ import annotations

from pathlib import Path

from grading.rubric import choose_rubric
from scenarios.group import read_group_folder
from scenarios.loader import PackError, find_packs, load_pack
from scenarios.skills import SKILLS_BY_LEVEL

LEVELS = ("L4", "L3")


def level_codes(level: str) -> list[str]:
    return [f"{level}/{n}" for n in SKILLS_BY_LEVEL[level].split()]


def pack_coverage(folder: Path) -> tuple[str, dict[str, dict]]:
    """(lang, {skill code: {"scenarios": [...], "tasks": [...], "rubric_items": [...]}}) for one pack."""
    from .content import read_specs

    pack = load_pack(folder)
    lang = pack.lang
    found: dict[str, dict] = {}

    def add(code, kind, who, item):
        row = found.setdefault(code, {"scenarios": [], "tasks": [], "rubric_items": []})
        if who not in row[kind]:
            row[kind].append(who)
        if item not in row["rubric_items"]:
            row["rubric_items"].append(item)

    def via_rubric(sc_id, channel, skills, kind):
        # What grades a contact of this scenario for a trainee of each level: every skill its rubric's items
        # score is exercised (a skill the scenario only claims, with no item scoring it, is not).
        for level in LEVELS:
            rubric = choose_rubric(pack.rubrics, lang=lang, channel=channel, level=level, scenario_id=sc_id)
            for it in rubric.items if rubric else []:
                for code in it.skills:
                    if code.startswith(level + "/"):
                        add(code, kind, sc_id, f"{rubric.id}/{it.id}")

    for sc in pack.scenarios:
        via_rubric(sc.id, sc.channel, sc.skills, "scenarios")
    groups, _errors = read_group_folder(Path(folder) / "group")
    for g in groups:
        via_rubric(g.id, "group", g.skills, "scenarios")
    for rubric in pack.rubrics:
        if rubric.channel == "livestream":  # a live session is the lead's own: the rubric is what exercises it
            for it in rubric.items:
                for code in it.skills:
                    add(code, "scenarios", "livestream-session", f"{rubric.id}/{it.id}")
    specs, errors = read_specs(folder, lang)
    if errors:
        raise PackError(errors)
    for spec in specs:
        for it in spec.items:
            for code in it.skills:
                add(code, "tasks", spec.id, f"{spec.id}/{it.id}")
    return lang, found


def coverage(root: str | Path) -> dict:
    """``{level: {lang: {"covered": [{"skill", "scenarios", "tasks", "rubric_items"}], "uncovered": [code]}}}``
    for L4 and L3."""
    per_lang = dict(pack_coverage(f) for f in find_packs(root))
    out: dict = {}
    for level in LEVELS:
        out[level] = {}
        for lang, found in sorted(per_lang.items()):
            covered, uncovered = [], []
            for code in level_codes(level):
                if code in found:
                    covered.append({"skill": code, **found[code]})
                else:
                    uncovered.append(code)
            out[level][lang] = {"covered": covered, "uncovered": uncovered}
    return out
