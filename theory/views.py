"""Theory-exam pages: a trainee's exams and practice, the exam page (autosave, countdown), results; the
leads' assign-and-results page. Thin: validate -> action -> respond."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.models import LEVELS, Group, User
from accounts.roles import role_required
from clock import clock
from extensions import db
from i18n import current_lang

from .actions import (
    PRACTICE_QUESTIONS,
    RELEASE_MODES,
    TheoryError,
    do_assign_theory_exam,
    do_assign_theory_exam_to_group,
    do_release_results,
    do_save_answer,
    do_start_theory_exam,
    do_submit_theory_exam,
    visible_result,
)
from .drawing import shown_letters, to_shown_letters
from .models import TheoryExam, TheoryQuestion
from .scoring import is_correct
from .weights import area_name

bp = Blueprint("theory", __name__)


def _exam_or_404(exam_id: int) -> TheoryExam:
    exam = db.session.get(TheoryExam, exam_id)
    if exam is None:
        abort(404, description=_("No such theory exam."))
    return exam


def _own_exam(exam_id: int) -> TheoryExam:
    exam = _exam_or_404(exam_id)
    if exam.candidate_id != current_user.id:
        abort(403, description=_("This exam belongs to another trainee."))
    return exam


def _may_view(exam: TheoryExam) -> bool:
    if exam.candidate_id == current_user.id:
        return True
    return current_user.role in ("lead", "admin") and current_user.leads_group_of(exam.candidate)


def _questions(exam: TheoryExam) -> list[TheoryQuestion]:
    rows = db.session.scalars(
        db.select(TheoryQuestion).where(TheoryQuestion.lang == exam.lang, TheoryQuestion.qid.in_(exam.question_ids))
    )
    by_id = {q.qid: q for q in rows}
    return [by_id[qid] for qid in exam.question_ids if qid in by_id]


def _shown(exam: TheoryExam) -> list[dict]:
    """Each question as this candidate's form shows it: options in the form's order under the letters A, B, ...,
    the saved answer and the key in those letters (the key is for the result page only)."""
    rows = []
    for q in _questions(exam):
        order = (exam.option_orders or {}).get(q.qid) or sorted(q.options or {})
        given = (exam.answers or {}).get(q.qid)
        key = exam.key[q.qid]["answer"]
        rows.append(
            {
                "q": q,
                "options": [(s, q.options[b]) for s, b in zip(shown_letters(len(order)), order, strict=True)],
                "given": to_shown_letters(order, given) if q.kind != "true_false" else given,
                "key": to_shown_letters(order, key) if q.kind != "true_false" else key,
                "ok": is_correct(q.kind, key, given),
            }
        )
    return rows


@bp.route("/theory")
@role_required("trainee", "lead", "admin")
def my_exams():
    if current_user.role != "trainee":
        return redirect(url_for("theory.manage"))
    exams = db.session.scalars(
        db.select(TheoryExam).where(TheoryExam.candidate_id == current_user.id).order_by(TheoryExam.id.desc())
    ).all()
    return render_template(
        "theory/my_exams.html", exams=exams, levels=LEVELS, default_n=PRACTICE_QUESTIONS, now_ts=clock.timestamp()
    )


@bp.route("/theory/practice", methods=["POST"])
@role_required("trainee")
def start_practice():
    try:
        n = int(request.form.get("n_questions") or PRACTICE_QUESTIONS)
        minutes = int(request.form.get("minutes") or 0) or None
    except ValueError:
        flash(_("The number of questions and minutes must be whole numbers."), "error")
        return redirect(url_for("theory.my_exams"))
    level = request.form.get("level") or None
    try:
        exam = do_start_theory_exam(
            current_user, level=level, lang=current_lang(), practice=True, n_questions=n, duration_minutes=minutes
        )
    except TheoryError as e:
        flash(e.message, "error")
        return redirect(url_for("theory.my_exams"))
    return redirect(url_for("theory.exam_page", exam_id=exam.id))


@bp.route("/theory/exams/<int:exam_id>/start", methods=["POST"])
@role_required("trainee")
def start_exam(exam_id: int):
    exam = _own_exam(exam_id)
    try:
        do_start_theory_exam(current_user, practice=False, exam=exam)
    except TheoryError as e:
        flash(e.message, "error")
        return redirect(url_for("theory.my_exams"))
    return redirect(url_for("theory.exam_page", exam_id=exam.id))


@bp.route("/theory/exams/<int:exam_id>")
@role_required("trainee")
def exam_page(exam_id: int):
    exam = _own_exam(exam_id)
    if exam.status == "assigned":
        return redirect(url_for("theory.my_exams"))
    if exam.is_overdue():
        do_submit_theory_exam(exam, auto=True)
        flash(_("Time is up: the exam was submitted with the answers saved."), "warn")
    if exam.status == "submitted":
        return redirect(url_for("theory.result", exam_id=exam.id))
    config = {
        "answerUrl": url_for("theory.api_save_answer", exam_id=exam.id),
        "remaining": max(0.0, exam.due_timestamp() - clock.timestamp()),
        "speed": clock.speed,
        "i18n": {"saved": _("Saved"), "saving": _("Saving…"), "timeUp": _("Time is up; submitting…")},
    }
    return render_template("theory/exam.html", exam=exam, rows=_shown(exam), config=config, area_name=area_name)


@bp.route("/api/theory/exams/<int:exam_id>/answers", methods=["POST"])
@role_required("trainee")
def api_save_answer(exam_id: int):
    exam = _own_exam(exam_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("question_id"), str):
        return jsonify(error="send JSON {question_id, answer}"), 400
    try:
        do_save_answer(exam, body["question_id"], body.get("answer"))
    except TheoryError as e:
        return jsonify(error=e.message, status=exam.status), e.status
    return jsonify(ok=True, answered=len(exam.answers), remaining=max(0.0, exam.due_timestamp() - clock.timestamp()))


@bp.route("/theory/exams/<int:exam_id>/submit", methods=["POST"])
@role_required("trainee")
def submit_exam(exam_id: int):
    exam = _own_exam(exam_id)
    try:
        do_submit_theory_exam(exam, auto=exam.is_overdue())
    except TheoryError as e:
        flash(e.message, "error")
        return redirect(url_for("theory.my_exams"))
    return redirect(url_for("theory.result", exam_id=exam.id))


@bp.route("/theory/exams/<int:exam_id>/result")
@role_required("trainee", "lead", "admin")
def result(exam_id: int):
    exam = _exam_or_404(exam_id)
    if not _may_view(exam):
        abort(403, description=_("You may not see this exam."))
    if exam.is_overdue():
        do_submit_theory_exam(exam, auto=True)
    if exam.status != "submitted":
        if exam.candidate_id == current_user.id and exam.status == "in_progress":
            return redirect(url_for("theory.exam_page", exam_id=exam.id))
        abort(409, description=_("This exam has not been submitted yet; results come after submission."))
    show = visible_result(exam, current_user)
    rows = _shown(exam) if show in ("all", "marks", "keys") else []
    return render_template("theory/result.html", exam=exam, rows=rows, show=show, area_name=area_name)


@bp.route("/theory/release", methods=["POST"])
@role_required("lead", "admin")
def release():
    """Release the results of the chosen submitted exams with what the centre chose to show."""
    mode = request.form.get("mode", "score")
    ids = [int(x) for x in request.form.getlist("exam_id") if x.isdigit()]
    exams = list(db.session.scalars(db.select(TheoryExam).where(TheoryExam.id.in_(ids or [-1]))))
    try:
        n = do_release_results(current_user, exams, mode)
    except TheoryError as e:
        if e.status == 403:
            abort(403, description=e.message)
        flash(e.message, "error")
        return redirect(url_for("theory.manage"))
    flash(_("Results released for %(n)d exam(s).", n=n), "info")
    return redirect(url_for("theory.manage"))


def _led_trainees() -> list[User]:
    q = db.select(User).where(User.role == "trainee", User.active.is_(True)).order_by(User.username)
    if current_user.role != "admin":
        q = q.where(User.group_id.in_(current_user.led_group_ids() or [-1]))
    return list(db.session.scalars(q))


def _led_groups() -> list[Group]:
    q = db.select(Group).order_by(Group.name)
    if current_user.role != "admin":
        q = q.where(Group.lead_id == current_user.id)
    return list(db.session.scalars(q))


@bp.route("/theory/manage")
@role_required("lead", "admin")
def manage():
    trainees = _led_trainees()
    ids = [t.id for t in trainees] or [-1]
    exams = db.session.scalars(
        db.select(TheoryExam).where(TheoryExam.candidate_id.in_(ids)).order_by(TheoryExam.id.desc())
    ).all()
    return render_template(
        "theory/manage.html",
        trainees=trainees,
        groups=_led_groups(),
        exams=exams,
        levels=LEVELS,
        area_name=area_name,
        release_modes=RELEASE_MODES,
    )


@bp.route("/theory/assign", methods=["POST"])
@role_required("lead", "admin")
def assign():
    level = request.form.get("level") or None
    lang = request.form.get("lang") or None
    target = request.form.get("target", "")
    try:
        kind, _sep, raw_id = target.partition(":")
        obj_id = int(raw_id)
    except ValueError:
        flash(_("Choose a trainee or a group."), "error")
        return redirect(url_for("theory.manage"))
    try:
        if kind == "group":
            group = db.session.get(Group, obj_id) or abort(404, description=_("No such group."))
            exams = do_assign_theory_exam_to_group(current_user, group, level=level, lang=lang)
        elif kind == "user":
            trainee = db.session.get(User, obj_id) or abort(404, description=_("No such trainee."))
            exams = [do_assign_theory_exam(current_user, trainee, level=level, lang=lang)]
        else:
            flash(_("Choose a trainee or a group."), "error")
            return redirect(url_for("theory.manage"))
    except TheoryError as e:
        if e.status == 403:
            abort(403, description=e.message)
        flash(e.message, "error")
        return redirect(url_for("theory.manage"))
    flash(_("Theory exam assigned to %(n)d trainee(s).", n=len(exams)), "info")
    return redirect(url_for("theory.manage"))


@bp.route("/theory/analysis")
@role_required("lead", "admin")
def analysis():
    """Item analysis of the submitted real exams of the lead's trainees: flagged items first, reliability per level."""
    from .analysis import analyse

    ids = [t.id for t in _led_trainees()] or [-1]
    exams = db.session.scalars(
        db.select(TheoryExam).where(
            TheoryExam.candidate_id.in_(ids), TheoryExam.practice.is_(False), TheoryExam.submitted_at.is_not(None)
        )
    ).all()
    items, forms = analyse(list(exams))
    questions = {
        (q.lang, q.qid): q
        for q in db.session.scalars(
            db.select(TheoryQuestion).where(TheoryQuestion.qid.in_([s.qid for s in items] or ["-"]))
        )
    }
    langs = {e.lang for e in exams}
    rows = []
    for s in sorted(items, key=lambda s: (not s.flags, s.discrimination if s.discrimination is not None else 9)):
        q = next((questions[(lang, s.qid)] for lang in sorted(langs) if (lang, s.qid) in questions), None)
        rows.append({"stat": s, "q": q})
    return render_template("theory/analysis.html", rows=rows, forms=forms, n_exams=len(exams), area_name=area_name)
