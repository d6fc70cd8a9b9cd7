"""Skill-exam pages (blueprint "exams"): the lead schedules an exam and follows its progress and result; the
candidate starts it, sees "exam in progress" with the time left (no scores) and, after release, the result.
Thin: validate -> action -> respond."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts.models import LEVEL_RANK, User
from accounts.roles import role_required
from clock import clock
from extensions import db
from routing.ticker import register_periodic
from scenarios.registry import list_scenarios, scenario_lang

from .exam_parts import do_set_roleplayed_parts, exam_part_choices
from .exam_results import attempts_of, combined_result
from .exams import (
    MAX_K,
    MIN_MINUTES,
    ROLEPLAY_CHANNELS,
    ExamError,
    do_close_skill_exam_grading,
    do_finish_skill_exam,
    do_release_skill_exam_result,
    do_schedule_skill_exam,
    do_start_skill_exam,
    find_exam_scenario,
    may_manage,
)
from .models import SkillExam
from .standard import FUNCTION_KEYS

bp = Blueprint("exams", __name__)


def init_exams(app) -> None:
    """Register the blueprint and the periodic callback that serves scenarios and ends exams at time-up."""
    from .exams import tick_skill_exams

    app.register_blueprint(bp)
    register_periodic(app, tick_skill_exams)


def _exam_or_404(exam_id: int) -> SkillExam:
    exam = db.session.get(SkillExam, exam_id)
    if exam is None:
        abort(404, description=_("No such skill exam."))
    return exam


def _may_view(exam: SkillExam) -> bool:
    return exam.candidate_id == current_user.id or current_user.role == "grader" or may_manage(current_user, exam)


def _led_trainees() -> list[User]:
    q = select(User).where(User.role == "trainee", User.active.is_(True)).order_by(User.username)
    if current_user.role != "admin":
        q = q.where(User.group_id.in_(current_user.led_group_ids() or [-1]))
    return list(db.session.scalars(q))


def _refused(e: ExamError, back: str):
    if e.status == 403:
        abort(403, description=e.message)
    flash(e.message, "error")
    return redirect(back)


@bp.route("/exams")
@role_required("trainee", "lead", "grader", "admin")
def exam_list():
    """Trainees: their skill exams. Leads: schedule and follow their trainees' exams. Graders/admins: all."""
    q = select(SkillExam).order_by(SkillExam.id.desc())
    if current_user.role == "trainee":
        exams = list(db.session.scalars(q.where(SkillExam.candidate_id == current_user.id)))
        return render_template("exams/my_exams.html", exams=exams)
    trainees = _led_trainees() if current_user.role in ("lead", "admin") else []
    if current_user.role == "lead":
        q = q.where(SkillExam.candidate_id.in_([t.id for t in trainees] or [-1]))
    exams = list(db.session.scalars(q.limit(200)))
    scenarios = sorted((s for s in list_scenarios(channel="chat")), key=lambda s: (LEVEL_RANK.get(s.level, 0), s.id))
    rows = [
        {"id": s.id, "title": s.title, "level": s.level, "family": s.family or s.id, "lang": scenario_lang(s.id)}
        for s in scenarios
    ]
    users = {
        u.id: u for u in db.session.scalars(select(User).where(User.id.in_([e.candidate_id for e in exams] or [-1])))
    }
    return render_template(
        "exams/manage.html",
        exams=exams,
        users=users,
        trainees=trainees,
        scenarios=rows,
        min_minutes=MIN_MINUTES,
        max_k=MAX_K,
    )


@bp.route("/exams/schedule", methods=["POST"])
@role_required("lead", "admin")
def schedule():
    back = url_for("exams.exam_list")
    try:
        candidate_id = int(request.form.get("candidate_id", ""))
        minutes = int(request.form.get("duration_minutes") or MIN_MINUTES)
        k = int(request.form.get("k") or 1)
    except ValueError:
        flash(_("Candidate, duration and k must be whole numbers."), "error")
        return redirect(back)
    candidate = db.session.get(User, candidate_id)
    if candidate is None:
        abort(404, description=_("No such trainee."))
    # The lead orders the set: every scenario given a position > 0 is in, served by position.
    chosen = []
    for key, value in request.form.items():
        if key.startswith("pos:") and value.strip():
            try:
                pos = int(value)
            except ValueError:
                flash(_("Positions must be whole numbers."), "error")
                return redirect(back)
            if pos > 0:
                chosen.append((pos, key[4:]))
    ids = [sid for _pos, sid in sorted(chosen)]
    # Role-played parts: per scenario (rp:<id>), or every part a person can play (roleplay_all).
    rp = [sid for sid in ids if request.form.get(f"rp:{sid}") or request.form.get("roleplay_all")]
    if request.form.get("roleplay_all"):
        rp = [sid for sid in rp if getattr(find_exam_scenario(sid)[0], "channel", None) in ROLEPLAY_CHANNELS]
    try:
        exam = do_schedule_skill_exam(
            current_user, candidate, ids, minutes, k=k, lang=request.form.get("lang") or None, roleplayed=rp
        )
    except ExamError as e:
        return _refused(e, back)
    flash(_("Skill exam scheduled for %(name)s.", name=candidate.display_name), "info")
    return redirect(url_for("exams.exam_page", exam_id=exam.id))


@bp.route("/exams/<int:exam_id>")
@role_required("trainee", "lead", "grader", "admin")
def exam_page(exam_id: int):
    exam = _exam_or_404(exam_id)
    if not _may_view(exam):
        abort(403, description=_("You may not see this exam."))
    candidate = db.session.get(User, exam.candidate_id)
    remaining = max(0.0, (exam.ends_at or 0) - clock.timestamp()) if exam.status == "running" else None
    if exam.candidate_id == current_user.id:
        return render_template(
            "exams/candidate.html",
            exam=exam,
            remaining=remaining,
            released=exam.released_at is not None,
            functions=FUNCTION_KEYS,
            n_attempts=len(attempts_of(exam)),
        )
    return render_template(
        "exams/exam.html",
        exam=exam,
        candidate=candidate,
        attempts=attempts_of(exam),
        remaining=remaining,
        functions=FUNCTION_KEYS,
        manage=may_manage(current_user, exam),
        part_choices=exam_part_choices(exam) if exam.status == "scheduled" else [],
        combined=combined_result(exam) if exam.status == "graded" else None,
    )


@bp.route("/api/exams/<int:exam_id>/status")
@role_required("trainee", "lead", "grader", "admin")
def api_status(exam_id: int):
    """Status and time left (never scores before release): what the candidate's page polls."""
    exam = _exam_or_404(exam_id)
    if not _may_view(exam):
        return jsonify(error="you may not see this exam"), 403
    remaining = max(0.0, (exam.ends_at or 0) - clock.timestamp()) if exam.status == "running" else None
    body = {"id": exam.id, "status": exam.status, "remaining": remaining, "released": exam.released_at is not None}
    if exam.candidate_id != current_user.id or exam.released_at is not None:
        body.update(total=exam.total, passed=exam.passed)
    return jsonify(body)


def _act(exam_id: int, fn, done_msg: str):
    exam = _exam_or_404(exam_id)
    back = url_for("exams.exam_page", exam_id=exam.id)
    try:
        fn(exam)
    except ExamError as e:
        return _refused(e, back)
    flash(done_msg, "info")
    return redirect(back)


@bp.route("/exams/<int:exam_id>/start", methods=["POST"])
@role_required("trainee", "lead", "admin")
def start(exam_id: int):
    return _act(exam_id, lambda e: do_start_skill_exam(current_user, e), _("The exam has started."))


@bp.route("/exams/<int:exam_id>/roleplay-parts", methods=["POST"])
@role_required("lead", "admin")
def roleplay_parts(exam_id: int):
    """The lead changes which parts of a scheduled exam a person plays the customer of (rp:<scenario id>)."""
    exam = _exam_or_404(exam_id)
    chosen = [sid for sid in exam.scenario_ids if request.form.get(f"rp:{sid}")]
    return _act(exam_id, lambda e: do_set_roleplayed_parts(current_user, e, chosen), _("Role-played parts saved."))


@bp.route("/exams/<int:exam_id>/finish", methods=["POST"])
@role_required("lead", "admin")
def finish(exam_id: int):
    return _act(
        exam_id, lambda e: do_finish_skill_exam(e, reason="ended", actor=current_user), _("The exam was ended.")
    )


@bp.route("/exams/<int:exam_id>/close-grading", methods=["POST"])
@role_required("lead", "admin")
def close_grading(exam_id: int):
    return _act(exam_id, lambda e: do_close_skill_exam_grading(current_user, e), _("Grading closed."))


@bp.route("/exams/<int:exam_id>/release", methods=["POST"])
@role_required("lead", "admin")
def release(exam_id: int):
    return _act(exam_id, lambda e: do_release_skill_exam_result(current_user, e), _("The result is released."))
