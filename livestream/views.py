"""Livestream pages: the list and start form, the presenter's page, the viewer's page (staff or guest link)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts.models import Group, User
from accounts.roles import role_required
from contacts.actions import ActionError
from extensions import db
from i18n import current_lang

from .actions import (
    PRESENTER_ROLES,
    VIEWER_ROLES,
    contact_for_guest_token,
    get_livestream,
    guest_token,
    livestream_settings,
    livestreams_for,
    may_watch,
    start_livestream,
)

livestream_bp = Blueprint("livestream", __name__)


def _presenters_for(user: User) -> list[User]:
    """Whom this user may start a livestream for: themselves, and a lead's (admin's: every) trainees."""
    if user.role == "admin":
        return list(db.session.scalars(select(User).where(User.role.in_(PRESENTER_ROLES)).order_by(User.username)))
    people = [user]
    if user.role == "lead":
        group_ids = user.led_group_ids()
        people += list(db.session.scalars(select(User).where(User.group_id.in_(group_ids)).order_by(User.username)))
    return people


def _groups_for(user: User) -> list[Group]:
    q = select(Group).order_by(Group.name)
    if user.role != "admin":
        q = q.where(Group.lead_id == user.id) if user.role == "lead" else q.where(Group.id == user.group_id)
    return list(db.session.scalars(q))


@livestream_bp.route("/livestream")
@role_required(*VIEWER_ROLES)
def index():
    """Live streams the user may watch, and (for presenters and leads) the start form."""
    return render_template(
        "livestream/index.html",
        streams=[(c, livestream_settings(c)) for c in livestreams_for(current_user)],
        presenters=_presenters_for(current_user) if current_user.role in PRESENTER_ROLES else [],
        groups=_groups_for(current_user) if current_user.role in PRESENTER_ROLES else [],
        lang=current_lang(),
    )


@livestream_bp.route("/livestream/start", methods=["POST"])
@role_required(*PRESENTER_ROLES)
def start():
    """Start a livestream (the console's one-to-many launcher posts here too). Form or JSON:
    presenter_id, group_id, title, lang, audience_size, comment_rate."""
    data = request.get_json(silent=True) if request.is_json else request.form
    try:
        presenter_id = int(data.get("presenter_id") or current_user.id)
        presenter = db.session.get(User, presenter_id)
        if presenter is None:
            raise ActionError(f"no user {presenter_id}")
        contact = start_livestream(
            presenter,
            title=data.get("title") or "",
            lang=data.get("lang") or current_lang(),
            group_id=int(data["group_id"]) if data.get("group_id") else None,
            audience_size=data.get("audience_size", 20),
            comment_rate=data.get("comment_rate", 6),
            started_by=current_user._get_current_object(),
        )
    except (ActionError, ValueError) as e:
        db.session.rollback()
        if request.is_json:
            return jsonify(error=str(e)), 400
        flash(str(e), "error")
        return redirect(url_for("livestream.index"))
    target = "livestream.present" if contact.agent_id == current_user.id else "livestream.watch"
    if request.is_json:
        return jsonify(
            id=contact.id,
            present_url=url_for("livestream.present", stream_id=contact.id),
            watch_url=url_for("livestream.watch", stream_id=contact.id),
        ), 201
    return redirect(url_for(target, stream_id=contact.id))


def _stream_or_404(stream_id: int):
    try:
        return get_livestream(stream_id)
    except ActionError:
        abort(404)


def _i18n() -> dict:
    """Text the livestream scripts show, in the page's language."""
    return {
        "connecting": _("Connecting…"),
        "live": _("Live"),
        "offline": _("Not live"),
        "waiting": _("Waiting for the presenter…"),
        "dropped": _("The presenter's connection dropped. The stream resumes when they are back."),
        "ended": _("This livestream has ended."),
        "answered": _("answered"),
        "pinned": _("Pinned"),
        "markAnswered": _("Mark answered"),
        "pin": _("Pin answer"),
        "moveToChat": _("Move to 1:1 chat"),
        "reply": _("Reply"),
        "movedToChat": _("moved to a one-to-one chat"),
        "presenter": _("Presenter"),
        "pinPrompt": _("Answer to pin above the chat:"),
        "privateChat": _("The presenter invited you to a private chat."),
        "openChat": _("Open private chat"),
        "viewers": _("viewers"),
        "watchingVideo": _("%(n)s watching the video", n="__N__"),
        "inChat": _("%(n)s in the audience", n="__N__"),
        "camError": _("Camera or microphone unavailable:"),
        "reconnecting": _("Connection lost — reconnecting…"),
    }


def _page_config(contact, role: str, guest: str | None = None) -> dict:
    return {
        "streamId": contact.id,
        "title": contact.subject,
        "role": role,
        "guest": guest,
        "maxChars": current_app.config["LIVESTREAM_COMMENT_MAX_CHARS"],
        "i18n": _i18n(),
    }


@livestream_bp.route("/livestream/<int:stream_id>/present")
@role_required(*PRESENTER_ROLES)
def present(stream_id: int):
    """The presenter's page: camera preview, go live / stop, the comment feed with its actions."""
    contact = _stream_or_404(stream_id)
    if contact.agent_id != current_user.id:
        abort(403, _("Only the presenter can open this page."))
    return render_template(
        "livestream/present.html",
        stream=contact,
        guest_link=url_for("livestream.guest", token=guest_token(contact), _external=True),
        page=_page_config(contact, "presenter"),
        brief=livestream_settings(contact).get("brief"),  # a skill exam's session: what to cover
    )


@livestream_bp.route("/livestream/<int:stream_id>/watch")
@role_required(*VIEWER_ROLES)
def watch(stream_id: int):
    """The viewer's page for staff: the video and the live chat."""
    contact = _stream_or_404(stream_id)
    if not may_watch(current_user, contact):
        abort(403, _("This livestream is for another group."))
    return render_template("livestream/watch.html", stream=contact, page=_page_config(contact, "viewer"))


@livestream_bp.route("/livestream/guest/<token>")
def guest(token: str):
    """A guest's viewer page, opened from a signed link (no login)."""
    try:
        contact = contact_for_guest_token(token)
    except ActionError:
        abort(404)
    return render_template("livestream/watch.html", stream=contact, page=_page_config(contact, "guest", token))


@livestream_bp.route("/api/livestream/<int:stream_id>/guest-link")
@role_required(*PRESENTER_ROLES)
def guest_link(stream_id: int):
    contact = _stream_or_404(stream_id)
    if contact.agent_id != current_user.id and not current_user.leads_group_of(contact.agent):
        abort(403)
    return jsonify(link=url_for("livestream.guest", token=guest_token(contact), _external=True))
