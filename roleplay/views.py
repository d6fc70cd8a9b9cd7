"""Role-play pages and API: open a role-play from a scenario, list the links, and the role-player's card."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.models import User
from accounts.roles import role_required
from contacts.actions import ActionError
from extensions import db
from i18n import current_lang
from scenarios.registry import get_scenario, list_scenarios
from simulator.chat_customers import identity_of
from tickets.crm import customer_by_ref

from .actions import RolePlayError, do_open_roleplay, roleplay_for_token, roleplays_visible_to
from .models import ROLEPLAY_CHANNELS, RolePlay

bp = Blueprint("roleplay", __name__)
OPENERS = ("trainee", "lead", "admin")


def customer_link(rp: RolePlay) -> str:
    """Where the role-player goes: the chat page, or the call page for a voice or video role-play."""
    page = "customer.customer_chat" if rp.channel == "chat" else "voice.caller_page"
    if rp.channel == "email":
        page = "roleplay.email_card"
        return url_for(page, token=rp.token, _external=True)
    return url_for(page, roleplay=rp.token, lang=rp.lang, _external=True)


def card_for(rp: RolePlay) -> dict | None:
    """The customer card of a role-play (None for a free role-play)."""
    from .card import customer_card

    scenario = get_scenario(rp.scenario_id) if rp.scenario_id else None
    if scenario is None:
        return None
    return customer_card(scenario, identity_of(customer_by_ref(scenario.customer.crm_ref, rp.lang)))


def _dict(rp: RolePlay) -> dict:
    return {**rp.summary(), "link": customer_link(rp)}


@bp.post("/api/roleplays")
@role_required(*OPENERS)
def api_open():
    """Open a role-play: ``scenario_id`` (or ``channel`` + ``lang`` for a free one) and optionally ``agent_id``."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(error="send a JSON object"), 400
    try:
        rp = do_open_roleplay(
            current_user._get_current_object(),
            scenario_id=data.get("scenario_id"),
            channel=data.get("channel"),
            lang=data.get("lang"),
            agent_id=data.get("agent_id"),
        )
    except RolePlayError as e:
        return jsonify(error=str(e)), 400
    return jsonify({**_dict(rp), "token": rp.token}), 201


@bp.get("/api/roleplays")
@role_required(*OPENERS)
def api_list():
    return jsonify(roleplays=[_dict(rp) for rp in roleplays_visible_to(current_user._get_current_object())])


@bp.get("/api/roleplays/card")
def api_card():
    """The role-player's card, by the link's token (no login: the person playing the customer has none)."""
    try:
        rp = roleplay_for_token(request.args.get("token"))
    except RolePlayError as e:
        return jsonify(error=str(e)), 404
    return jsonify(channel=rp.channel, lang=rp.lang, card=card_for(rp))


@bp.post("/api/roleplays/start")
def api_start():
    """The role-player starts: a chat or a call contact with the scenario attached. The reply is what the
    customer page holds afterwards (contact id and the customer's token), as after an ordinary start."""
    from .actions import do_start_roleplay_call, do_start_roleplay_chat

    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(error="send a JSON object"), 400
    token, name = data.get("token"), str(data.get("name") or "")
    try:
        rp = roleplay_for_token(token)
        if rp.channel == "chat":
            contact = do_start_roleplay_chat(token, name=name, queue=data.get("queue"))
        elif rp.channel in ("voice", "video"):
            contact = do_start_roleplay_call(token, name=name, queue=data.get("queue"))
        else:
            raise RolePlayError(f"an {rp.channel} role-play starts by writing to {roleplay_address(rp)}")
    except ActionError as e:  # RolePlayError, or the channel's own refusal (e.g. routing unavailable)
        return jsonify(error=str(e)), 400
    return jsonify(
        contact_id=contact.id, token=contact.customer_token, status=contact.status, channel=contact.channel
    ), 201


def _trainees() -> list[User]:
    if current_user.role == "trainee":
        return []
    q = db.select(User).where(User.role == "trainee", User.active.is_(True)).order_by(User.username)
    if current_user.role == "lead":
        q = q.where(User.group_id.in_(current_user.led_group_ids() or [-1]))
    return list(db.session.scalars(q))


@bp.route("/roleplay", methods=["GET", "POST"])
@role_required(*OPENERS)
def page():
    """Open role-plays and share their links; the list shows where each one stands."""
    if request.method == "POST":
        try:
            rp = do_open_roleplay(
                current_user._get_current_object(),
                scenario_id=request.form.get("scenario_id") or None,
                channel=request.form.get("channel") or None,
                lang=request.form.get("lang") or current_lang(),
                agent_id=request.form.get("agent_id") or None,
            )
        except RolePlayError as e:
            flash(str(e), "error")
            return redirect(url_for("roleplay.page"))
        flash(_("Role-play opened: send the link to the person playing the customer."), "ok")
        return redirect(url_for("roleplay.page", opened=rp.id))
    scenarios = [s for s in list_scenarios(lang=current_lang()) if s.channel in ROLEPLAY_CHANNELS]
    rows = [{"rp": rp, "link": customer_link(rp)} for rp in roleplays_visible_to(current_user._get_current_object())]
    return render_template(
        "roleplay/page.html",
        scenarios=scenarios,
        trainees=_trainees(),
        rows=rows,
        channels=ROLEPLAY_CHANNELS,
        opened=request.args.get("opened", type=int),
    )


@bp.get("/customer/roleplay/<token>")
def email_card(token):
    """An email role-play: the card and the address to write to (the mail carries the role-play's tag)."""
    try:
        rp = roleplay_for_token(token, channel="email")
    except RolePlayError:
        abort(404)
    return render_template("roleplay/email_card.html", rp=rp, card=card_for(rp), address=roleplay_address(rp))


def roleplay_address(rp: RolePlay) -> str:
    """The centre's address with the role-play's tag: mail to it becomes this role-play's contact."""
    from flask import current_app

    domain = current_app.config.get("EMAIL_DOMAIN", "kefu.local")
    return f"service+rp-{rp.token}@{domain}"
