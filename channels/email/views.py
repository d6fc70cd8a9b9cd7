"""The email workspace (/desk/email) and its JSON API. Thin: validate -> action -> respond."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, make_response, render_template, request, send_file
from flask_login import current_user
from sqlalchemy import select

from accounts.roles import role_required
from channels.practice import practice_scenarios
from contacts.actions import ActionError, do_wrap_up_contact
from contacts.models import Contact, ContactEvent
from extensions import db
from i18n import current_lang
from scenarios.registry import get_pack
from tickets.actions import tickets_for_contact

from .htmlsafe import allow_remote_images, block_remote_images
from .storage import resolve

bp = Blueprint("email_desk", __name__)
AGENT_ROLES = ("trainee", "lead", "admin")
# What the thread view shows: the mails, and the facts about them an agent needs beside them.
THREAD_TYPES = (
    "email.received",
    "email.auto_received",
    "email.sent",
    "email.relayed",
    "email.relay_failed",
    "assignment",
    "transfer",
    "ticket.created",
    "ticket.linked",
    "contact.ended",
    "wrap_up",
)
LIST_STATUSES = ("active", "wrap_up")
INBOUND_TYPES = ("email.received", "email.auto_received")
# The customer's HTML with remote images, as its own document: nothing may run, nothing but images load, and the
# page that shows it (the workspace) is the only one that may frame it.
LOADED_HTML_CSP = (
    "default-src 'none'; img-src http: https:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'self'; sandbox"
)


def readable_json(value) -> str:
    """JSON with non-ASCII text as it is (a template filter; autoescaped like any text on the page)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=False, default=str)


def _error(message: str, status: int = 400):
    return jsonify(error=message), status


def _own(contact_id: int) -> Contact | tuple:
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.channel != "email":
        return _error(f"no email contact {contact_id}", 404)
    if contact.agent_id != current_user.id:
        return _error("this contact is not on your desk", 403)
    return contact


def _thread_event(ev: ContactEvent) -> dict:
    d = ev.as_dict()
    data = dict(d["data"])
    if data.get("html"):
        # Sanitised again on the way out (the page inserts it as HTML), and without remote images: the agent
        # loads those per message (api_loaded_html), so opening a mail tells no tracker it was read.
        data["html"], data["remote_images"] = block_remote_images(data["html"])
    data.pop("rendered", None)  # the raw MIME is in the recording, not needed on the desk
    data.pop("raw_path", None)
    for att in data.get("attachments") or []:
        att.pop("path", None)
    d["data"] = data
    return d


@bp.route("/desk/email")
@role_required(*AGENT_ROLES)
def workspace():
    from channels.chat.views import _categories

    from .smtp import endpoint_of

    lang = current_lang()
    pack = get_pack(lang)
    return render_template(
        "email/workspace.html",
        wrap_up_codes=[c.model_dump() for c in pack.wrap_up_codes] if pack else [],
        snippets=[s.model_dump() for s in pack.snippets] if pack else [],
        categories=_categories(),
        practice=practice_scenarios("email", lang),
        lang=lang,
        smtp=endpoint_of(current_app),
        centre_addresses=list(current_app.config["EMAIL_ADDRESS_QUEUES"]),
    )


@bp.route("/api/email/contacts")
@role_required(*AGENT_ROLES)
def api_contacts():
    contacts = db.session.scalars(
        select(Contact)
        .where(Contact.agent_id == current_user.id, Contact.channel == "email", Contact.status.in_(LIST_STATUSES))
        .order_by(Contact.assigned_at)
    )
    return jsonify(contacts=[c.summary() for c in contacts])


@bp.route("/api/email/contacts/<int:contact_id>/thread")
@role_required(*AGENT_ROLES)
def api_thread(contact_id):
    contact = _own(contact_id)
    if not isinstance(contact, Contact):
        return contact
    events = db.session.scalars(
        select(ContactEvent)
        .where(ContactEvent.contact_id == contact.id, ContactEvent.type.in_(THREAD_TYPES))
        .order_by(ContactEvent.seq)
    )
    return jsonify(
        contact=contact.summary(),
        events=[_thread_event(e) for e in events],
        tickets=[
            {"number": t.number, "subject": t.subject, "status": t.status} for t in tickets_for_contact(contact.id)
        ],
    )


def _on_own_contact(contact_id, act):
    """Run ``act(agent, contact, body)`` on the agent's own email contact with the request's JSON object; a
    contact that is not theirs, a body that is not an object or a refused action is answered with its error."""
    contact = _own(contact_id)
    if not isinstance(contact, Contact):
        return contact
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error("expected a JSON object")
    try:
        return act(current_user._get_current_object(), contact, body)
    except ActionError as e:
        return _error(str(e))


@bp.route("/api/email/contacts/<int:contact_id>/reply", methods=["POST"])
@role_required(*AGENT_ROLES)
def api_reply(contact_id):
    from .actions import do_send_email_reply

    def reply(agent, contact, body):
        event = do_send_email_reply(
            agent, contact, body.get("body_text"), body.get("html"), client_id=body.get("client_id")
        )
        duplicate = bool(event.pop("duplicate", False))
        return jsonify(ok=True, event=_thread_event_dict(event), duplicate=duplicate)

    return _on_own_contact(contact_id, reply)


def _thread_event_dict(event: dict) -> dict:
    data = {k: v for k, v in event["data"].items() if k not in ("rendered", "raw_path")}
    return {**event, "data": data}


@bp.route("/api/email/contacts/<int:contact_id>/wrap_up", methods=["POST"])
@role_required(*AGENT_ROLES)
def api_wrap_up(contact_id):
    def wrap_up(agent, contact, body):
        do_wrap_up_contact(contact, agent, body.get("code"), body.get("notes") or "")
        return jsonify(ok=True, contact=contact.summary())

    return _on_own_contact(contact_id, wrap_up)


@bp.route("/api/email/contacts/<int:contact_id>/mail/<int:event_id>/with-images")
@role_required(*AGENT_ROLES)
def api_loaded_html(contact_id, event_id):
    """One received mail's HTML with its remote images ("load images"), as a document of its own whose
    Content-Security-Policy lets only images load and sandboxes it, with no Referer sent to the image hosts."""
    contact = _own(contact_id)
    if not isinstance(contact, Contact):
        return contact
    ev = db.session.get(ContactEvent, event_id)
    if ev is None or ev.contact_id != contact.id or ev.type not in INBOUND_TYPES or not (ev.data or {}).get("html"):
        return _error(f"no HTML mail {event_id} on contact {contact.id}", 404)
    body = '<!doctype html><meta charset="utf-8">' + allow_remote_images(ev.data["html"])
    resp = make_response(body)
    resp.headers["Content-Type"] = "text/html; charset=utf-8"
    resp.headers["Content-Security-Policy"] = LOADED_HTML_CSP
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.route("/api/email/contacts/<int:contact_id>/attachments/<int:event_id>/<int:index>")
@role_required(*AGENT_ROLES)
def api_attachment(contact_id, event_id, index):
    contact = _own(contact_id)
    if not isinstance(contact, Contact):
        return contact
    ev = db.session.get(ContactEvent, event_id)
    if ev is None or ev.contact_id != contact.id or ev.type not in INBOUND_TYPES:
        return _error(f"no email {event_id} on contact {contact.id}", 404)
    atts = (ev.data or {}).get("attachments") or []
    if not 0 <= index < len(atts) or not atts[index].get("path"):
        return _error("no stored attachment with that number", 404)
    path = resolve(atts[index]["path"])
    if path is None:
        return _error("the attachment file is missing", 404)
    # Always a download, never rendered inline: customer files are untrusted.
    return send_file(path, as_attachment=True, download_name=atts[index]["name"], mimetype="application/octet-stream")
