"""Theory-exam actions: assign, start, autosave an answer, submit, and auto-submit at the due time.

Routes stay thin and call these. Each raises TheoryError (with an HTTP status) for a request that cannot be
honoured, so the route only has to turn it into a clear message.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from accounts.models import LEVELS, Group, User
from clock import clock
from extensions import db

from .drawing import DrawError, draw_exam, option_order, to_bank_letters
from .models import TheoryExam, TheoryQuestion, aware
from .scoring import normalise_answer, score_answers
from .weights import EXAM_MINUTES_MIN

EXAM_QUESTIONS = 100
PRACTICE_QUESTIONS = 20
PRACTICE_MINUTES = 20
PRACTICE_MAX_QUESTIONS = 100


class TheoryError(Exception):
    """A theory-exam request refused; ``status`` is the HTTP status a route should answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def _level_of(user: User, level: str | None) -> str:
    level = level or user.level or "L5"
    if level not in LEVELS:
        raise TheoryError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
    return level


def _lang_of(user: User, lang: str | None) -> str:
    lang = lang or user.locale or "zh_CN"
    if lang not in ("zh_CN", "en"):
        raise TheoryError(f"unknown language {lang!r}; expected zh_CN or en")
    return lang


def do_assign_theory_exam(
    assigner: User, trainee: User, level: str | None = None, lang: str | None = None, commit: bool = True
) -> TheoryExam:
    """A lead (of the trainee's group) or an admin assigns a real theory exam (100 questions, 60 minutes) to a
    trainee. The questions are drawn when the trainee starts it."""
    if assigner.role not in ("lead", "admin") or not assigner.leads_group_of(trainee):
        raise TheoryError("only the trainee's lead or an admin may assign a theory exam", 403)
    if trainee.role != "trainee":
        raise TheoryError(f"{trainee.username} is not a trainee")
    exam = TheoryExam(
        candidate_id=trainee.id,
        level=_level_of(trainee, level),
        lang=_lang_of(trainee, lang),
        practice=False,
        n_questions=EXAM_QUESTIONS,
        duration_minutes=EXAM_MINUTES_MIN,
        assigned_by_id=assigner.id,
        assigned_at=clock.now(),
        question_ids=[],
        key={},
        answers={},
        per_area={},
    )
    db.session.add(exam)
    if commit:
        db.session.commit()
    return exam


def do_assign_theory_exam_to_group(
    assigner: User, group: Group, level: str | None = None, lang: str | None = None
) -> list[TheoryExam]:
    """Assign a theory exam to every active trainee of ``group`` (one commit for the whole group)."""
    if assigner.role != "admin" and group.lead_id != assigner.id:
        raise TheoryError("only the group's lead or an admin may assign exams to it", 403)
    trainees = [u for u in group.members if u.role == "trainee" and u.active]
    if not trainees:
        raise TheoryError(f"group {group.name} has no trainees")
    exams = [do_assign_theory_exam(assigner, t, level=level, lang=lang, commit=False) for t in trainees]
    db.session.commit()
    return exams


def do_start_theory_exam(
    user: User,
    level: str | None = None,
    lang: str | None = None,
    practice: bool = False,
    n_questions: int | None = None,
    duration_minutes: int | None = None,
    exam: TheoryExam | None = None,
) -> TheoryExam:
    """Start a theory exam for ``user``: draw the questions (by the level's §4.1 weights) and set the due time.

    practice=True starts a short self-service quiz (default 20 questions, 20 minutes). Otherwise the trainee
    starts an exam a lead/admin assigned (``exam``, or their oldest one not yet started); there is no real
    exam without an assignment. Raises TheoryError when there is nothing to start or the bank is short."""
    if user.role != "trainee":
        raise TheoryError("only trainees take theory exams", 403)
    if practice:
        n = PRACTICE_QUESTIONS if n_questions is None else int(n_questions)
        if not 1 <= n <= PRACTICE_MAX_QUESTIONS:
            raise TheoryError(f"a practice quiz has 1 to {PRACTICE_MAX_QUESTIONS} questions")
        exam = TheoryExam(
            candidate_id=user.id,
            level=_level_of(user, level),
            lang=_lang_of(user, lang),
            practice=True,
            n_questions=n,
            duration_minutes=PRACTICE_MINUTES if duration_minutes is None else int(duration_minutes),
            answers={},
            per_area={},
        )
        db.session.add(exam)
    else:
        if exam is None:
            exam = db.session.scalars(
                db.select(TheoryExam)
                .where(
                    TheoryExam.candidate_id == user.id,
                    TheoryExam.practice.is_(False),
                    TheoryExam.started_at.is_(None),
                )
                .order_by(TheoryExam.id)
            ).first()
            if exam is None:
                raise TheoryError("no theory exam has been assigned to you; ask your lead", 409)
        if exam.candidate_id != user.id:
            raise TheoryError("this exam belongs to another trainee", 403)
        if exam.status != "assigned":
            raise TheoryError("this exam has already been started", 409)
    seed = secrets.token_hex(8)
    try:
        qids = draw_exam(exam.level, exam.lang, seed, exam.n_questions, exam.duration_minutes, practice=exam.practice)
    except DrawError as e:
        db.session.rollback()
        raise TheoryError(str(e)) from e
    exam.seed = seed
    exam.question_ids = qids
    exam.key = _answer_key(exam.lang, qids)
    # Options in a per-candidate order (from the form's seed), so a neighbour's letters or a leaked key by
    # position are worth nothing; answers are mapped back to the bank's letters when saved.
    exam.option_orders = {
        qid: option_order(seed, qid, k["options"]) for qid, k in exam.key.items() if k["kind"] != "true_false"
    }
    exam.answers = {}
    now = clock.now()
    exam.started_at = now
    exam.due_at = now + timedelta(minutes=exam.duration_minutes)
    db.session.commit()
    return exam


def _answer_key(lang: str, qids: list[str]) -> dict[str, dict]:
    rows = db.session.scalars(
        db.select(TheoryQuestion).where(TheoryQuestion.lang == lang, TheoryQuestion.qid.in_(qids))
    )
    return {
        q.qid: {"area": q.area, "kind": q.kind, "answer": q.answer, "options": sorted(q.options or {})} for q in rows
    }


def do_save_answer(exam: TheoryExam, question_id: str, answer) -> TheoryExam:
    """Autosave one answer, given in the letters the candidate was shown (None or "" clears it); it is stored in
    the bank's letters. Refused once submitted, and after the due time on the sandbox clock (the exam is then
    submitted with the answers saved so far)."""
    if exam.status == "assigned":
        raise TheoryError("this exam has not been started", 409)
    if exam.status == "submitted":
        raise TheoryError("this exam has been submitted; answers can no longer change", 409)
    if exam.is_overdue():
        do_submit_theory_exam(exam, auto=True)
        due = aware(exam.due_at).strftime("%H:%M:%S UTC")
        raise TheoryError(f"time is up (the exam was due at {due}); the answer was not saved", 409)
    if question_id not in exam.key:
        raise TheoryError(f"question {question_id!r} is not part of this exam")
    k = exam.key[question_id]
    try:
        if k["kind"] != "true_false":
            answer = to_bank_letters((exam.option_orders or {}).get(question_id), answer)
        value = normalise_answer(k["kind"], answer, k.get("options"))
    except ValueError as e:
        raise TheoryError(f"question {question_id}: {e}") from e
    answers = dict(exam.answers or {})
    if value is None:
        answers.pop(question_id, None)
    else:
        answers[question_id] = value
    exam.answers = answers  # a new dict, so SQLAlchemy sees the JSON change
    db.session.commit()
    return exam


def do_submit_theory_exam(exam: TheoryExam, auto: bool = False) -> TheoryExam:
    """Submit and score an exam (the answers saved so far). Submitting twice changes nothing. ``auto`` marks a
    submission made by the due-time sweep rather than by the candidate."""
    if exam.status == "submitted":
        return exam
    if exam.status == "assigned":
        raise TheoryError("this exam has not been started", 409)
    result = score_answers(exam.question_ids, exam.key, exam.answers or {})
    now = clock.now()
    exam.submitted_at = min(now, aware(exam.due_at)) if auto and exam.due_at else now
    exam.auto_submitted = auto
    exam.score = result.score
    exam.passed = result.passed
    exam.per_area = result.per_area
    db.session.commit()
    return exam


def submit_overdue_exams() -> int:
    """Submit every started exam whose due time has passed on the sandbox clock; return how many. The periodic
    ticker calls this (registered in theory.init_app)."""
    now = clock.now()
    exams = db.session.scalars(
        db.select(TheoryExam).where(
            TheoryExam.started_at.is_not(None),
            TheoryExam.submitted_at.is_(None),
            # due_at is stored as naive UTC; compare like with like, then re-check on the aware value.
            TheoryExam.due_at <= now.replace(tzinfo=None),
        )
    ).all()
    done = 0
    for exam in exams:
        if exam.is_overdue(now.timestamp()):
            do_submit_theory_exam(exam, auto=True)
            done += 1
    return done


RELEASE_MODES = ("score", "marks", "keys")


def do_release_results(lead: User, exams: list[TheoryExam], mode: str) -> int:
    """Release submitted real exams' results to their candidates, showing only ``mode``: "score" (score and
    areas), "marks" (plus right or wrong per question) or "keys" (plus the keys and explanations). Until then
    a candidate sees that the exam was submitted, nothing more. Returns how many were released (exams not yet
    submitted are skipped); a lead may release only their group's exams."""
    if mode not in RELEASE_MODES:
        raise TheoryError(f"unknown release mode {mode!r}; expected one of {', '.join(RELEASE_MODES)}")
    if lead.role not in ("lead", "admin"):
        raise TheoryError("only a lead or an admin may release results", 403)
    done = 0
    for exam in exams:
        if not lead.leads_group_of(exam.candidate):
            raise TheoryError("you may release only your group's exams", 403)
        if exam.practice or exam.status != "submitted":
            continue
        exam.released_at, exam.released_by_id, exam.release_mode = clock.now(), lead.id, mode
        done += 1
    db.session.commit()
    return done


def visible_result(exam: TheoryExam, viewer: User) -> str:
    """How much of a submitted exam's result ``viewer`` may see: "all" (practice, or the lead/admin),
    the release mode for a released real exam, or "none" before release."""
    if exam.practice or viewer.id != exam.candidate_id:
        return "all"
    return exam.release_mode if exam.released_at is not None else "none"
