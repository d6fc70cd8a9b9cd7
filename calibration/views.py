"""The leads' calibration page: upload examiners' graded sessions, see the agreement report, export it as XLSX."""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.roles import role_required

from .runs import list_runs, run_state, start_run
from .sessions import SessionError

bp = Blueprint("calibration", __name__)
ROLES = ("lead", "admin")


@bp.route("/review/calibration", methods=["GET", "POST"])
@role_required(*ROLES)
def index():
    if request.method == "POST":
        files = [(f.filename or "", f.read()) for f in request.files.getlist("sessions") if f and f.filename]
        try:
            run_id = start_run(files, current_user.username)
        except SessionError as e:
            flash(str(e), "error")
            return redirect(url_for("calibration.index"))
        return redirect(url_for("calibration.run", run_id=run_id))
    return render_template("calibration/index.html", runs=list_runs())


@bp.get("/review/calibration/<run_id>")
@role_required(*ROLES)
def run(run_id):
    state = run_state(run_id)
    if state is None:
        abort(404)
    if request.args.get("format") == "json":
        return jsonify(state)
    return render_template("calibration/run.html", run=state)


@bp.get("/review/calibration/<run_id>/report.xlsx")
@role_required(*ROLES)
def export(run_id):
    """The report as a workbook: a summary sheet, one row per session, one row per disagreement."""
    from openpyxl import Workbook

    state = run_state(run_id)
    if state is None or "report" not in state:
        abort(404)
    report = state["report"]
    wb = Workbook()
    summary = wb.active
    summary.title = _("Summary")
    for key, label in (
        ("n", _("Sessions")),
        ("pass_fail_agreement", _("Pass/fail agreement")),
        ("kappa", _("Cohen's kappa")),
        ("spearman", _("Spearman (totals)")),
        ("gates_exact", _("Gates exact")),
        ("in_range", _("Totals in the examiner's range")),
    ):
        summary.append([label, report.get(key)])
    sessions = wb.create_sheet(_("Sessions"))
    sessions.append(
        [
            _("Session"),
            _("Scenario"),
            _("Level"),
            _("Examiner: pass"),
            _("Examiner: total"),
            _("Examiner: gates"),
            _("Grader: pass"),
            _("Grader: total"),
            _("Grader: points"),
            _("Grader: gates"),
        ]
    )
    items = wb.create_sheet(_("Disagreements"))
    items.append([_("Session"), _("Item"), _("Examiner"), _("Grader"), _("Note"), _("Evidence")])
    for row in report.get("sessions", []):
        e, g = row["examiner"], row["grader"]
        rng = e.get("total") or []
        sessions.append(
            [
                row["id"],
                row["scenario"],
                row["level"],
                e["pass"],
                "–".join(str(x) for x in rng),
                ", ".join(e["gates_failed"]),
                g["pass"],
                g["total"],
                g["points"],
                ", ".join(g["gates_failed"]),
            ]
        )
        for d in row["disagreements"]:
            items.append([row["id"], d["item"], d["examiner"], d["grader"], d["note"], " | ".join(d["evidence"])])
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return send_file(
        buf,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"calibration-{run_id}.xlsx",
    )
