"""The "tickets" blueprint: JSON for the trainee desk (tickets, CRM, callbacks) and the ticket pages.

Routes stay thin: parse and check the request, call one action, answer. Action errors carry their HTTP
status (400 naming the field, 403, 404), so every refusal is a JSON ``{"error": ...}``, never a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from accounts.roles import role_required
from accounts.scope import may_see_contact
from clock import clock
from extensions import db

from . import actions
from .callbacks import callbacks_for_agent
from .models import RISK_LEVELS, TICKET_PRIORITIES, TICKET_STATUSES, Callback, Customer, Ticket
from .policy import (
    DESK_ROLES,
    STAFF_ROLES,
    SUPERVISOR_ROLES,
    AccessDenied,
    NotFound,
    TicketError,
    can_act_on,
    may_see_ticket,
    parse_id,
    ticket_scope,
)
from .policy import get_contact as _get_contact
from .serialize import callback_dict, iso, ticket_dict

bp = Blueprint("tickets", __name__)

PAGE_SIZE = 50


@bp.errorhandler(TicketError)
def _ticket_error(e: TicketError):
    body = {"error": str(e)}
    if e.field:
        body["field"] = e.field
    return jsonify(body), e.status


@bp.errorhandler(CSRFError)
def _csrf_error(e: CSRFError):
    if request.path.startswith("/api/"):
        return jsonify(error=f"CSRF check failed: {e.description}"), 400
    return e


@bp.errorhandler(HTTPException)
def _http_error(e: HTTPException):
    if request.path.startswith("/api/"):
        return jsonify(error=e.description or e.name), e.code
    return e


def _me():
    return current_user._get_current_object()


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise TicketError("send a JSON object")
    return data


def _contact(value, *, required: bool):
    """The contact named in the request, checked to be on the caller's desk (leads and admins: any)."""
    if value in (None, ""):
        if required or _me().role not in SUPERVISOR_ROLES:
            raise TicketError("contact_id is required", "contact_id")
        return None
    contact = _get_contact(value)
    if not can_act_on(_me(), contact):
        raise AccessDenied(f"contact {contact.id} is not on your desk")
    return contact


def _ticket(number) -> Ticket:
    """The ticket, if the caller may read it (policy.ticket_scope); 403 otherwise."""
    ticket = actions.get_ticket(number)
    if not may_see_ticket(_me(), ticket):
        raise AccessDenied(f"ticket {ticket.number} is outside your desk and groups")
    return ticket


def _flag(value) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


# ----- CRM ----------------------------------------------------------------------------------------------


@bp.get("/api/crm/customers")
@role_required(*DESK_ROLES)
def api_lookup_customers():
    contact = _contact(request.args.get("contact_id"), required=False)
    results = actions.do_lookup_customers(_me(), request.args.get("q", ""), contact)
    return jsonify(customers=results)


@bp.get("/api/crm/customers/<customer_id>")
@role_required(*DESK_ROLES)
def api_customer(customer_id):
    contact = _contact(request.args.get("contact_id"), required=False)
    customer = actions.get_customer(customer_id)
    reveal = _flag(request.args.get("reveal"))
    if reveal:
        # Showing details unverified is a disclosure the grading judges: it needs the contact it happens on,
        # held by the caller, where do_open_customer records it (crm.disclose).
        if contact is None:
            raise TicketError("reveal needs the contact_id of a contact you hold", "contact_id")
        if contact.agent_id != _me().id:
            raise AccessDenied(f"reveal only on a contact you hold; contact {contact.id} is not on your desk")
    profile = actions.do_open_customer(_me(), customer, contact, reveal=reveal)
    return jsonify(profile)


@bp.post("/api/crm/customers/<customer_id>/verify")
@role_required(*DESK_ROLES)
def api_verify_customer(customer_id):
    data = _body()
    contact = _contact(data.get("contact_id"), required=True)
    result = actions.do_verify_identity(
        _me(),
        contact,
        customer_id,
        method=data.get("method"),
        result=data.get("result"),
        details=data.get("details") or "",
    )
    return jsonify(result)


# ----- tickets ------------------------------------------------------------------------------------------


@bp.post("/api/tickets")
@role_required(*DESK_ROLES)
def api_create_ticket():
    data = _body()
    contact = _contact(data.get("contact_id"), required=True)
    ticket = actions.do_create_ticket(
        _me(),
        contact,
        subject=data.get("subject"),
        category=data.get("category"),
        priority=data.get("priority") or "normal",
        risk_level=data.get("risk_level") or "none",
        description=data.get("description") or "",
        customer_id=data.get("customer_id"),
    )
    return jsonify(ticket_dict(ticket)), 201


@bp.patch("/api/tickets/<number>")
@role_required(*DESK_ROLES)
def api_update_ticket(number):
    data = _body()
    ticket = _ticket(number)
    contact = _contact(data.pop("contact_id", None), required=True)
    reason = data.pop("reason", None)
    for field in data:
        if field not in actions.UPDATABLE:
            raise TicketError(f"{field} cannot be changed on a ticket", str(field))
    ticket = actions.do_update_ticket(_me(), ticket, contact, reason=reason, **{str(k): v for k, v in data.items()})
    return jsonify(ticket_dict(ticket))


@bp.post("/api/tickets/<number>/notes")
@role_required(*DESK_ROLES)
def api_add_note(number):
    data = _body()
    ticket = _ticket(number)
    contact = _contact(data.get("contact_id"), required=True)
    note = actions.do_add_ticket_note(_me(), ticket, contact, data.get("body"))
    return jsonify(id=note.id, body=note.body, created_at=note.created_at, number=ticket.number), 201


@bp.get("/api/tickets/<number>")
@role_required(*DESK_ROLES)
def api_ticket(number):
    return jsonify(ticket_dict(_ticket(number), full=True))


@bp.get("/api/tickets")
@role_required(*DESK_ROLES)
def api_tickets():
    if request.args.get("contact_id"):
        contact = _get_contact(request.args["contact_id"])
        if not may_see_contact(_me(), contact):
            raise AccessDenied(f"contact {contact.id} is outside your desk and groups")
        tickets = actions.tickets_for_contact(contact.id)
    elif request.args.get("customer_id"):
        tickets = actions.tickets_for_customer(actions.get_customer(request.args["customer_id"]).id)
        tickets = [t for t in tickets if may_see_ticket(_me(), t)]
    else:
        tickets = db.session.scalars(
            select(Ticket).where(Ticket.assignee_id == _me().id).order_by(Ticket.id.desc()).limit(PAGE_SIZE)
        )
    return jsonify(tickets=[ticket_dict(t) for t in tickets])


# ----- callbacks ----------------------------------------------------------------------------------------


def _due_at(value) -> float:
    """An ISO 8601 time (naive means UTC), or a number of seconds from now on the sandbox clock."""
    if isinstance(value, bool) or value in (None, ""):
        raise TicketError("due_at is required: an ISO time or seconds from now", "due_at")
    if isinstance(value, int | float):
        return clock.timestamp() + float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return clock.timestamp() + float(text)
        except ValueError:
            pass
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as e:
            raise TicketError(f"due_at is not an ISO time or a number of seconds: {value!r}", "due_at") from e
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    raise TicketError("due_at must be an ISO time or seconds from now", "due_at")


@bp.post("/api/callbacks")
@role_required(*DESK_ROLES)
def api_schedule_callback():
    data = _body()
    contact = _contact(data.get("contact_id"), required=True)
    ticket = actions.get_ticket(data["ticket_number"]) if data.get("ticket_number") else None
    cb = actions.do_schedule_callback(
        _me(), ticket, data.get("customer_id"), _due_at(data.get("due_at")), data.get("note"), contact=contact
    )
    return jsonify(callback_dict(cb)), 201


@bp.get("/api/callbacks")
@role_required(*DESK_ROLES)
def api_callbacks():
    open_only = request.args.get("status", "open") != "all"
    return jsonify(callbacks=[callback_dict(cb) for cb in callbacks_for_agent(_me().id, open_only=open_only)])


@bp.post("/api/callbacks/<callback_id>/complete")
@role_required(*DESK_ROLES)
def api_complete_callback(callback_id):
    data = request.get_json(silent=True) or {}
    if not isinstance(data, dict):
        raise TicketError("send a JSON object")
    cb = db.session.get(Callback, parse_id(callback_id, "callback_id"))
    if cb is None:
        raise NotFound(f"no callback {callback_id}", "callback_id")
    contact = _contact(data.get("contact_id"), required=False) if data.get("contact_id") else None
    cb = actions.do_complete_callback(_me(), cb, data.get("outcome"), contact=contact)
    return jsonify(callback_dict(cb))


# ----- pages --------------------------------------------------------------------------------------------


@bp.get("/tickets")
@role_required(*STAFF_ROLES)
def ticket_list():
    args = request.args
    stmt = select(Ticket)
    scope = ticket_scope(current_user)
    if scope is not None:
        stmt = stmt.where(scope)
    filters = {}
    for field, choices in (("status", TICKET_STATUSES), ("priority", TICKET_PRIORITIES), ("risk_level", RISK_LEVELS)):
        if args.get(field) in choices:
            filters[field] = args[field]
            stmt = stmt.where(getattr(Ticket, field) == args[field])
    if args.get("category"):
        filters["category"] = args["category"][:40]
        stmt = stmt.where(Ticket.category == filters["category"])
    if args.get("mine") and current_user.role in DESK_ROLES:
        filters["mine"] = "1"
        stmt = stmt.where(Ticket.assignee_id == current_user.id)
    q = (args.get("q") or "").strip()[:100]
    if q:
        filters["q"] = q
        like = func.lower(Ticket.subject).contains(q.lower(), autoescape=True)
        stmt = stmt.outerjoin(Customer, Customer.id == Ticket.customer_id).where(
            like
            | (Ticket.number == q.upper())
            | (func.lower(Customer.ref) == q.lower())
            | func.lower(Customer.name).contains(q.lower(), autoescape=True)
        )
    try:
        page = min(max(1, int(args.get("page", 1))), 100_000)
    except ValueError:
        page = 1
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    tickets = db.session.scalars(stmt.order_by(Ticket.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    return render_template(
        "tickets/list.html",
        tickets=[ticket_dict(t) for t in tickets],
        filters=filters,
        statuses=TICKET_STATUSES,
        priorities=TICKET_PRIORITIES,
        risk_levels=RISK_LEVELS,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        total=total,
        fmt=iso,
    )


@bp.get("/tickets/<number>")
@role_required(*STAFF_ROLES)
def ticket_page(number):
    try:
        ticket = actions.get_ticket(number)
    except NotFound:
        abort(404)
    if not may_see_ticket(current_user, ticket):
        abort(403)
    callbacks = db.session.scalars(select(Callback).where(Callback.ticket_id == ticket.id).order_by(Callback.due_at))
    return render_template(
        "tickets/ticket.html",
        ticket=ticket_dict(ticket, full=True),
        callbacks=[callback_dict(c) for c in callbacks],
        fmt=iso,
    )
