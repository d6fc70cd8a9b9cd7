"""Skill exams with work items: an exam assembled from contacts on every channel an exam can serve (chat,
email, voice, video, group room, livestream: tasks/exam_channels.py) and tasks, so that every function the §4.2
table weighs for the level has a part, and the result's per-function shares follow the table.

The contacts are scheduled by grading (``do_schedule_skill_exam``) and served one after another; the work items
are assigned with the exam's id and open only while the exam runs. Grading's result reads them through the part
provider registered in ``tasks.init_app`` (``rows_for_exam``), and the exam does not finish "completed" while one
is open."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import LEVEL_RANK, User
from extensions import db
from grading.exams import do_schedule_skill_exam, exam_channels
from grading.standard import FUNCTION_KEYS, function_of, weights_for
from scenarios import registry
from scenarios.group import group_scenarios

from .models import TaskSpecRecord, WorkItem
from .schema import TaskSpec

CHAT_MINUTES = 10  # a one-to-one contact's share of the exam time
# A group room runs longer (its audience arrives over a few minutes); so does a livestream (going live, then
# enough of the audience's questions to grade answering them)
PART_MINUTES = {"group": 15, "livestream": 15}


def _scenario_functions(sc) -> set[str]:
    out = set()
    for code in sc.skills:
        try:
            out.add(function_of(code))
        except ValueError:
            continue
    return out


def _task_functions(spec: TaskSpec) -> dict[str, float]:
    """Function -> points of the spec's items in it."""
    out: dict[str, float] = {}
    for item in spec.items:
        f = function_of(item.skills[0])
        out[f] = out.get(f, 0.0) + item.points
    return out


def _contact_candidates(level: str, lang: str) -> dict[str, list]:
    """Channel -> the scenarios in ``lang`` at or below ``level`` an exam can serve, highest level first."""
    from .exam_channels import find_group
    from .exam_live import list_live_parts

    rank = LEVEL_RANK[level]
    out = {}
    for channel in exam_channels():
        if channel == "group":
            found = [find_group(sid)[0] for sid in group_scenarios(lang)]
        elif channel == "livestream":  # a session brief, not a scenario
            found = list_live_parts(lang)
        else:
            found = registry.list_scenarios(lang=lang, channel=channel)
        fit = [sc for sc in found if LEVEL_RANK.get(sc.level, 9) <= rank]
        out[channel] = sorted(fit, key=lambda sc: (-LEVEL_RANK[sc.level], sc.id))
    return out


def plan_skill_exam(level: str, lang: str) -> dict:
    """Choose the parts of a skill exam for ``level`` in ``lang``: for each function weighted > 0 (in §4.2
    order), a contact scenario that exercises it (chat first, then the other channels) when one exists at or
    below the level, else the task spec at the level (or below) with the most points in it; then one contact of
    every channel an exam serves that has none yet. Returns ``{"scenarios", "tasks", "channels": {channel:
    [ids]}, "not_served": {channel: why}, "functions": {f: {"weight", "parts"}}, "minutes"}``; ValueError when a
    weighted function has no part at all."""
    from .exam_channels import NOT_SERVED

    weights = weights_for(level)
    rank = LEVEL_RANK[level]
    candidates = _contact_candidates(level, lang)
    specs = [
        TaskSpec.model_validate(r.data)
        for r in db.session.scalars(
            select(TaskSpecRecord).where(TaskSpecRecord.lang == lang).order_by(TaskSpecRecord.id)
        )
        if LEVEL_RANK.get(r.level, 9) <= rank
    ]
    taken: dict[str, list] = {ch: [] for ch in candidates}
    tasks: list[str] = []
    covered: dict[str, list[str]] = {f: [] for f in FUNCTION_KEYS}

    def take_scenario(channel, sc):
        taken[channel].append(sc)
        for f in _scenario_functions(sc):
            covered[f].append(f"{channel}:{sc.id}")

    def take_task(spec):
        tasks.append(spec.id)
        for f in _task_functions(spec):
            covered[f].append(f"task:{spec.id}")

    for f in FUNCTION_KEYS:
        if weights[f] == 0 or covered[f]:
            continue
        hit = next(
            ((ch, sc) for ch, scs in candidates.items() for sc in scs if f in _scenario_functions(sc)
             and sc not in taken[ch]),
            None,
        )  # fmt: skip
        if hit is not None:
            take_scenario(*hit)
            continue
        best = sorted(
            (s for s in specs if s.id not in tasks and _task_functions(s).get(f)),
            key=lambda s: (s.level != level, -_task_functions(s)[f], s.id),
        )
        if not best:
            raise ValueError(f"no scenario or task in {lang} exercises {f} at {level}")
        take_task(best[0])
    not_served = dict(NOT_SERVED)
    for channel, scs in candidates.items():  # every channel an exam serves has a contact
        if not scs:
            not_served[channel] = f"no {channel} scenario in {lang} at or below {level}"
        elif not taken[channel]:
            take_scenario(channel, scs[0])
    if not any(taken.values()):  # grading schedules the exam around at least one served contact
        raise ValueError(f"no scenario in {lang} at or below {level}")
    channels = {ch: [sc.id for sc in scs] for ch, scs in taken.items() if scs}
    scenarios = [sid for ids in channels.values() for sid in ids]
    spec_minutes = {s.id: s.minutes for s in specs}
    minutes = sum(PART_MINUTES.get(ch, CHAT_MINUTES) * len(ids) for ch, ids in channels.items())
    minutes += sum(spec_minutes[t] for t in tasks)
    functions = {f: {"weight": weights[f], "parts": covered[f]} for f in FUNCTION_KEYS if weights[f] > 0}
    return {
        "scenarios": scenarios,
        "tasks": tasks,
        "channels": channels,
        "not_served": not_served,
        "functions": functions,
        "minutes": max(30, min(240, minutes)),
    }


def do_schedule_skill_exam_with_tasks(lead: User, candidate: User, lang: str | None = None,
                                      duration_minutes: int | None = None) -> tuple:  # fmt: skip
    """Schedule the candidate's skill exam by the weights: the contacts of every channel through grading, the
    work items assigned with the exam's id (seeded from it). Returns (exam, plan, work items)."""
    from .actions import do_assign_work_item

    lang = lang or candidate.locale or "zh_CN"
    plan = plan_skill_exam(candidate.level, lang)
    exam = do_schedule_skill_exam(lead, candidate, plan["scenarios"], duration_minutes or plan["minutes"], 1, lang)
    items = [
        do_assign_work_item(lead, sid, candidate, seed=exam.id * 7919 + i, exam_id=exam.id)
        for i, sid in enumerate(plan["tasks"], start=1)
    ]
    return exam, plan, items


def exam_items(exam) -> list[WorkItem]:
    return list(db.session.scalars(select(WorkItem).where(WorkItem.exam_id == exam.id).order_by(WorkItem.id)))


def _zero_card(item: WorkItem) -> dict:
    """An exam's work item never submitted: 0 in the functions its items score (not in every function)."""
    functions = {
        f: {"applicable": f in fs, "score": 0.0}
        for f in FUNCTION_KEYS
        for fs in [_task_functions(TaskSpec.model_validate(item.spec))]
    }
    return {"functions": functions, "passed": False, "gated": False, "complete": True, "total": 0.0}


def rows_for_exam(exam) -> list[dict]:
    """Grading's result rows for the exam's work items (the part provider)."""
    rows = []
    for item in exam_items(exam):
        card = item.scorecard if item.status in ("submitted", "graded") and item.scorecard else _zero_card(item)
        rows.append({"family": f"task:{item.spec_id}", "attempt": 1, "scenario_id": item.spec_id, "card": card})
    return rows


def open_for_exam(exam) -> bool:
    return any(i.status in ("assigned", "in_progress") for i in exam_items(exam))
