"""The video desk's JSON API. Thin: check the role and the contact, call one action, answer."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import current_user

from accounts.roles import role_required
from contacts.actions import ActionError, get_contact

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
