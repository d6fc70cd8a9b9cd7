"""Skill exams (§1.9): schedule, start, serve the fixed scenario set to the candidate only, finish at time-up,
and have the result computed (grading/exam_results.py).

Serving: the exam's contacts belong to an Exercise of kind "exam", so the AutoGrader leaves them alone and
``do_grade_contact`` publishes no ``scorecard.graded`` to the candidate's desk. ``tick_skill_exams`` (on the
app's periodic ticker) serves the next scenario once the previous contact is wrapped up or abandoned, and ends
the exam when the set is done or time is up. Grading happens at finish; nothing reaches the candidate before
the lead releases the result.

Panels: graders' manual scores are merged into the contacts' scorecards (``grading.actions.set_manual_scores``).
``refresh_skill_exam_result(exam)`` recomputes the result from the current scorecards; call it after a
panel merges its scores (it marks the exam graded once every scorecard is complete).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from accounts.models import LEVEL_RANK, User
from channels.chat.customer_side import customer_leave
from clock import clock
from contacts.models import Contact
from extensions import db
from scenarios import registry
from simulator.errors import SimulatorError
from simulator.models import Exercise

from .exam_results import attempts_of, exam_result, other_parts_open
from .models import SkillExam, SkillExamAttempt

log = logging.getLogger(__name__)

MIN_MINUTES = 30  # §1.9: a skill test lasts at least 30 minutes
MAX_MINUTES = 240
MAX_K = 5
DONE = ("wrapped_up", "abandoned", "time_up", "not_served")


class ExamError(Exception):
    """A skill-exam request refused; ``status`` is the HTTP status a route answers with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


# -- channels -----------------------------------------------------------------------------------------------

ENGINE_CHANNELS = ("chat", "email")  # the simulator engine's own customers (start_customer)


def add_exam_channel(app, channel: str, *, start, end=None, find=None) -> None:
    """Let another package serve one more channel's simulated customers in skill exams.

    ``start(exam, attempt, scenario)`` opens the contact reserved for the candidate, on the exam's exercise, and
    returns its id (SimulatorError when it cannot); ``end(contact, reason)`` ends an open one at time-up
    (default: the customer leaves); ``find(scenario_id)`` gives ``(scenario, lang)`` for ids the scenario registry
    does not hold (group rooms), or None."""
    app.extensions.setdefault("kefu_exam_channels", {})[channel] = {"start": start, "end": end, "find": find}


ROLEPLAY_CHANNELS = ("chat", "voice", "video")  # parts a person may play the customer of


def add_exam_roleplay(app, *, start, contact_of) -> None:
    """Let a package serve role-played parts: ``start(exam, attempt, scenario)`` opens the role-play for the
    candidate (the contact comes when the role-player arrives); ``contact_of(attempt)`` is its contact id or None."""
    app.extensions["kefu_exam_roleplay"] = {"start": start, "contact_of": contact_of}


def _roleplay_contact(attempt: SkillExamAttempt) -> int | None:
    """Bind a role-played part to its contact once the role-player has started it."""
    if attempt.contact_id is None and attempt.mode == "roleplay" and _channels(True):
        attempt.contact_id = _channels(True)["contact_of"](attempt)
    return attempt.contact_id


def _channels(roleplay: bool = False) -> dict:
    from flask import current_app, has_app_context

    key = "kefu_exam_roleplay" if roleplay else "kefu_exam_channels"
    return current_app.extensions.get(key, {}) if has_app_context() else {}


def exam_channels() -> tuple[str, ...]:
    """The channels a skill exam can serve."""
    return ENGINE_CHANNELS + tuple(c for c in _channels() if c not in ENGINE_CHANNELS)


def find_exam_scenario(sid: str) -> tuple:
    """(scenario, lang) of an exam part's id from the scenario registry or a channel's ``find``; (None, None)."""
    sc = registry.get_scenario(sid)
    if sc is not None:
        return sc, registry.scenario_lang(sid)
    for ch in _channels().values():
        found = ch["find"](sid) if ch["find"] else None
        if found:
            return found
    return None, None


# -- scheduling ---------------------------------------------------------------------------------------------


def plan_attempts(scenarios: list, k: int) -> list[tuple[str, str, int]]:
    """The serving order: ``[(scenario_id, family, attempt)]``. Scenarios group by family (a scenario without
    one is its own family) in the order the lead listed them. Each family is served max(k, variants chosen)
    times, in rounds: round 1 serves every family's first variant, round 2 the next variant (cycling when a
    family has fewer variants than k), so repeats of one situation are not back to back."""
    families: dict[str, list[str]] = {}
    for sc in scenarios:
        families.setdefault(sc.family or sc.id, []).append(sc.id)
    rounds = max(max(k, len(v)) for v in families.values())
    plan = []
    for r in range(rounds):
        for fam, variants in families.items():
            if r < max(k, len(variants)):
                plan.append((variants[r % len(variants)], fam, r + 1))
    return plan


def do_schedule_skill_exam(lead: User, candidate: User, scenario_ids: list[str], duration_minutes: int, k: int = 1,
                           lang: str | None = None, roleplayed=()) -> SkillExam:  # fmt: skip
    """The candidate's lead (or an admin) schedules a skill exam: an ordered set of scenarios of the channels an
    exam serves (``exam_channels``) at or below the candidate's level, in one language, at least 30 minutes; each
    family is required ``k`` times. The parts of the scenarios in ``roleplayed`` (chat, voice, video) are played
    by a person from a role-play link instead of the simulator."""
    if lead.role not in ("lead", "admin") or not lead.leads_group_of(candidate):
        raise ExamError("only the candidate's lead or an admin may schedule a skill exam", 403)
    if candidate.role != "trainee" or candidate.level not in LEVEL_RANK:
        raise ExamError(f"{candidate.username} is not a trainee with a level")
    try:
        duration_minutes, k = int(duration_minutes), int(k)
    except (TypeError, ValueError) as e:
        raise ExamError("duration and k must be whole numbers") from e
    if not MIN_MINUTES <= duration_minutes <= MAX_MINUTES:
        raise ExamError(f"a skill test lasts {MIN_MINUTES} to {MAX_MINUTES} minutes")
    if not 1 <= k <= MAX_K:
        raise ExamError(f"k must be from 1 to {MAX_K}")
    ids = [str(s) for s in scenario_ids or []]
    if not ids:
        raise ExamError("choose at least one scenario")
    if len(set(ids)) != len(ids):
        raise ExamError("a scenario is listed twice; use k to repeat a family")
    lang = lang or candidate.locale or "zh_CN"
    scenarios = []
    for sid in ids:
        sc, sc_lang = find_exam_scenario(sid)
        if sc is None:
            raise ExamError(f"no scenario {sid!r} is loaded")
        if sc_lang != lang:
            raise ExamError(f"scenario {sid!r} is not in {lang}")
        if sc.channel not in exam_channels():
            served = ", ".join(exam_channels())
            raise ExamError(f"scenario {sid!r} is a {sc.channel} scenario; exams serve simulated {served}")
        if LEVEL_RANK[sc.level] > LEVEL_RANK[candidate.level]:
            raise ExamError(f"scenario {sid!r} is {sc.level}, above the candidate's level {candidate.level}")
        scenarios.append(sc)
    from .exam_parts import check_roleplayed  # beside the change of role-played parts; it imports this module

    roleplayed = check_roleplayed(scenarios, roleplayed)
    exam = SkillExam(
        candidate_id=candidate.id,
        scheduled_by_id=lead.id,
        level=candidate.level,
        lang=lang,
        status="scheduled",
        duration_minutes=duration_minutes,
        k=k,
        scenario_ids=ids,
        result={},
    )
    db.session.add(exam)
    db.session.flush()
    for pos, (sid, fam, attempt) in enumerate(plan_attempts(scenarios, k), start=1):
        mode = "roleplay" if sid in roleplayed else "simulated"
        db.session.add(
            SkillExamAttempt(exam_id=exam.id, position=pos, scenario_id=sid, family=fam, attempt=attempt, mode=mode)
        )
    db.session.commit()
    return exam


def may_manage(user: User, exam: SkillExam) -> bool:
    """Leads of the candidate's group and admins run and release an exam."""
    candidate = db.session.get(User, exam.candidate_id)
    return user.role in ("lead", "admin") and candidate is not None and user.leads_group_of(candidate)


# -- running ------------------------------------------------------------------------------------------------


def _engine():
    from flask import current_app

    return current_app.extensions["kefu_simulator"]


def do_start_skill_exam(actor: User, exam: SkillExam) -> SkillExam:
    """The candidate (or their lead, or an admin) starts a scheduled exam: the clock runs from now and the
    first scenario is served, reserved for the candidate."""
    if actor.id != exam.candidate_id and not may_manage(actor, exam):
        raise ExamError("only the candidate or their lead may start this exam", 403)
    if exam.status != "scheduled":
        raise ExamError(f"this exam is {exam.status}; only a scheduled one can start", 409)
    now = clock.timestamp()
    # Status "running" from the start: a planned exercise could be started by hand as Poisson practice.
    exercise = Exercise(
        name=f"skill exam {exam.id}",  # a fixed form, shown translated by labels.exercise_label
        kind="exam",
        lang=exam.lang,
        group_id=db.session.get(User, exam.candidate_id).group_id,
        created_by=exam.scheduled_by_id,
        duration_seconds=exam.duration_minutes * 60,
        rate_per_minute=0.0,
        mix={sid: 1 for sid in exam.scenario_ids},
        schedule=[],
        status="running",
        started_at=now,
    )
    db.session.add(exercise)
    db.session.flush()
    exam.exercise_id = exercise.id
    exam.status = "running"
    exam.started_at = now
    exam.ends_at = now + exam.duration_minutes * 60
    db.session.commit()
    _serve_next(exam)
    return exam


def _serve_next(exam: SkillExam) -> SkillExamAttempt | None:
    """Start the customer of the next pending attempt; one that cannot start is recorded and skipped."""
    for attempt in attempts_of(exam):
        if attempt.outcome != "pending":
            continue
        sc, _lang = find_exam_scenario(attempt.scenario_id)
        channel = _channels().get(sc.channel) if sc is not None and sc.channel not in ENGINE_CHANNELS else None
        try:
            if attempt.mode == "roleplay":  # the contact comes when the role-player starts (see _roleplay_contact)
                cid = _channels(True)["start"](exam, attempt, sc)
            elif channel is not None:
                cid = channel["start"](exam, attempt, sc)
            else:
                cid = _engine().start_customer(
                    attempt.scenario_id,
                    exercise_id=exam.exercise_id,
                    seed=exam.id * 1009 + attempt.position,
                    reserve_for=exam.candidate_id,
                )
        except SimulatorError as e:
            db.session.rollback()
            attempt.outcome, attempt.note = "not_served", str(e)[:200]
            db.session.commit()
            continue
        attempt.contact_id, attempt.outcome, attempt.served_at = cid, "served", clock.timestamp()
        db.session.commit()
        return attempt
    return None


def _end_open_contact(attempt: SkillExamAttempt, reason: str) -> None:
    """Time is up: the customer leaves (queued -> abandoned, active -> wrap-up), recorded on the contact as a
    ``contact.ended``/``contact.abandoned`` event with ``reason``; the attempt is recorded as time_up."""
    contact = db.session.get(Contact, attempt.contact_id) if _roleplay_contact(attempt) else None
    if contact is not None and contact.is_open:
        end = (_channels().get(contact.channel) or {}).get("end") or customer_leave
        end(contact, reason=reason)
    attempt.outcome, attempt.ended_at = "time_up", clock.timestamp()
    attempt.note = reason


def advance_skill_exam(exam: SkillExam) -> None:
    """Move a running exam on: record a served contact that was wrapped up or abandoned and serve the next;
    finish when the set is done or time is up."""
    if exam.status != "running":
        return
    if clock.timestamp() >= (exam.ends_at or 0):
        do_finish_skill_exam(exam, reason="time_up")
        return
    attempts = attempts_of(exam)
    current = next((a for a in attempts if a.outcome == "served"), None)
    if current is not None:
        if current.contact_id is None:  # a role-played part: bound once the role-player has started it
            if _roleplay_contact(current) is None:
                return
            db.session.commit()
        contact = db.session.get(Contact, current.contact_id)
        db.session.refresh(contact)
        if contact.status not in ("closed", "abandoned"):
            return
        current.outcome = "wrapped_up" if contact.status == "closed" else "abandoned"
        current.ended_at = contact.closed_at or contact.ended_at or clock.timestamp()
        db.session.commit()
    if _serve_next(exam) is None and not other_parts_open(exam):  # work items may still be open
        do_finish_skill_exam(exam, reason="completed")


def tick_skill_exams() -> None:
    """Periodic callback: advance every running exam (serving, time-up)."""
    for exam in db.session.scalars(select(SkillExam).where(SkillExam.status == "running")).all():
        try:
            advance_skill_exam(exam)
        except Exception:
            db.session.rollback()
            log.exception("skill exam %s could not advance", exam.id)


def do_finish_skill_exam(exam: SkillExam, reason: str = "ended", actor: User | None = None) -> SkillExam:
    """End a running exam (time up, set done, or the lead ends it): open contacts are ended with reason
    ``exam_<reason>``, unserved attempts recorded as not_served, handled contacts graded (no feedback: the
    exercise is an exam), and the result computed."""
    from .actions import GRADABLE_STATUSES, GradingError, do_grade_contact

    if actor is not None and not may_manage(actor, exam):
        raise ExamError("only the candidate's lead or an admin may end this exam", 403)
    if exam.status != "running":
        raise ExamError(f"this exam is {exam.status}; only a running one can end", 409)
    now = clock.timestamp()
    for attempt in attempts_of(exam):
        if attempt.outcome == "served":
            contact = db.session.get(Contact, attempt.contact_id) if _roleplay_contact(attempt) else None
            if contact is not None and contact.status in ("closed", "abandoned"):
                attempt.outcome = "wrapped_up" if contact.status == "closed" else "abandoned"
                attempt.ended_at = contact.closed_at or contact.ended_at
            else:
                _end_open_contact(attempt, f"exam_{reason}")
        elif attempt.outcome == "pending":
            attempt.outcome, attempt.note = "not_served", f"exam_{reason}"
    exam.status, exam.ended_at, exam.end_reason = "finished", now, reason
    exercise = db.session.get(Exercise, exam.exercise_id) if exam.exercise_id else None
    if exercise is not None and exercise.status == "running":
        exercise.status, exercise.ended_at = "finished", now
    db.session.commit()
    for attempt in attempts_of(exam):
        contact = db.session.get(Contact, attempt.contact_id) if attempt.contact_id else None
        if contact is None or contact.agent_id is None or contact.status not in GRADABLE_STATUSES:
            continue
        try:
            do_grade_contact(contact.id)
        except GradingError as e:
            log.info("exam %s: contact %s not graded: %s", exam.id, contact.id, e)
    return refresh_skill_exam_result(exam)


# -- grading and release ------------------------------------------------------------------------------------


def refresh_skill_exam_result(exam: SkillExam, close: bool = False) -> SkillExam:
    """Recompute and store the result from the current scorecards (call it when scorecards change, e.g. after
    a panel merged its manual scores). The exam becomes graded once every scorecard is complete, or when
    ``close`` (the lead closes grading; pending manual items then count as not applicable)."""
    if exam.status not in ("finished", "graded"):
        raise ExamError(f"this exam is {exam.status}; it is graded after it ends", 409)
    result = exam_result(exam)
    exam.result, exam.total, exam.passed = result, result["total"], result["passed"]
    if result["complete"] or close:
        exam.status = "graded"
    db.session.commit()
    return exam


def do_close_skill_exam_grading(lead: User, exam: SkillExam) -> SkillExam:
    """The lead closes grading with manual items still pending (they count as not applicable)."""
    if not may_manage(lead, exam):
        raise ExamError("only the candidate's lead or an admin may close grading", 403)
    return refresh_skill_exam_result(exam, close=True)


def do_release_skill_exam_result(lead: User, exam: SkillExam) -> SkillExam:
    """The lead releases a graded result: from now on the candidate sees it (and their exam scorecards)."""
    if not may_manage(lead, exam):
        raise ExamError("only the candidate's lead or an admin may release the result", 403)
    if exam.status != "graded":
        raise ExamError("the result is released once the exam is graded", 409)
    exam.released_at = exam.released_at or clock.timestamp()
    db.session.commit()
    return exam


def feedback_withheld(user: User, contact_id: int) -> bool:
    """True when ``contact_id`` is a contact of an exam of ``user`` (the candidate) whose result is not yet
    released: the scorecard page and the reports must not show it to them."""
    exam = db.session.scalar(
        select(SkillExam)
        .join(SkillExamAttempt, SkillExamAttempt.exam_id == SkillExam.id)
        .where(SkillExamAttempt.contact_id == contact_id)
    )
    return exam is not None and exam.candidate_id == user.id and exam.released_at is None
