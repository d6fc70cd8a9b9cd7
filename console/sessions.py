"""One-to-many sessions from the console: a lead starts a group room or a livestream for a group (or one
trainee), choosing the audience size and mix, and sees the sessions running in their groups.

The rooms and streams themselves belong to the group chat channel (``channels.group.sessions.start_group_room``)
and to ``livestream.actions.start_livestream``, which also check who may start what; these routes only
collect the lead's choices, call them, and link to their pages.
"""

from __future__ import annotations

from flask import abort, current_app, jsonify, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from accounts.models import Group, User
from accounts.roles import role_required
from channels.group.sessions import start_group_room
from contacts.actions import ActionError
from contacts.models import Contact
from extensions import db
from i18n import current_lang
from livestream.actions import start_livestream
from scenarios.group import GroupContentError, group_scenarios

from .views import bp

ONE_TO_MANY = ("group", "livestream")
MIX_KEYS = ("off_topic", "rude", "individual")


def launchers() -> dict[str, bool]:
    """Which one-to-many channels this server runs (their blueprints are registered when enabled)."""
    return {"group": "group" in current_app.blueprints, "livestream": "livestream" in current_app.blueprints}


def _my_groups() -> list[Group]:
    q = select(Group).order_by(Group.name)
    if current_user.role != "admin":
        q = q.where(Group.lead_id == current_user.id)
    return list(db.session.scalars(q))


def _trainees(groups: list[Group]) -> list[User]:
    ids = [g.id for g in groups]
    if not ids:
        return []
    q = select(User).where(User.group_id.in_(ids), User.role == "trainee", User.active.is_(True))
    return list(db.session.scalars(q.order_by(User.display_name)))


def running_sessions(groups: list[Group]) -> list[dict]:
    """Group rooms and livestreams running now, served by the lead, an admin's anyone, or a group's trainee."""
    q = select(Contact).where(Contact.channel.in_(ONE_TO_MANY), Contact.status == "active")
    if current_user.role != "admin":
        ids = {u.id for u in _trainees(groups)} | {current_user.id}
        q = q.where(Contact.agent_id.in_(ids))
    names = {u.id: u.display_name for u in db.session.scalars(select(User))}
    out = []
    for c in db.session.scalars(q.order_by(Contact.created_at.desc())):
        out.append({**c.summary(), "agent_name": names.get(c.agent_id), "url": _session_url(c)})
    return out


def _session_url(contact: Contact) -> str:
    if contact.channel == "livestream":
        endpoint = "livestream.present" if contact.agent_id == current_user.id else "livestream.watch"
        return url_for(endpoint, stream_id=contact.id)
    return url_for("group.room_page", room_id=contact.id)


def _group_scenarios() -> list[dict]:
    if not launchers()["group"]:
        return []
    try:
        found = group_scenarios(current_lang())
    except GroupContentError:
        return []
    return [{"id": s.id, "title": s.title, "level": s.level, "mix": s.mix.model_dump()} for s in found.values()]


@bp.route("/floor/sessions")
@role_required("lead", "admin")
def sessions():
    """Start a group room or a livestream for a group, and the one-to-many sessions running now."""
    groups = _my_groups()
    return render_template(
        "console/sessions.html",
        groups=groups,
        trainees=_trainees(groups),
        scenarios=_group_scenarios(),
        running=running_sessions(groups),
        lang=current_lang(),
        launchers=launchers(),
    )


def _json() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ActionError("send the session's settings as a JSON object")
    return data


def _mix(data: dict) -> dict | None:
    """The audience mix in percent (off-topic, rude, individual needs), as the group room takes it (shares)."""
    raw = data.get("mix")
    if raw in (None, {}):
        return None
    if not isinstance(raw, dict) or set(raw) - set(MIX_KEYS):
        raise ActionError(f"mix takes percentages for {', '.join(MIX_KEYS)}")
    mix = {}
    for key, value in raw.items():
        try:
            pct = float(value)
        except (TypeError, ValueError) as e:
            raise ActionError(f"{key} must be a percentage") from e
        if not 0 <= pct <= 100:
            raise ActionError(f"{key} must be 0 to 100 %")
        mix[key] = pct / 100
    return mix


def _target(data: dict) -> tuple[list[int] | None, int | None]:
    """``target``: "group:<id>" (every trainee of the group) or "user:<id>" (one trainee, or the lead)."""
    target = str(data.get("target") or "")
    kind, _, ident = target.partition(":")
    if kind not in ("group", "user") or not ident.isdigit():
        raise ActionError("choose a group or a trainee to serve the audience")
    return ([int(ident)], None) if kind == "user" else (None, int(ident))


@bp.post("/api/floor/sessions/group")
@role_required("lead", "admin")
def api_start_group_room():
    """Start group rooms: one per trainee of the group (or for one trainee), each with its own simulated
    audience of ``audience`` customers in the chosen mix."""
    if not launchers()["group"]:
        abort(404, description="group chat is not enabled on this server")
    try:
        data = _json()
        agent_ids, group_id = _target(data)
        rooms = start_group_room(
            current_user._get_current_object(),
            str(data.get("scenario_id") or ""),
            audience=data.get("audience", 20),
            mix=_mix(data),
            agent_ids=agent_ids,
            group_id=group_id,
            seed=data.get("seed"),
        )
    except (ActionError, ValueError) as e:
        db.session.rollback()
        return jsonify(error=str(e)), 400
    return jsonify(rooms=[{"id": r.id, "agent_id": r.agent_id, "url": _session_url(r)} for r in rooms]), 201


@bp.post("/api/floor/sessions/livestream")
@role_required("lead", "admin")
def api_start_livestream():
    """Start a livestream presented by a trainee of the lead's group (or the lead) for that group, with a
    simulated audience of ``audience_size`` viewers posting ``comment_rate`` comments a minute."""
    if not launchers()["livestream"]:
        abort(404, description="livestreams are not enabled on this server")
    try:
        data = _json()
        presenter_id = data.get("presenter_id") or current_user.id
        presenter = db.session.get(User, int(presenter_id))
        if presenter is None:
            raise ActionError(f"no user {presenter_id}")
        group_id = data.get("group_id")
        contact = start_livestream(
            presenter,
            title=str(data.get("title") or ""),
            lang=str(data.get("lang") or current_lang()),
            group_id=int(group_id) if group_id not in (None, "") else None,
            audience_size=data.get("audience_size", 20),
            comment_rate=data.get("comment_rate", 6),
            started_by=current_user._get_current_object(),
        )
    except (ActionError, ValueError, TypeError) as e:
        db.session.rollback()
        return jsonify(error=str(e)), 400
    return jsonify(id=contact.id, url=_session_url(contact)), 201
