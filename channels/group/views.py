"""Pages and JSON API of group chat: the rooms list and start form (/group), the agent's room page
(/group/rooms/<id>), the customer's join page (/group/join/<id>?t=<token>) and /api/group/rooms."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from accounts.models import Group, User
from accounts.roles import role_required
from contacts.actions import ActionError
from extensions import db
from i18n import current_lang
from scenarios.group import GroupContentError, group_scenarios
from scenarios.registry import get_pack

from .actions import open_rooms_for
from .recording import STAFF_ROLES, get_room, may_serve, room_state
from .sessions import start_group_room

bp = Blueprint("group", __name__)


def _scenarios(lang: str) -> list[dict]:
    try:
        found = group_scenarios(lang)
    except GroupContentError:
        current_app.logger.exception("group scenarios of %s are invalid", lang)
        return []
    return [{"id": s.id, "title": s.title, "level": s.level, "mix": s.mix.model_dump()} for s in found.values()]


def _assignable() -> tuple[list[User], list[Group]]:
    """Trainees and groups the current user may start rooms for."""
    if current_user.role == "admin":
        users = db.session.scalars(select(User).where(User.role == "trainee").order_by(User.username)).all()
        groups = db.session.scalars(select(Group).order_by(Group.name)).all()
    elif current_user.role == "lead":
        groups = db.session.scalars(select(Group).where(Group.lead_id == current_user.id).order_by(Group.name)).all()
        ids = [g.id for g in groups]
        users = (
            db.session.scalars(
                select(User).where(User.group_id.in_(ids), User.role == "trainee").order_by(User.username)
            ).all()
            if ids
            else []
        )
    else:
        users, groups = [], []
    return list(users), list(groups)


def _mix_from(form) -> dict | None:
    mix = {}
    for key in ("off_topic", "rude", "individual"):
        raw = (form.get(key) or "").strip()
        if raw:
            try:
                mix[key] = float(raw) / 100.0
            except ValueError as e:
                raise ActionError(f"{key} must be a percentage") from e
    return mix or None


@bp.route("/group")
@role_required(*STAFF_ROLES)
def rooms():
    """My open rooms, and the form to start one (for myself; a lead also for a trainee or a group)."""
    users, groups = _assignable()
    return render_template(
        "group/rooms.html",
        rooms=open_rooms_for(current_user),
        scenarios=_scenarios(current_lang()),
        trainees=users,
        groups=groups,
        max_audience=current_app.config.get("GROUP_MAX_AUDIENCE", 50),
    )


@bp.post("/group")
@role_required(*STAFF_ROLES)
def start():
    """The start form (CSRF-checked): one room for me, a trainee, or each trainee of a group."""
    form = request.form
    try:
        target = form.get("target") or "me"
        agent_ids = group_id = None
        if target.startswith("user:"):
            agent_ids = [target[5:]]
        elif target.startswith("group:"):
            group_id = target[6:]
        made = start_group_room(
            current_user._get_current_object(),
            form.get("scenario_id") or "",
            audience=form.get("audience") or 20,
            mix=_mix_from(form),
            agent_ids=agent_ids,
            group_id=group_id,
        )
    except ActionError as e:
        db.session.rollback()
        flash(str(e), "error")
        return redirect(url_for("group.rooms"))
    mine = [r for r in made if r.agent_id == current_user.id]
    if mine:
        return redirect(url_for("group.room_page", room_id=mine[0].id))
    flash(f"{len(made)} group room(s) started", "info")
    return redirect(url_for("group.rooms"))


@bp.route("/group/rooms/<int:room_id>")
@role_required(*STAFF_ROLES)
def room_page(room_id: int):
    """The agent's room: feed, customers with their state, need clusters, pins, mention picker, move to 1:1."""
    try:
        room = get_room(room_id)
    except ActionError:
        return render_template("error.html", code=404, message="no such group room"), 404
    if not may_serve(current_user, room):
        return render_template("error.html", code=403, message="this group room is not yours"), 403
    pack = get_pack(room.lang)
    return render_template(
        "group/room.html",
        room=room,
        join_url=url_for("group.join_page", room_id=room.id, t=room.customer_token, _external=True),
        wrap_up_codes=[c.model_dump() for c in pack.wrap_up_codes] if pack else [],
        max_chars=current_app.config.get("GROUP_MESSAGE_MAX_CHARS", 1000),
    )


@bp.route("/group/join/<int:room_id>")
def join_page(room_id: int):
    """A person joins the room as a customer with the room's link (no staff login, as in a real group)."""
    token = request.args.get("t") or ""
    try:
        room = get_room(room_id)
    except ActionError:
        room = None
    if room is None or token != room.customer_token:
        return render_template("error.html", code=404, message="this join link is not valid"), 404
    return render_template(
        "group/join.html",
        room=room,
        token=token,
        lang=current_lang(),
        max_chars=current_app.config.get("GROUP_MESSAGE_MAX_CHARS", 1000),
    )


@bp.post("/api/group/rooms")
@role_required(*STAFF_ROLES)
def api_start():
    """JSON: ``{"scenario_id", "audience", "mix", "agent_ids" | "group_id", "seed"}`` -> the rooms opened."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(error="send a JSON object"), 400
    try:
        made = start_group_room(
            current_user._get_current_object(),
            str(data.get("scenario_id") or ""),
            audience=data.get("audience", 20),
            mix=data.get("mix") if isinstance(data.get("mix"), dict) else None,
            agent_ids=data.get("agent_ids"),
            group_id=data.get("group_id"),
            seed=data.get("seed") if isinstance(data.get("seed"), int) else None,
        )
    except ActionError as e:
        db.session.rollback()
        return jsonify(error=str(e)), 400
    return jsonify(
        rooms=[{"id": r.id, "agent_id": r.agent_id, "url": url_for("group.room_page", room_id=r.id)} for r in made]
    ), 201


@bp.get("/api/group/rooms/<int:room_id>")
@role_required(*STAFF_ROLES)
def api_room(room_id: int):
    """JSON: the room's live view (members, clusters, pins)."""
    try:
        room = get_room(room_id)
    except ActionError as e:
        return jsonify(error=str(e)), 404
    if not may_serve(current_user, room):
        return jsonify(error="this group room is not yours"), 403
    return jsonify(room_state(room.id).snapshot())
