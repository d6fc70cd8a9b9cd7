"""Which parts of a skill exam a person plays the customer of. The lead chooses them when scheduling and may change
them on the exam's page until the exam starts: once it runs, the parts are being served (a role-play link may be
out), so they stay as they are. Only chat, voice and video customers can be role-played (``ROLEPLAY_CHANNELS``)."""

from __future__ import annotations

from sqlalchemy import update

from accounts.models import User
from accounts.scope import floor_rooms_of_agent
from contacts.events import send_event
from contacts.transaction import atomic
from extensions import db

from .exam_results import attempts_of
from .exams import ROLEPLAY_CHANNELS, ExamError, _channels, find_exam_scenario, may_manage
from .models import SkillExam


def can_roleplay(sc) -> bool:
    """Whether a person may play the customer of an exam part (chat, voice, video, with role-play served)."""
    return sc.channel in ROLEPLAY_CHANNELS and bool(_channels(True))


def check_roleplayed(scenarios: list, roleplayed) -> set[str]:
    """The ids in ``roleplayed``, each one of ``scenarios`` whose customer a person can play; ExamError naming the
    first that is not."""
    chosen = {str(s) for s in roleplayed or ()}
    for sc in scenarios:
        if sc.id in chosen and not can_roleplay(sc):
            raise ExamError(f"scenario {sc.id!r} is a {sc.channel} scenario: it cannot be role-played")
    if chosen - {sc.id for sc in scenarios}:
        raise ExamError("a role-played scenario must be one of the exam's scenarios")
    return chosen


def exam_part_choices(exam: SkillExam) -> list[dict]:
    """The exam's scenarios in order, each with its channel, whether a person can play its customer and whether
    one does now (the lead's exam page)."""
    modes = {a.scenario_id: a.mode for a in attempts_of(exam)}
    out = []
    for sid in exam.scenario_ids:
        sc, _lang = find_exam_scenario(sid)
        out.append(
            {
                "id": sid,
                "channel": sc.channel if sc is not None else None,
                "can_roleplay": sc is not None and can_roleplay(sc),
                "roleplayed": modes.get(sid) == "roleplay",
            }
        )
    return out


def _started(exam: SkillExam) -> ExamError:
    return ExamError(f"this exam is {exam.status}: role-played parts can change only before it starts", 409)


def do_set_roleplayed_parts(lead: User, exam: SkillExam, roleplayed) -> SkillExam:
    """The candidate's lead (or an admin) changes which parts of a scheduled exam are role-played: every attempt of
    a scenario in ``roleplayed`` is played by a person from a role-play link, the others by the simulator. Refused
    (409) once the exam has started, and for a part whose customer cannot be role-played. Publishes
    ``skill_exam`` (event ``roleplay_parts``) to the floor rooms of the candidate's lead and admins."""
    if not may_manage(lead, exam):
        raise ExamError("only the candidate's lead or an admin may change this exam", 403)
    if exam.status != "scheduled":
        raise _started(exam)
    scenarios = []
    for sid in exam.scenario_ids:
        sc, _lang = find_exam_scenario(sid)
        if sc is None:
            raise ExamError(f"no scenario {sid!r} is loaded")
        scenarios.append(sc)
    chosen = check_roleplayed(scenarios, roleplayed)
    with atomic():
        # Still scheduled when this commits: the row stays locked until then, so a start racing this change
        # waits for it, and a start that came first leaves nothing to update.
        still = db.session.execute(
            update(SkillExam)
            .where(SkillExam.id == exam.id, SkillExam.status == "scheduled")
            .values(status="scheduled")
            .execution_options(synchronize_session=False)
        )
        if still.rowcount != 1:
            db.session.refresh(exam)
            raise _started(exam)
        for attempt in attempts_of(exam):
            attempt.mode = "roleplay" if attempt.scenario_id in chosen else "simulated"
        send_event(
            {
                "type": "skill_exam",
                "event": "roleplay_parts",
                "exam": {"id": exam.id, "status": exam.status, "roleplayed": sorted(chosen)},
                "actor_id": lead.id,
            },
            floor_rooms_of_agent(exam.candidate_id),
        )
    return exam
