"""Work-item pages: a trainee's work list and the work page (draft autosave, uploads, submit, result); the
leads' assign/queue page; the grading page for manual items. Thin: validate -> action -> respond."""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts.models import Group, User
from accounts.roles import role_required
from extensions import db

from .actions import (
    do_assign_work_item,
    do_claim_next_work_item,
    do_open_work_item,
    do_queue_work_items,
    do_save_work_item_draft,
    do_score_work_item,
    do_submit_work_item,
    do_upload_work_item_file,
    may_grade,
    result_withheld,
)
from .content import list_specs
from .kinds import TaskError
from .models import WorkItem, WorkItemEvent, WorkItemFile

bp = Blueprint("tasks", __name__)

MAX_UPLOAD = 5 * 1024 * 1024


def _item_or_404(item_id: int) -> WorkItem:
    item = db.session.get(WorkItem, item_id)
    if item is None:
        abort(404, description=_("No such work item."))
    return item


def _may_view(item: WorkItem) -> bool:
    return item.assignee_id == current_user.id or may_grade(current_user, item)


def _led_trainees() -> list[User]:
    q = select(User).where(User.role == "trainee", User.active.is_(True)).order_by(User.username)
    if current_user.role != "admin":
        q = q.where(User.group_id.in_(current_user.led_group_ids() or [-1]))
    return list(db.session.scalars(q))


def _led_groups() -> list[Group]:
    q = select(Group).order_by(Group.name)
    if current_user.role != "admin":
        q = q.where(Group.lead_id == current_user.id)
    return list(db.session.scalars(q))


@bp.route("/tasks")
@role_required("trainee", "lead", "admin", "grader")
def work_list():
    if current_user.role == "trainee":
        items = db.session.scalars(
            select(WorkItem).where(WorkItem.assignee_id == current_user.id).order_by(WorkItem.id.desc())
        ).all()
        queued = 0
        if current_user.group_id:
            queued = len(db.session.scalars(select(WorkItem.id).where(
                WorkItem.group_id == current_user.group_id, WorkItem.status == "queued")).all())  # fmt: skip
        return render_template("tasks/my_work.html", items=items, queued=queued, withheld=result_withheld)
    if current_user.role == "grader":
        items = db.session.scalars(
            select(WorkItem).where(WorkItem.status == "submitted").order_by(WorkItem.id.desc()).limit(200)
        ).all()
        return render_template("tasks/manage.html", items=items, specs=[], trainees=[], groups=[])
    trainees = _led_trainees()
    ids = [t.id for t in trainees] or [-1]
    groups = [g.id for g in _led_groups()] or [-1]
    items = db.session.scalars(
        select(WorkItem)
        .where((WorkItem.assignee_id.in_(ids)) | (WorkItem.group_id.in_(groups)))
        .order_by(WorkItem.id.desc())
        .limit(300)  # fmt: skip
    ).all()
    return render_template("tasks/manage.html", items=items, specs=list_specs(), trainees=trainees,
                           groups=_led_groups())  # fmt: skip


@bp.route("/tasks/assign", methods=["POST"])
@role_required("lead", "admin")
def assign():
    trainee = db.session.get(User, request.form.get("trainee_id", type=int) or -1)
    if trainee is None:
        flash(_("Choose a trainee."), "error")
        return redirect(url_for("tasks.work_list"))
    try:
        seed = request.form.get("seed", type=int)  # the same seed gives every trainee the same records
        item = do_assign_work_item(current_user, request.form.get("spec_id", ""), trainee, seed=seed)
    except TaskError as e:
        if e.status == 403:
            abort(403, description=e.message)
        flash(e.message, "error")
        return redirect(url_for("tasks.work_list"))
    flash(_("Work item %(id)d assigned to %(name)s.", id=item.id, name=trainee.display_name), "info")
    return redirect(url_for("tasks.work_list"))


@bp.route("/tasks/queue", methods=["POST"])
@role_required("lead", "admin")
def queue():
    group = db.session.get(Group, request.form.get("group_id", type=int) or -1)
    if group is None:
        flash(_("Choose a group."), "error")
        return redirect(url_for("tasks.work_list"))
    try:
        items = do_queue_work_items(current_user, request.form.get("spec_id", ""), group,
                                    request.form.get("count", type=int) or 1)  # fmt: skip
    except TaskError as e:
        if e.status == 403:
            abort(403, description=e.message)
        flash(e.message, "error")
        return redirect(url_for("tasks.work_list"))
    flash(_("%(n)d work item(s) queued for %(group)s.", n=len(items), group=group.name), "info")
    return redirect(url_for("tasks.work_list"))


@bp.route("/tasks/take-next", methods=["POST"])
@role_required("trainee")
def take_next():
    try:
        item = do_claim_next_work_item(current_user)
    except TaskError as e:
        abort(e.status, description=e.message)
    if item is None:
        flash(_("No queued work for you right now."), "info")
        return redirect(url_for("tasks.work_list"))
    return redirect(url_for("tasks.work_page", item_id=item.id))


@bp.route("/tasks/<int:item_id>")
@role_required("trainee", "lead", "admin", "grader")
def work_page(item_id: int):
    item = _item_or_404(item_id)
    if not _may_view(item):
        abort(403, description=_("This work item belongs to someone else."))
    if item.assignee_id != current_user.id:
        return redirect(url_for("tasks.grade_page", item_id=item.id))
    if item.status in ("submitted", "graded"):
        return redirect(url_for("tasks.result", item_id=item.id))
    try:
        do_open_work_item(current_user, item)
    except TaskError as e:
        abort(e.status, description=e.message)
    files = db.session.scalars(select(WorkItemFile).where(WorkItemFile.work_item_id == item.id)
                               .order_by(WorkItemFile.id)).all()  # fmt: skip
    config = {
        "kind": item.kind,
        "draftUrl": url_for("tasks.api_draft", item_id=item.id),
        "submitUrl": url_for("tasks.api_submit", item_id=item.id),
        "fileUrl": url_for("tasks.api_file", item_id=item.id),
        "resultUrl": url_for("tasks.result", item_id=item.id),
        "i18n": {
            "saved": _("Saved"),
            "saving": _("Saving…"),
            "confirm": _("Submit this work? It cannot be changed afterwards."),
            "uploaded": _("Uploaded"),
            "failed": _("Not saved"),
        },  # fmt: skip
    }
    return render_template("tasks/work.html", item=item, files=files, config=config, spec=item.spec)


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="send a JSON object")
    return body


def _own_open(item_id: int) -> WorkItem:
    item = _item_or_404(item_id)
    if item.assignee_id != current_user.id:
        abort(403, description=_("This work item belongs to someone else."))
    return item


@bp.route("/api/tasks/<int:item_id>/draft", methods=["POST"])
@role_required("trainee")
def api_draft(item_id: int):
    item = _own_open(item_id)
    try:
        do_save_work_item_draft(current_user, item, _json_body())
    except TaskError as e:
        return jsonify(error=e.message), e.status
    return jsonify(ok=True)


@bp.route("/api/tasks/<int:item_id>/submit", methods=["POST"])
@role_required("trainee")
def api_submit(item_id: int):
    item = _own_open(item_id)
    try:
        do_submit_work_item(current_user, item, _json_body() or None)
    except TaskError as e:
        return jsonify(error=e.message), e.status
    return jsonify(ok=True, status=item.status, result_url=url_for("tasks.result", item_id=item.id))


@bp.route("/api/tasks/<int:item_id>/files", methods=["POST"])
@role_required("trainee")
def api_file(item_id: int):
    item = _own_open(item_id)
    f = request.files.get("file")
    if f is None or not f.filename:
        return jsonify(error=_("Choose a file to upload.")), 400
    content = f.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        return jsonify(error=_("The file is larger than 5 MB.")), 400
    try:
        row = do_upload_work_item_file(current_user, item, f.filename, content)
    except TaskError as e:
        return jsonify(error=e.message), e.status
    return jsonify(ok=True, file={"id": row.id, "filename": row.filename, "kind": row.kind, "size": row.size})


@bp.route("/tasks/<int:item_id>/data.xlsx")
@role_required("trainee", "lead", "admin", "grader")
def data_xlsx(item_id: int):
    """The item's records as a spreadsheet, for work in an office program."""
    from openpyxl import Workbook

    item = _item_or_404(item_id)
    if not _may_view(item):
        abort(403)
    rows = item.data.get("rows") or []
    if not rows:
        abort(404, description=_("This work item has no records to download."))
    wb = Workbook()
    ws = wb.active
    ws.title = "data"
    cols = list(rows[0])
    ws.append(cols)
    for r in rows:
        ws.append([r.get(c) for c in cols])
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return send_file(buf, as_attachment=True, download_name=f"work-item-{item.id}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip


@bp.route("/tasks/<int:item_id>/result")
@role_required("trainee", "lead", "admin", "grader")
def result(item_id: int):
    item = _item_or_404(item_id)
    if not _may_view(item):
        abort(403)
    if item.status not in ("submitted", "graded"):
        if item.assignee_id == current_user.id:
            return redirect(url_for("tasks.work_page", item_id=item.id))
        abort(409, description=_("This work has not been submitted yet."))
    withheld = result_withheld(current_user, item)
    return render_template("tasks/result.html", item=item, card=None if withheld else item.scorecard,
                           withheld=withheld)  # fmt: skip


@bp.route("/tasks/<int:item_id>/grade", methods=["GET", "POST"])
@role_required("lead", "admin", "grader")
def grade_page(item_id: int):
    item = _item_or_404(item_id)
    if not may_grade(current_user, item):
        abort(403)
    if request.method == "POST":
        scores = {}
        for key, value in request.form.items():
            if key.startswith("score-"):
                iid = key[6:]
                scores[iid] = {"value": value, "note": request.form.get(f"note-{iid}", "")}
        try:
            do_score_work_item(current_user, item, scores)
        except TaskError as e:
            if e.status == 403:
                abort(403, description=e.message)
            flash(e.message, "error")
        else:
            flash(_("Scores saved."), "info")
        return redirect(url_for("tasks.grade_page", item_id=item.id))
    files = db.session.scalars(select(WorkItemFile).where(WorkItemFile.work_item_id == item.id)).all()
    evs = db.session.scalars(select(WorkItemEvent).where(WorkItemEvent.work_item_id == item.id)
                             .order_by(WorkItemEvent.seq)).all()  # fmt: skip
    return render_template("tasks/grade.html", item=item, card=item.scorecard, files=files, events=evs)


@bp.route("/tasks/files/<int:file_id>")
@role_required("trainee", "lead", "admin", "grader")
def download_file(file_id: int):
    f = db.session.get(WorkItemFile, file_id)
    if f is None:
        abort(404)
    if not _may_view(_item_or_404(f.work_item_id)):
        abort(403)
    return send_file(io.BytesIO(f.content), as_attachment=True, download_name=f.filename)
