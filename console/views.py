"""The floor page."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_login import current_user

from accounts.roles import role_required

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
