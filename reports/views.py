"""Report pages and their XLSX/PDF exports (``?format=xlsx`` or ``?format=pdf``).

Who sees what: a trainee only their own report; a lead the groups they lead and those groups' trainees;
graders and admins everything. Thin: check the role, build the report dict, render or export it."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts.models import Group, User
from accounts.roles import role_required
from extensions import db

from . import charts
from .data import group_report, trainee_report
from .export import to_pdf, to_xlsx
from .graders import grader_report

bp = Blueprint("reports", __name__)
ALL = ("grader", "admin")
MIMES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _respond(report: dict, template: str, filename: str, **chart_svgs):
    fmt = request.args.get("format")
    if fmt in MIMES:
        body = to_xlsx(report) if fmt == "xlsx" else to_pdf(report)
        return Response(
            body, mimetype=MIMES[fmt], headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'}
        )
    if fmt:
        abort(400, description=_("Unknown export format; use xlsx or pdf."))
    return render_template(template, report=report, **chart_svgs)


@bp.route("/reports")
@role_required("trainee", "lead", "grader", "admin")
def index():
    if current_user.role == "trainee":
        return redirect(url_for("reports.trainee", user_id=current_user.id))
    groups = select(Group).order_by(Group.name)
    if current_user.role == "lead":
        groups = groups.where(Group.lead_id == current_user.id)
    groups = list(db.session.scalars(groups))
    trainees = select(User).where(User.role == "trainee").order_by(User.username)
    if current_user.role == "lead":
        trainees = trainees.where(User.group_id.in_([g.id for g in groups] or [-1]))
    return render_template(
        "reports/index.html",
        groups=groups,
        trainees=list(db.session.scalars(trainees)),
        graders=current_user.role in ALL,
    )


@bp.route("/reports/trainees/<int:user_id>")
@role_required("trainee", "lead", "grader", "admin")
def trainee(user_id: int):
    user = db.session.get(User, user_id)
    if user is None or user.role != "trainee":
        abort(404, description=_("No such trainee."))
    allowed = (
        user.id == current_user.id
        or current_user.role in ALL
        or (current_user.role == "lead" and current_user.leads_group_of(user))
    )
    if not allowed:
        abort(403, description=_("You may not see this trainee's report."))
    report = trainee_report(user, current_user)
    return _respond(
        report,
        "reports/trainee.html",
        f"trainee-{user.username}",
        line=charts.line_chart(report["charts"]["line"], _("Scores over time")),
        bars=charts.rate_bars(report["charts"]["bars"], _("Weakest skill codes")),
    )


@bp.route("/reports/groups/<int:group_id>")
@role_required("lead", "grader", "admin")
def group(group_id: int):
    grp = db.session.get(Group, group_id)
    if grp is None:
        abort(404, description=_("No such group."))
    if current_user.role == "lead" and grp.lead_id != current_user.id:
        abort(403, description=_("You may not see this group's report."))
    report = group_report(grp)
    return _respond(
        report,
        "reports/group.html",
        f"group-{grp.id}",
        hist=charts.histogram(report["charts"]["hist"], _("Score distribution")),
        bars=charts.rate_bars(report["charts"]["bars"], _("Item difficulty (share passing)")),
    )


@bp.route("/reports/graders")
@role_required(*ALL)
def graders():
    report = grader_report()
    return _respond(
        report,
        "reports/graders.html",
        "graders",
        bars=charts.rate_bars(report["charts"]["bars"], _("Agreement with median")),
    )
