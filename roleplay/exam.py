"""Role-played skill-exam parts: when a part the lead marked "role-played" comes up, grading calls ``start_part``,
which opens a role-play of the part's scenario reserved for the candidate and bound to the exam's attempt; the
person playing the customer starts it from the link on the lead's exam page. The contact joins the exam's exercise
(like a simulated part's, so it is withheld from the candidate and graded at the exam's end), and grading binds it to
the attempt through ``contact_of``. Registered with grading (``grading.exams.add_exam_roleplay``) by init_app."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from clock import clock
from extensions import db
from grading.exam_results import attempts_of
from grading.exams import add_exam_roleplay
from grading.models import SkillExam, SkillExamAttempt
from scenarios.registry import scenario_lang

from .models import RolePlay


def start_part(exam, attempt, scenario) -> None:
    """Open the role-play of an exam part (the contact comes when the role-player starts it). The link lasts until
    the exam's time is up."""
    now = clock.timestamp()
    db.session.add(
        RolePlay(
            token=secrets.token_urlsafe(24),
            scenario_id=scenario.id,
            lang=scenario_lang(scenario.id) or exam.lang,
            channel=scenario.channel,
            created_by=exam.scheduled_by_id,
            agent_id=exam.candidate_id,
            exam_attempt_id=attempt.id,
            created_at=now,
            expires_at=exam.ends_at or now,
        )
    )
    db.session.flush()  # grading commits the attempt's state together with the role-play
    return None


def roleplay_of_attempt(attempt_id: int) -> RolePlay | None:
    """The role-play opened for an exam attempt, if its part came up."""
    return db.session.scalar(select(RolePlay).where(RolePlay.exam_attempt_id == attempt_id))


def contact_of(attempt) -> int | None:
    """The contact of a role-played part once the role-player has started it."""
    rp = roleplay_of_attempt(attempt.id)
    return rp.contact_id if rp is not None else None


def exam_fields(rp: RolePlay) -> dict:
    """What an exam part's contact carries beyond a role-play's: the exam's exercise (so it is an exam contact).
    Refused once the part is over (time up, or the lead ended the exam)."""
    from .actions import RolePlayError

    attempt = db.session.get(SkillExamAttempt, rp.exam_attempt_id)
    exam = db.session.get(SkillExam, attempt.exam_id) if attempt is not None else None
    if exam is None or exam.status != "running" or attempt.outcome != "served":
        raise RolePlayError("this exam part is over")
    return {"exercise_id": exam.exercise_id}


def exam_parts(exam) -> dict[int, dict]:
    """Attempt id -> {"roleplay", "link", "card"} of an exam's role-played parts that came up (the lead's page)."""
    from .views import card_for, customer_link

    out = {}
    for attempt in attempts_of(exam):
        rp = roleplay_of_attempt(attempt.id) if attempt.mode == "roleplay" else None
        if rp is not None:
            out[attempt.id] = {"roleplay": rp, "link": customer_link(rp), "card": card_for(rp)}
    return out


def register(app) -> None:
    """Serve role-played parts in skill exams; the lead's exam page reads them with ``exam_roleplay_parts``."""
    add_exam_roleplay(app, start=start_part, contact_of=contact_of)
    app.add_template_global(exam_parts, "exam_roleplay_parts")
