"""The review page of a recorded contact (transcript, timeline, auto items with evidence, manual items to score)
and the grader-panel pages and JSON API. Routes stay thin: check the role, call a ``do_*`` action, respond."""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts.models import User
from accounts.roles import role_required
from contacts.models import Contact, ContactEvent
from contacts.views import STAFF, can_view, load_contact_for
from extensions import db
from simulator.models import Exercise
from simulator.views import may_manage_exercise

from . import panels
from .actions import GradingError, current_scorecard, do_grade_contact, select_contacts, set_manual_scores
from .models import Panel, PanelAssignment
from .ungradeable import reason_label

bp = Blueprint("review", __name__)

SCORERS = ("grader", "lead", "admin")


def can_review(user, contact: Contact) -> bool:
    """Graders and admins review every contact, leads those of their groups; the trainee who handled it only
    their own practice contacts, and never while a panel is scoring it."""
    if user.role == "trainee":
        from .actions import _exercise_kind

        return (
            contact.agent_id == user.id
            and _exercise_kind(contact.id) != "exam"
            and panels.open_panel_of(contact.id) is None
        )
    return can_view(user, contact)


def _contact(contact_id: int) -> Contact:
    return load_contact_for(contact_id, can_review)


def _fail(e: panels.PanelError, back: str):
    if e.status in (403, 404):
        abort(e.status)
    flash(str(e), "error")
    return redirect(back)


@bp.route("/review/contacts/<int:contact_id>")
@role_required(*STAFF)
def review_contact(contact_id: int):
    contact = _contact(contact_id)
    events = db.session.scalars(
        select(ContactEvent).where(ContactEvent.contact_id == contact.id).order_by(ContactEvent.seq)
    ).all()
    row = current_scorecard(contact.id)
    rubric = panels.rubric_of(contact.id)
    assignment = panels.pending_assignment(current_user, contact.id) if current_user.role in SCORERS else None
    busy = panels.open_panel_of(contact.id)
    if assignment is not None:
        mode, values = "panel", panels.assignment_scores(assignment)
    else:
        mode = "direct" if current_user.role in SCORERS and busy is None and row is not None else "readonly"
        values = dict(row.manual_scores or {}) if row is not None and (mode == "direct" or busy is None) else {}
    shown = {}
    for item_id, entry in values.items():
        value, note = (entry.get("value"), entry.get("note")) if isinstance(entry, dict) else (entry, None)
        shown[item_id] = {"value": str(int(value)) if isinstance(value, bool | int | float) else "", "note": note or ""}
    return render_template(
        "review/contact.html",
        contact=contact,
        events=events,
        start=contact.created_at,
        row=row,
        sc=row.data if row else None,
        manual=panels.manual_items(rubric),
        values=shown,
        mode=mode,
        assignment=assignment,
        busy=busy,
        may_grade=current_user.role in SCORERS and row is None,
    )


@bp.route("/review/contacts/<int:contact_id>/grade", methods=["POST"])
@role_required(*SCORERS)
def grade_contact(contact_id: int):
    contact = _contact(contact_id)
    try:
        do_grade_contact(contact.id)
    except GradingError as e:
        # The kind of reason in the grader's language, the error's own (English) message after it.
        flash(_("Could not be graded: %(reason)s (%(detail)s)", reason=reason_label(str(e)), detail=str(e)), "error")
    return redirect(url_for("review.review_contact", contact_id=contact.id))


def _form_scores(manual) -> dict:
    scores = {}
    for item in manual:
        raw = request.form.get(f"item-{item.id}", "").strip()
        if raw:
            scores[item.id] = {"value": raw, "note": request.form.get(f"note-{item.id}", "").strip() or None}
    return scores


@bp.route("/review/contacts/<int:contact_id>/scores", methods=["POST"])
@role_required(*SCORERS)
def score_contact(contact_id: int):
    """The review form: saves (and, with action=submit, submits) the grader's panel assignment for this
    contact, or, outside any open panel, sets the scorecard's manual scores directly."""
    contact = _contact(contact_id)
    back = url_for("review.review_contact", contact_id=contact.id)
    manual = panels.manual_items(panels.rubric_of(contact.id))
    scores = _form_scores(manual)
    assignment = panels.pending_assignment(current_user, contact.id)
    try:
        if assignment is not None:
            if scores:
                panels.do_save_panel_score(current_user, assignment.id, scores)
            if request.form.get("action") == "submit":
                panels.do_submit_panel_assignment(current_user, assignment.id)
                flash(_("Scores submitted."), "ok")
                return redirect(url_for("review.panel_page", panel_id=assignment.panel_id))
            flash(_("Scores saved."), "ok")
            return redirect(back)
        if panels.open_panel_of(contact.id) is not None:
            raise panels.PanelError(_("A panel is scoring this contact; only its graders score it."), 409)
        row = current_scorecard(contact.id)
        if row is None or not scores:
            raise panels.PanelError(_("Nothing to save: score at least one manual item of a graded contact."))
        direct = {}
        for item in manual:
            if item.id in scores:
                value = panels.parse_value(item, scores[item.id]["value"])
                direct[item.id] = {"value": value, "by": current_user.username, "note": scores[item.id]["note"]}
        set_manual_scores(row, direct)
    except panels.PanelError as e:
        return _fail(e, back)
    except GradingError as e:
        return _fail(panels.PanelError(str(e)), back)
    flash(_("Scores saved."), "ok")
    return redirect(back)


# --- panels: pages -------------------------------------------------------------------------------------------


def _panel(panel_id: int) -> Panel:
    panel = db.session.get(Panel, panel_id)
    if panel is None:
        abort(404)
    if not panels.may_view_panel(current_user, panel):
        abort(403)
    return panel


@bp.route("/review/panels")
@role_required(*SCORERS)
def panel_list():
    """Graders see their assignments; leads their groups' panels; admins every panel. Below them, the contacts
    auto-grading could not grade, scoped the same way (grading/ungradeable.py)."""
    mine = []
    if current_user.role == "grader":
        mine = db.session.scalars(
            select(PanelAssignment)
            .where(PanelAssignment.grader_id == current_user.id, PanelAssignment.is_key.is_(False))
            .order_by(PanelAssignment.panel_id.desc(), PanelAssignment.contact_id)
        ).all()
        ids = sorted({a.panel_id for a in mine}, reverse=True)
        rows = [db.session.get(Panel, i) for i in ids]
    else:
        rows = db.session.scalars(select(Panel).order_by(Panel.id.desc())).all()
        rows = [p for p in rows if panels.may_view_panel(current_user, p)]  # a lead: their groups' panels
    from .ungradeable import ungradeable_for

    ungradeable, ungradeable_total = ungradeable_for(current_user)
    return render_template(
        "review/panels.html", panels=rows, mine=mine, ungradeable=ungradeable, ungradeable_total=ungradeable_total
    )


def _parse_contact_ids(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,;]+", text or "") if t]


@bp.route("/review/panels/new", methods=["GET", "POST"])
@role_required(*panels.MANAGERS)
def panel_new():
    graders = db.session.scalars(
        select(User).where(User.role == "grader", User.active.is_(True)).order_by(User.id)
    ).all()
    exercises = db.session.scalars(select(Exercise).order_by(Exercise.id.desc()).limit(300)).all()
    exercises = [ex for ex in exercises if may_manage_exercise(current_user, ex)][:100]
    form = request.form
    if request.method == "POST":
        contact_ids = _parse_contact_ids(form.get("contact_ids", ""))
        if form.get("exercise_id"):
            try:
                contact_ids += [str(i) for i in select_contacts(exercise_id=int(form["exercise_id"]))]
            except ValueError:
                flash(_("Pick an exercise from the list."), "error")
        try:
            panel = panels.do_create_panel(
                current_user,
                contact_ids,
                form.getlist("grader_ids"),
                form.get("name", ""),
                calibration=bool(form.get("calibration")),
            )
        except panels.PanelError as e:
            if e.status == 403:  # contacts outside the lead's groups: refused, not a form error
                abort(403, description=str(e))
            flash(str(e), "error")
        else:
            flash(_("Panel created."), "ok")
            return redirect(url_for("review.panel_page", panel_id=panel.id))
    return render_template("review/panel_new.html", graders=list(graders), exercises=exercises, form=form)


@bp.route("/review/panels/<int:panel_id>")
@role_required(*SCORERS)
def panel_page(panel_id: int):
    panel = _panel(panel_id)
    return render_template("review/panel.html", r=panels.panel_result(panel, current_user))


@bp.route("/review/panels/<int:panel_id>/calibration")
@role_required(*SCORERS)
def calibration_page(panel_id: int):
    """Leads and admins; a grader of the panel once all of their assignments are submitted."""
    panel = _panel(panel_id)
    if not panel.calibration:
        abort(404)
    if current_user.role == "grader":
        rows = db.session.scalars(
            select(PanelAssignment.status).where(
                PanelAssignment.panel_id == panel.id, PanelAssignment.grader_id == current_user.id
            )
        ).all()
        if any(s != "submitted" for s in rows):
            abort(403)
    return render_template("review/calibration.html", c=panels.calibration_report(panel))


# --- panels: JSON API ----------------------------------------------------------------------------------------


def _json_error(e: panels.PanelError):
    return jsonify(error=str(e)), e.status


@bp.route("/api/review/panels", methods=["POST"])
@role_required(*SCORERS)
def api_create_panel():
    data = request.get_json(silent=True) or {}
    try:
        panel = panels.do_create_panel(
            current_user,
            data.get("contact_ids") or [],
            data.get("grader_ids") or [],
            data.get("name", ""),
            calibration=bool(data.get("calibration")),
        )
    except panels.PanelError as e:
        return _json_error(e)
    return jsonify(id=panel.id, url=url_for("review.panel_page", panel_id=panel.id)), 201


@bp.route("/api/review/assignments/<int:assignment_id>/scores", methods=["POST"])
@role_required(*SCORERS)
def api_save_scores(assignment_id: int):
    data = request.get_json(silent=True) or {}
    try:
        a = panels.do_save_panel_score(current_user, assignment_id, data.get("scores"))
    except panels.PanelError as e:
        return _json_error(e)
    return jsonify(id=a.id, status=a.status, scores=panels.assignment_scores(a))


@bp.route("/api/review/assignments/<int:assignment_id>/submit", methods=["POST"])
@role_required(*SCORERS)
def api_submit(assignment_id: int):
    try:
        a = panels.do_submit_panel_assignment(current_user, assignment_id)
    except panels.PanelError as e:
        return _json_error(e)
    panel = db.session.get(Panel, a.panel_id)
    return jsonify(id=a.id, status=a.status, panel_status=panel.status)
