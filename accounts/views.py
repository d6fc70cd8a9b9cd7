"""Login/logout, the role home redirect, and the admin pages for users and groups."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from extensions import db

from .forms import GroupForm, LoginForm, UserForm
from .models import Group, User
from .roles import role_required
from .services import AccountError, create_group, create_user
from .sessions import do_end_session, do_start_session
from .throttle import throttle_login

bp = Blueprint("accounts", __name__)

HOME_BY_ROLE = {
    "trainee": "desk.desk",
    "lead": "console.floor",
    "grader": "review.panel_list",
    "admin": "accounts.admin_users",
}


@bp.route("/login", methods=["GET", "POST"])
@throttle_login
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data))
        if user is None or not user.check_password(form.password.data) or not user.active:
            flash(_("Wrong username or password."), "error")
            return render_template("accounts/login.html", form=form), 401
        login_user(user)
        do_start_session(user.id)
        nxt = request.args.get("next")
        if nxt and urlparse(nxt).netloc == "" and nxt.startswith("/"):
            return redirect(nxt)
        return redirect(url_for("accounts.home"))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    do_end_session()
    logout_user()
    return redirect(url_for("accounts.login"))


@bp.route("/home")
@login_required
def home():
    endpoint = HOME_BY_ROLE.get(current_user.role, "accounts.login")
    try:
        return redirect(url_for(endpoint))
    except Exception:  # a page not yet enabled in this configuration
        return redirect(url_for("contacts.contact_list"))


@bp.route("/admin/users", methods=["GET", "POST"])
@role_required("admin")
def admin_users():
    form = UserForm()
    groups = db.session.scalars(select(Group).order_by(Group.name)).all()
    form.group_id.choices = [(0, "-")] + [(g.id, g.name) for g in groups]
    if form.validate_on_submit():
        group = db.session.get(Group, form.group_id.data) if form.group_id.data else None
        try:
            user = create_user(
                form.username.data,
                form.password.data,
                form.role.data,
                display_name=form.display_name.data,
                level=form.level.data or None,
                group=group,
            )
        except AccountError as e:
            flash(str(e), "error")
        else:
            flash(_("Created %(name)s.", name=user.username), "ok")
            return redirect(url_for("accounts.admin_users"))
    users = db.session.scalars(select(User).order_by(User.role, User.username)).all()
    return render_template("accounts/admin_users.html", form=form, users=users)


@bp.route("/admin/groups", methods=["GET", "POST"])
@role_required("admin")
def admin_groups():
    form = GroupForm()
    leads = db.session.scalars(select(User).where(User.role.in_(("lead", "admin"))).order_by(User.username)).all()
    form.lead_id.choices = [(0, "-")] + [(u.id, u.display_name) for u in leads]
    if form.validate_on_submit():
        lead = db.session.get(User, form.lead_id.data) if form.lead_id.data else None
        try:
            g = create_group(form.name.data, lead)
        except AccountError as e:
            flash(str(e), "error")
        else:
            flash(_("Created group %(name)s.", name=g.name), "ok")
            return redirect(url_for("accounts.admin_groups"))
    groups = db.session.scalars(select(Group).order_by(Group.name)).all()
    return render_template("accounts/admin_groups.html", form=form, groups=groups)
