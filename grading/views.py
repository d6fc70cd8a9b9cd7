"""The scorecard page of a recorded contact: items with status, points and evidence linked to the transcript."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user
from sqlalchemy import select

from accounts.roles import role_required
from contacts.models import Contact
from contacts.views import STAFF, can_view
from extensions import db

from .actions import current_scorecard
from .models import Scorecard

bp = Blueprint("grading", __name__)


@bp.route("/contacts/<int:contact_id>/scorecard")
@role_required(*STAFF)
def scorecard(contact_id: int):
    """The trainee who handled the contact (their practice feedback), leads of their group, graders, admins."""
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        abort(404)
    if not can_view(current_user, contact):
        abort(403)
    from .exams import feedback_withheld

    if feedback_withheld(current_user, contact.id):  # an exam candidate sees nothing before the release
        abort(403, description="the result of this exam has not been released yet")
    row = current_scorecard(contact.id)
    return render_template("grading/scorecard.html", contact=contact, row=row, sc=row.data if row else None)


def list_scores(contact_ids: list[int]) -> dict[int, dict]:
    """The current scorecard's total per contact, for the contact list's score column (contacts/views.py)."""
    rows = db.session.scalars(
        select(Scorecard)
        .where(Scorecard.contact_id.in_(contact_ids), Scorecard.current.is_(True))
        .order_by(Scorecard.id)
    )
    return {r.contact_id: {"total": r.total, "passed": r.passed, "gated": r.gated} for r in rows}
