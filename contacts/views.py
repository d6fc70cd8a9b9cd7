"""Contact list, the transcript page and the JSON export of a recording."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user
from sqlalchemy import select

from accounts.roles import role_required
from accounts.scope import may_see_contact
from extensions import db
from security import MAX_ID

from .models import Contact, ContactEvent

bp = Blueprint("contacts", __name__)

STAFF = ("trainee", "lead", "grader", "admin")


def can_view(user, contact: Contact) -> bool:
    """Trainees see their own contacts; leads those of their groups (and unreserved ones waiting in a queue);
    graders and admins all (accounts/scope.py)."""
    return may_see_contact(user, contact)


def load_contact_for(contact_id: int, may_see=can_view) -> Contact:
    """The contact, or 404 when there is none and 403 when ``may_see(current_user, contact)`` says no."""
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        abort(404)
    if not may_see(current_user, contact):
        abort(403)
    return contact


_load = load_contact_for


PAGE_SIZE = 25


@bp.route("/contacts")
@role_required(*STAFF)
def contact_list():
    """Recorded contacts, newest first: words said or written, channel, status and agent filters, 25 a page;
    each row with its date, duration, score and the links to its transcript and scorecard."""
    q = select(Contact).order_by(Contact.id.desc())
    if current_user.role == "trainee":
        q = q.where(Contact.agent_id == current_user.id)
    filters = {k: (request.args.get(k) or "").strip()[:40] for k in ("status", "channel", "agent")}
    if filters["status"]:
        q = q.where(Contact.status == filters["status"])
    if filters["channel"]:
        q = q.where(Contact.channel == filters["channel"])
    if filters["agent"].isdigit() and int(filters["agent"]) <= MAX_ID:  # a larger number names nobody
        q = q.where(Contact.agent_id == int(filters["agent"]))
    words = (request.args.get("q") or "").strip()[:200]
    if words:
        # what was written or said: messages, mails and call transcripts (call.transcript's text) alike
        like = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        said = select(ContactEvent.contact_id).where(ContactEvent.text.ilike(like, escape="\\"))
        q = q.where(Contact.id.in_(said))
    visible = [c for c in db.session.scalars(q.limit(2000)) if can_view(current_user, c)]
    pages = max(1, -(-len(visible) // PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    contacts = visible[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    agents = sorted({c.agent for c in visible if c.agent is not None}, key=lambda u: u.display_name)
    return render_template(
        "contacts/list.html",
        contacts=contacts,
        words=words,
        filters=filters,
        agents=agents,
        page=page,
        pages=pages,
        total=len(visible),
        scores=_scores([c.id for c in contacts]),
    )


def _scores(contact_ids: list[int]) -> dict[int, dict]:
    """The current scorecard's total per contact, from the reader grading registered (none: no score column)."""
    if not contact_ids or _score_reader is None:
        return {}
    return _score_reader(contact_ids)


# Scores are grading's, and grading imports contacts: it registers its reader here in its init_app instead of
# contacts importing it. contact ids -> {contact_id: {"total", "passed", "gated"}} for those with a scorecard.
ScoreReader = Callable[[list[int]], dict[int, dict]]
_score_reader: ScoreReader | None = None


def register_score_reader(reader: ScoreReader) -> None:
    """grading's init_app: how the contact list reads the current scorecards' totals."""
    global _score_reader
    _score_reader = reader


@bp.route("/contacts/<int:contact_id>")
@role_required(*STAFF)
def transcript(contact_id: int):
    contact = _load(contact_id)
    events = db.session.scalars(
        select(ContactEvent).where(ContactEvent.contact_id == contact.id).order_by(ContactEvent.seq)
    ).all()
    return render_template("contacts/transcript.html", contact=contact, events=events)


@bp.route("/contacts/<int:contact_id>/export.json")
@role_required(*STAFF)
def export_json(contact_id: int):
    """The recording: the contact and every event in order."""
    contact = _load(contact_id)
    events = db.session.scalars(
        select(ContactEvent).where(ContactEvent.contact_id == contact.id).order_by(ContactEvent.seq)
    )
    resp = jsonify({"contact": contact.summary(), "events": [e.as_dict() for e in events]})
    resp.headers["Content-Disposition"] = f'attachment; filename="contact-{contact.id}.json"'
    return resp


@bp.route("/api/contacts/<int:contact_id>/events")
@role_required(*STAFF)
def api_events(contact_id: int):
    contact = _load(contact_id)
    try:
        after = int(request.args.get("after_seq", 0))
    except ValueError:
        return jsonify(error="after_seq must be a number"), 400
    events = db.session.scalars(
        select(ContactEvent)
        .where(ContactEvent.contact_id == contact.id, ContactEvent.seq > after)
        .order_by(ContactEvent.seq)
    )
    return jsonify(contact=contact.summary(), events=[e.as_dict() for e in events])
