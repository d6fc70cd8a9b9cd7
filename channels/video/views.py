"""The video desk's JSON API. Thin: check the role and the contact, call one action, answer."""

from __future__ import annotations

import functools

from flask import Blueprint, jsonify, request
from flask_login import current_user

from accounts.roles import role_required
from channels.practice import practice_scenarios
from contacts.actions import ActionError, get_contact
from contacts.models import ContactEvent
from contacts.views import STAFF, load_contact_for
from extensions import db
from scenarios.registry import get_scenario, scenario_lang
from tickets.models import Customer

from .actions import do_record_camera_unavailable, do_record_id_verification

bp = Blueprint("video", __name__)
AGENT_ROLES = ("trainee", "lead", "admin")


@bp.errorhandler(ActionError)
def _refused(e: ActionError):
    return jsonify(error=str(e)), 400


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ActionError("send a JSON object")
    return data


def _own_video_contact(contact_id: int):
    contact = get_contact(contact_id)
    if contact.channel != "video":
        raise ActionError(f"contact {contact.id} is not a video call")
    if contact.agent_id != current_user.id:
        return None
    return contact


@bp.post("/api/video/contacts/<int:contact_id>/id-verification")
@role_required(*AGENT_ROLES)
def api_id_verification(contact_id: int):
    """Record approved / refused (with a reason) for the ID the caller showed."""
    data = _body()
    contact = _own_video_contact(contact_id)
    if contact is None:
        return jsonify(error="this contact is not on your desk"), 403
    event = do_record_id_verification(
        current_user._get_current_object(), contact, data.get("decision"), data.get("reason") or ""
    )
    return jsonify(ok=True, event=event)


@bp.post("/api/video/contacts/<int:contact_id>/camera-unavailable")
@role_required(*AGENT_ROLES)
def api_camera_unavailable(contact_id: int):
    """The browser could not open the camera: the call continues voice-only, and the recording says why."""
    data = _body()
    contact = _own_video_contact(contact_id)
    if contact is None:
        return jsonify(error="this contact is not on your desk"), 403
    event = do_record_camera_unavailable(
        current_user._get_current_object(), contact, str(data.get("reason") or ""), str(data.get("detail") or "")
    )
    return jsonify(ok=True, event=event)


def video_recordings(contact_id: int) -> dict[str, dict]:
    """The last ``video.recording`` event's data of each leg: {leg: {path, offset, started_at, ...}}."""
    from sqlalchemy import select

    evs = db.session.scalars(
        select(ContactEvent)
        .where(ContactEvent.contact_id == contact_id, ContactEvent.type == "video.recording")
        .order_by(ContactEvent.seq)
    )
    return {e.data["leg"]: dict(e.data) for e in evs if (e.data or {}).get("leg")}


@bp.get("/contacts/<int:contact_id>/recording/<leg>.webm")
@role_required(*STAFF)
def recording_video_file(contact_id: int, leg: str):
    """One camera of a video call's recording (``agent`` or ``customer``), to those who may see the contact.
    Only files the recording's own events name are served."""
    from channels.voice.views import send_recording

    contact = load_contact_for(contact_id)
    rec = video_recordings(contact.id).get(leg)
    return send_recording(rec and rec.get("path"), "video/webm", f"contact-{contact.id}-{leg}-video.webm")


@bp.app_context_processor
def _video_practice():
    # A function, so only the pages that list video practice scenarios (the desk) pay for the look-up.
    return {"video_practice_scenarios": functools.partial(practice_scenarios, "video")}


@bp.post("/api/video/practice")
@role_required(*AGENT_ROLES)
def api_practice():
    """A simulated customer of a video scenario calls the trainee (reserved for them)."""
    from .actions import do_create_video_call

    data = request.get_json(silent=True) or {}
    scenario = get_scenario(str(data.get("scenario_id") or ""))
    if scenario is None or scenario.channel != "video":
        return jsonify(error="choose a video scenario"), 400
    lang = scenario_lang(scenario.id) or "zh_CN"
    customer = None
    if scenario.customer.crm_ref:
        from sqlalchemy import select

        customer = db.session.scalar(
            select(Customer).where(Customer.ref == scenario.customer.crm_ref, Customer.lang == lang)
        )
    contact = do_create_video_call(
        scenario.queue,
        lang=lang,
        scenario_id=scenario.id,
        simulated=True,
        # The caller claims to be the CRM customer; the card shown may say otherwise.
        customer_name=scenario.customer.name,
        customer_id=customer.id if customer is not None else None,
        subject=scenario.title,
        reserved_agent_id=current_user.id,
    )
    return jsonify(contact=contact.summary()), 201
