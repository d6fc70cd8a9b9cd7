"""Rules shared by the ticket, CRM and callback actions: errors, who may act on a contact, configurable
tables (SLA hours, compensation limits, categories, verification methods) and input cleaning."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from flask import current_app
from sqlalchemy import or_, select

from accounts.models import User
from accounts.scope import lead_sees_contact, supervised_ids
from contacts.models import Contact
from extensions import db
from knowledge_base.models import Category

from .models import Customer

DESK_ROLES = ("trainee", "lead", "admin")  # may work tickets and the CRM
STAFF_ROLES = ("trainee", "lead", "grader", "admin")  # may read ticket pages
SUPERVISOR_ROLES = ("lead", "admin")  # may act on any contact

DEFAULT_SLA_HOURS = {"urgent": 2, "high": 8, "normal": 24, "low": 72}
DEFAULT_COMPENSATION_LIMITS = {"L5": 0, "L4": 50, "L3": 200}
# Used together with the knowledge-base category codes; TICKET_CATEGORIES in config replaces this list.
DEFAULT_TICKET_CATEGORIES = (
    "orders",
    "delivery",
    "returns",
    "billing",
    "account",
    "product",
    "technical",
    "complaint",
    "consultation",
    "other",
)
DEFAULT_VERIFY_METHODS = (
    "phone_last4",
    "id_last4",
    "order_no",
    "email",
    "date_of_birth",
    "address",
    "security_question",
    "other",
)
VERIFY_RESULTS = ("verified", "failed")

SUBJECT_MAX = 200
DESCRIPTION_MAX = 4000
NOTE_MAX = 2000
REASON_MAX = 1000
TARGET_MAX = 40
MAX_AMOUNT = Decimal("9999999999.99")  # Numeric(12, 2)


class TicketError(ValueError):
    """Refused input or action; the message is shown to the user as is. ``field`` names the bad input."""

    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class AccessDenied(TicketError):
    status = 403


class NotFound(TicketError):
    status = 404


# ----- configurable tables -------------------------------------------------------------------------------


def sla_hours(priority: str) -> float:
    """Hours to resolve a ticket of this priority (app.config["TICKET_SLA_HOURS"] overrides the defaults)."""
    table = {**DEFAULT_SLA_HOURS, **(current_app.config.get("TICKET_SLA_HOURS") or {})}
    return float(table[priority])


def compensation_limit(user: User) -> Decimal | None:
    """The most this agent may offer on their own; None when no limit applies (a lead, an admin)."""
    limits = current_app.config.get("COMPENSATION_LIMITS") or DEFAULT_COMPENSATION_LIMITS
    if user.level is None or user.level not in limits:
        return None
    return Decimal(str(limits[user.level]))


def allowed_categories() -> set[str]:
    """Knowledge-base category codes plus the configured ticket categories."""
    configured = current_app.config.get("TICKET_CATEGORIES") or DEFAULT_TICKET_CATEGORIES
    return set(configured) | set(db.session.scalars(select(Category.code)))


def verify_methods() -> tuple[str, ...]:
    return tuple(current_app.config.get("CRM_VERIFY_METHODS") or DEFAULT_VERIFY_METHODS)


# ----- who may act --------------------------------------------------------------------------------------


def actor_for(user: User) -> str:
    """The ``actor`` recorded on a contact event: trainees are agents, leads and admins act as leads."""
    return "agent" if user.role == "trainee" else "lead"


def can_act_on(user: User, contact: Contact) -> bool:
    """Agents act only on contacts assigned to them; leads on those of their groups (and unreserved ones
    waiting in a queue); admins on any (accounts/scope.py)."""
    if user.role in SUPERVISOR_ROLES:
        return lead_sees_contact(user, contact)
    return user.role == "trainee" and contact.agent_id == user.id


def ticket_scope(user: User):
    """A condition on Ticket for the tickets ``user`` may read, or None for every ticket (graders, admins).

    A ticket is read by its assignee and those who supervise them, by whoever may see a contact it was filed
    from or linked to, and by an agent serving its customer right now (the customer's history on the desk)."""
    from .models import Ticket, TicketContactLink

    if user.role in ("grader", "admin"):
        return None
    ids = {user.id} if user.role != "lead" else (supervised_ids(user) or {user.id})
    held = select(Contact.id).where(Contact.agent_id.in_(ids))
    linked = select(TicketContactLink.ticket_id).where(TicketContactLink.contact_id.in_(held))
    serving = select(Contact.customer_id).where(
        Contact.agent_id == user.id, Contact.status.in_(("active", "wrap_up")), Contact.customer_id.is_not(None)
    )
    return or_(
        Ticket.assignee_id.in_(ids), Ticket.contact_id.in_(held), Ticket.id.in_(linked), Ticket.customer_id.in_(serving)
    )


def may_see_ticket(user: User, ticket) -> bool:
    from .models import Ticket

    scope = ticket_scope(user)
    return scope is None or db.session.scalar(select(Ticket.id).where(Ticket.id == ticket.id, scope)) is not None


def require_desk_role(user: User) -> None:
    if user.role not in DESK_ROLES:
        raise AccessDenied(f"role '{user.role}' may not work tickets or the CRM")


def require_access(user: User, contact: Contact) -> None:
    require_desk_role(user)
    if not can_act_on(user, contact):
        raise AccessDenied(f"contact {contact.id} is not on your desk")


# ----- lookups that fail cleanly ------------------------------------------------------------------------


def parse_id(value, field: str) -> int:
    if isinstance(value, bool):
        raise TicketError(f"{field} must be a number", field)
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError) as e:
        raise TicketError(f"{field} must be a number, not {value!r}", field) from e
    if not 0 < number < 2**62:  # beyond any id, and beyond what the database's integer column can compare
        raise NotFound(f"no {field.removesuffix('_id')} {number}", field)
    return number


def get_customer(customer_id) -> Customer:
    cid = parse_id(customer_id, "customer_id")
    customer = db.session.get(Customer, cid)
    if customer is None:
        raise NotFound(f"no customer {cid}", "customer_id")
    return customer


def get_contact(contact_id) -> Contact:
    cid = parse_id(contact_id, "contact_id")
    contact = db.session.get(Contact, cid)
    if contact is None:
        raise NotFound(f"no contact {cid}", "contact_id")
    return contact


# ----- input cleaning -----------------------------------------------------------------------------------


def clean_text(value, field: str, *, max_len: int, required: bool = False) -> str | None:
    """Strip a text field; refuse non-strings, empty required text and text over ``max_len`` characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise TicketError(f"{field} must be text", field)
    value = value.strip()
    if not value:
        if required:
            raise TicketError(f"{field} is required", field)
        return None
    if len(value) > max_len:
        raise TicketError(f"{field} is {len(value)} characters; the limit is {max_len}", field)
    return value


def clean_choice(value, field: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise TicketError(f"{field} must be one of: {', '.join(sorted(choices))}", field)
    return value


def clean_category(value) -> str:
    return clean_choice(value.strip() if isinstance(value, str) else value, "category", allowed_categories())


def clean_amount(value, field: str = "compensation_amount") -> Decimal | None:
    """A money amount >= 0 with at most two decimals; None or "" clears it."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TicketError(f"{field} must be a number", field)
    if isinstance(value, float) and not math.isfinite(value):
        raise TicketError(f"{field} must be a finite number", field)
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as e:
        raise TicketError(f"{field} must be a number, not {value!r}", field) from e
    if not amount.is_finite():
        raise TicketError(f"{field} must be a finite number", field)
    if amount < 0:
        raise TicketError(f"{field} cannot be negative", field)
    if amount > MAX_AMOUNT:
        raise TicketError(f"{field} is too large", field)
    return amount.quantize(Decimal("0.01"))


def clean_user_id(value, field: str = "assignee_id") -> int | None:
    if value is None or value == "":
        return None
    uid = parse_id(value, field)
    user = db.session.get(User, uid)
    if user is None or not user.active or user.role not in DESK_ROLES:
        raise TicketError(f"{field}: no active agent {uid}", field)
    return uid


def jsonable(value):
    """Column values as JSON-safe event data (Numeric columns come back as Decimal)."""
    if isinstance(value, Decimal):
        return float(value)
    return value
