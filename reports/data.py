"""The figures of each report, as plain data: per trainee, per group, per grader.

A report is ``{"kind", "title", "summary": [(label, value)], "sections": [{"key", "title", "columns", "rows"}],
"charts": {...}}``; the page, the XLSX and the PDF are all drawn from that one dict, so they hold the same
numbers. Scores come from the current scorecards (one per contact and rubric). Contacts of a skill exam whose
result is not released are left out of what the candidate sees.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Group, User
from contacts.models import Contact
from extensions import db
from grading.models import Scorecard, SkillExam, SkillExamAttempt
from i18n import current_lang
from scenarios.registry import get_rubric, get_scenario

WEAKEST_N = 5
REVIEW_N = 5


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts or 0, UTC).strftime("%Y-%m-%d %H:%M") if ts else ""


def _withheld_contacts(user_id: int) -> set[int]:
    rows = db.session.scalars(
        select(SkillExamAttempt.contact_id)
        .join(SkillExam, SkillExam.id == SkillExamAttempt.exam_id)
        .where(SkillExam.candidate_id == user_id, SkillExam.released_at.is_(None))
    )
    return {cid for cid in rows if cid is not None}


def cards_of(agent_ids: list[int], withheld: set[int] = frozenset()) -> list[tuple[Contact, Scorecard]]:
    """(contact, current scorecard) of the agents' contacts, oldest first (by when the contact ended)."""
    if not agent_ids:
        return []
    rows = db.session.execute(
        select(Contact, Scorecard)
        .join(Scorecard, Scorecard.contact_id == Contact.id)
        .where(Contact.agent_id.in_(agent_ids), Scorecard.current.is_(True))
        .order_by(Contact.ended_at, Contact.id, Scorecard.id)
    ).all()
    return [(c, s) for c, s in rows if c.id not in withheld]


def _pass_rate(cards) -> float:
    return round(sum(1 for _c, s in cards if s.passed) / len(cards), 4) if cards else 0.0


def _mean(xs) -> float:
    xs = list(xs)
    return round(sum(xs) / len(xs), 2) if xs else 0.0


def skill_pass_rates(cards) -> list[dict]:
    """Per skill code: items scored (pass or fail) and the share passed, lowest pass rate first."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _c, s in cards:
        for item in (s.data or {}).get("items", []):
            if item.get("status") not in ("pass", "fail"):
                continue
            for code in item.get("skills", []):
                tally[code][0] += item["status"] == "pass"
                tally[code][1] += 1
    rows = [{"skill": k, "passed": p, "scored": n, "rate": round(p / n, 4)} for k, (p, n) in tally.items()]
    return sorted(rows, key=lambda r: (r["rate"], -r["scored"], r["skill"]))


def item_difficulty(cards) -> list[dict]:
    """Per rubric item: how many times it was scored (pass/fail) and the share passing, hardest first."""
    tally: dict[tuple[str, str], list] = {}
    for _c, s in cards:
        for item in (s.data or {}).get("items", []):
            if item.get("status") not in ("pass", "fail"):
                continue
            row = tally.setdefault((s.rubric_id, item["id"]), [item.get("title", ""), 0, 0])
            row[1] += item["status"] == "pass"
            row[2] += 1
    rows = [
        {"rubric": r, "item": i, "title": _item_title(r, i, t), "passed": p, "scored": n, "share": round(p / n, 4)}
        for (r, i), (t, p, n) in tally.items()
    ]
    return sorted(rows, key=lambda r: (r["share"], r["rubric"], r["item"]))


def _item_title(rubric_id: str, item_id: str, recorded: str) -> str:
    """An item's title in the reader's language: a class may mix zh and en contacts, whose rubrics are the same
    rubric in two languages (zh-chat-standard / en-chat-standard) with the same item ids."""
    prefix = "en-" if current_lang() == "en" else "zh-"
    if rubric_id.startswith(("zh-", "en-")) and not rubric_id.startswith(prefix):
        twin = get_rubric(prefix + rubric_id[3:])
        for item in twin.items if twin is not None else []:
            if item.id == item_id:
                return item.title
    return recorded


def distribution(totals: list[float]) -> list[int]:
    """Counts of totals in ten bins: [0,10), [10,20), ... [90,100] (100 falls in the last)."""
    bins = [0] * 10
    for t in totals:
        bins[min(int(max(t, 0) // 10), 9)] += 1
    return bins


def _verdict(passed: bool, complete: bool = True, gated: bool = False) -> str:
    """Passed / provisional / failed in the reader's language (pages, XLSX and PDF alike), never True/False.
    A scorecard with manual items pending is provisional (counted as not passed in every rate) unless a gate
    already failed it."""
    if passed:
        return _("Passed")
    return _("Provisional") if not complete and not gated else _("Failed")


def _scenario_title(scenario_id: str | None) -> str:
    """The scenario's title (its id is a code); empty for a contact without a scenario."""
    sc = get_scenario(scenario_id) if scenario_id else None
    return sc.title if sc is not None else ""


def trainee_report(user: User, viewer: User) -> dict:
    """Scores over time, weakest skill codes, and the lowest-scoring recordings to review."""
    withheld = _withheld_contacts(user.id) if viewer.id == user.id else set()
    cards = cards_of([user.id], withheld)
    over_time = [
        [
            _when(c.ended_at or c.created_at),
            c.id,
            _scenario_title(c.scenario_id),
            s.total,
            _verdict(s.passed, s.complete, s.gated),
        ]
        for c, s in cards
    ]
    weakest = skill_pass_rates(cards)[:WEAKEST_N]
    review = sorted(cards, key=lambda cs: (cs[1].total, cs[0].id))[:REVIEW_N]
    return {
        "kind": "trainee",
        "title": _("Trainee report: %(name)s", name=user.display_name),
        "summary": [
            (_("Graded contacts"), len(cards)),
            (_("Mean score"), _mean(s.total for _c, s in cards)),
            (_("Pass rate"), _pass_rate(cards)),
        ],
        "sections": [
            {
                "key": "over_time",
                "title": _("Scores over time"),
                "columns": [_("Ended"), _("Contact"), _("Scenario"), _("Total"), _("Result")],
                "rows": over_time,
            },
            {
                "key": "weakest",
                "title": _("Weakest skill codes"),
                "columns": [_("Skill code"), _("Passed"), _("Scored"), _("Pass rate")],
                "rows": [[r["skill"], r["passed"], r["scored"], r["rate"]] for r in weakest],
            },
            {
                "key": "review",
                "title": _("Recordings to review"),
                "columns": [_("Contact"), _("Scenario"), _("Total"), _("Scorecard")],
                "rows": [
                    [c.id, _scenario_title(c.scenario_id), s.total, f"/contacts/{c.id}/scorecard"] for c, s in review
                ],
            },
        ],  # fmt: skip
        "charts": {"line": [(c.id, s.total) for c, s in cards], "bars": [(r["skill"], r["rate"]) for r in weakest]},
    }


def group_report(group: Group) -> dict:
    """Score distribution, pass rate, item difficulty and a row per trainee."""
    trainees = [u for u in group.members if u.role == "trainee"]
    cards = cards_of([u.id for u in trainees])
    by_agent = defaultdict(list)
    for c, s in cards:
        by_agent[c.agent_id].append((c, s))
    bins = distribution([s.total for _c, s in cards])
    difficulty = item_difficulty(cards)
    return {
        "kind": "group",
        "title": _("Group report: %(name)s", name=group.name),
        "summary": [
            (_("Trainees"), len(trainees)),
            (_("Graded contacts"), len(cards)),
            (_("Mean score"), _mean(s.total for _c, s in cards)),
            (_("Pass rate"), _pass_rate(cards)),
        ],
        "sections": [
            {
                "key": "distribution",
                "title": _("Score distribution"),
                "columns": [_("Scores"), _("Contacts")],
                "rows": [[f"{10 * i}-{10 * i + 9 if i < 9 else 100}", n] for i, n in enumerate(bins)],
            },
            {
                "key": "trainees",
                "title": _("Trainees"),
                "columns": [_("Trainee"), _("Graded contacts"), _("Mean score"), _("Pass rate")],
                "rows": [
                    [
                        u.display_name,
                        len(by_agent[u.id]),
                        _mean(s.total for _c, s in by_agent[u.id]),
                        _pass_rate(by_agent[u.id]),
                    ]
                    for u in trainees
                ],
            },
            {
                "key": "difficulty",
                "title": _("Item difficulty (share passing)"),
                "columns": [_("Rubric"), _("Item"), _("Title"), _("Passed"), _("Scored"), _("Share passing")],
                "rows": [
                    [r["rubric"], r["item"], r["title"], r["passed"], r["scored"], r["share"]] for r in difficulty
                ],
            },
        ],  # fmt: skip
        "charts": {"hist": bins, "bars": [(r["title"] or r["item"], r["share"]) for r in difficulty[:10]]},
    }
