"""Voice pages: the role-play caller's page, the recording files (for those who may see the contact), and
starting a simulated practice call."""

from __future__ import annotations

import functools

from flask import Blueprint, abort, current_app, jsonify, render_template, request, send_file
from flask_login import current_user
from sqlalchemy import select

from accounts.roles import role_required
from channels.practice import practice_scenarios
from contacts.actions import ActionError
from contacts.models import ContactEvent
from contacts.views import STAFF, load_contact_for
from extensions import db
from i18n import current_lang
from scenarios.registry import get_pack, get_scenario, scenario_lang

from .service import recordings_dir

bp = Blueprint("voice", __name__)

PRACTICE_ROLES = ("trainee", "lead", "admin")


def recording_of(contact_id: int) -> dict | None:
    """The last ``call.recording`` event's data: files and start offsets."""
    ev = db.session.scalar(
        select(ContactEvent)
        .where(ContactEvent.contact_id == contact_id, ContactEvent.type == "call.recording")
        .order_by(ContactEvent.seq.desc())
        .limit(1)
    )
    return dict(ev.data) if ev is not None else None


@bp.route("/contacts/<int:contact_id>/recording/<name>.wav")
@role_required(*STAFF)
def recording_file(contact_id: int, name: str):
    """One file of a call's recording: ``call`` (stereo, for playback) or a leg (``agent``, ``customer``...).
    Only files the recording's own event names are served."""
    contact = load_contact_for(contact_id)
    rec = recording_of(contact.id)
    if rec is None:
        abort(404)
    files = rec.get("files") or {}
    path = files.get("stereo") if name == "call" else (files.get("legs", {}).get(name) or {}).get("path")
    return send_recording(path, "audio/wav", f"contact-{contact.id}-{name}.wav")


def send_recording(path: str | None, mimetype: str, download_name: str):
    """A file under the recordings folder, as a recording event names it (404 for anything else). Served
    with range requests, which players need to seek."""
    if not path:
        abort(404)
    root = recordings_dir(current_app).resolve()
    full = (root / path).resolve()
    if root not in full.parents or not full.is_file():
        abort(404)
    return send_file(full, mimetype=mimetype, conditional=True, download_name=download_name)


@bp.app_context_processor
def _voice_practice():
    # A function, so only the pages that list voice practice scenarios (the desk) pay for the look-up.
    return {"voice_practice_scenarios": functools.partial(practice_scenarios, "voice")}


@bp.route("/customer/call")
def caller_page():
    """Role-play: a person calls the centre from the browser (no staff login needed), by voice or, on a video
    line, with their camera."""
    lang = current_lang()
    pack = get_pack(lang)
    queues = [q.model_dump() for q in pack.queues if q.channel in ("voice", "video")] if pack else []
    if not queues:
        queues = [{"id": "voice.general", "label": "voice.general", "channel": "voice"}]
    return render_template("voice/caller.html", queues=queues, lang=lang)


@bp.route("/api/voice/practice", methods=["POST"])
@role_required(*PRACTICE_ROLES)
def start_practice_call():
    """A simulated customer of a voice scenario calls the trainee (reserved for them)."""
    from .actions import do_create_call

    data = request.get_json(silent=True) or {}
    scenario = get_scenario(str(data.get("scenario_id") or ""))
    if scenario is None or scenario.channel != "voice":
        return jsonify(error="choose a voice scenario"), 400
    try:
        contact = do_create_call(
            scenario.queue if scenario.queue.startswith("voice.") else "voice.general",
            lang=scenario_lang(scenario.id) or current_lang(),
            scenario_id=scenario.id,
            simulated=True,
            customer_name=scenario.customer.name,
            subject=scenario.title,
            reserved_agent_id=current_user.id,
        )
    except ActionError as e:
        return jsonify(error=str(e)), 400
    return jsonify(contact=contact.summary()), 201
