"""The floor page, the monitoring page and the exercises page."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_login import current_user

from accounts.models import Group
from accounts.roles import role_required
from contacts.models import Contact
from extensions import db
from i18n import current_lang
from scenarios.registry import list_scenarios
from simulator.models import Exercise
from simulator.views import may_manage_exercise

from .floor import floor_snapshot

bp = Blueprint("console", __name__)


@bp.route("/floor")
@role_required("lead", "admin")
def floor():
    return render_template("console/floor.html")


@bp.route("/api/floor")
@role_required("lead", "admin")
def api_floor():
    return jsonify(floor_snapshot(current_user))


@bp.route("/floor/monitor/<int:contact_id>")
@role_required("lead", "admin", "grader")
def monitor(contact_id: int):
    """Watch one live contact: its transcript and the customer's mood live; coach, take over; on calls listen,
    whisper and barge. 403 for a contact outside the lead's groups."""
    from flask import abort

    from .monitoring import monitor_rights

    contact = db.session.get(Contact, contact_id)
    if contact is None:
        abort(404)
    rights = monitor_rights(current_user, contact)
    if "watch" not in rights:
        abort(403, description="this contact is outside your groups")
    return render_template("console/monitor.html", contact=contact, rights=sorted(rights))


@bp.route("/floor/exercises")
@role_required("lead", "admin")
def exercises():
    """Plan, start and stop exercises: a mix of simulated customers arriving as a Poisson process."""
    from sqlalchemy import select

    lang = current_lang()
    rows = db.session.scalars(select(Exercise).order_by(Exercise.id.desc()).limit(300)).all()
    rows = [ex for ex in rows if may_manage_exercise(current_user, ex)][:100]
    groups = db.session.scalars(select(Group).order_by(Group.name)).all()
    if current_user.role == "lead":
        groups = [g for g in groups if g.lead_id == current_user.id]
    scenarios = [{"id": s.id, "title": s.title, "level": s.level} for s in list_scenarios(lang=lang, channel="chat")]
    return render_template("console/exercises.html", exercises=rows, groups=groups, scenarios=scenarios, lang=lang)
