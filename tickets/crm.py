"""The CRM on the desk: looking customers up, verifying identity, and showing a profile that stays masked
until the agent has verified the caller on this contact.

Grading checks "verify before disclose", so opening a profile records ``crm.open`` and showing full details
records ``crm.disclose`` with ``verified`` saying whether a verification came first. Recording happens only
on the agent's own contact: a lead looking over a trainee's shoulder does not write into the recording.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from accounts.models import User
from contacts.events import append_event, publish_contact_event
from contacts.lifecycle import set_contact_customer
from contacts.models import Contact, ContactEvent
from contacts.transaction import atomic
from extensions import db

from .models import Customer, Order
from .policy import (
    VERIFY_RESULTS,
    AccessDenied,
    TicketError,
    actor_for,
    clean_choice,
    clean_text,
    get_customer,
    jsonable,
    require_access,
    require_desk_role,
    verify_methods,
)

MASK = "***"
LOOKUP_LIMIT = 20
QUERY_MAX = 100
# Account and order-detail keys never shown before verification.
SENSITIVE_ACCOUNT_KEYS = frozenset({"balance", "credit_limit", "card_number", "bank_account", "password"})
SENSITIVE_DETAIL_KEYS = frozenset({"address", "phone", "recipient_phone", "card_number", "id_number"})
DISCLOSED_FIELDS = ("phone", "email", "id_number", "accounts.balance")
_PHONE_QUERY = re.compile(r"^[\d\s+\-()]+$")


def _digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


def mask_phone(phone: str | None) -> str | None:
    """138****8000: the first three and last four digits, enough to match what the caller says."""
    if not phone:
        return phone
    d = _digits(phone)
    if len(d) >= 8:
        return d[:3] + "*" * (len(d) - 7) + d[-4:]
    return "*" * max(len(d) - 2, 0) + d[-2:]


def mask_id_number(value: str | None) -> str | None:
    if not value:
        return value
    return "*" * max(len(value) - 4, 0) + value[-4:]


def mask_email(value: str | None) -> str | None:
    if not value or "@" not in value:
        return MASK if value else value
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def _mask_dict(d: dict | None, keys: frozenset) -> dict:
    return {k: (MASK if k in keys and v not in (None, "") else v) for k, v in (d or {}).items()}


def order_dict(order: Order, *, verified: bool) -> dict:
    return {
        "id": order.id,
        "order_no": order.order_no,
        "product": order.product,
        "amount": jsonable(order.amount),
        "status": order.status,
        "placed_at": order.placed_at,
        "delivered_at": order.delivered_at,
        "details": dict(order.details or {}) if verified else _mask_dict(order.details, SENSITIVE_DETAIL_KEYS),
    }


def customer_by_ref(ref: str | None, lang: str) -> Customer | None:
    """The CRM customer a scenario's persona is (``crm_ref``) in one language's pack, or None."""
    if not ref:
        return None
    return db.session.scalar(select(Customer).where(Customer.ref == ref, Customer.lang == lang))


def customer_summary(customer: Customer) -> dict:
    """One row of a lookup result: always masked."""
    return {
        "id": customer.id,
        "ref": customer.ref,
        "lang": customer.lang,
        "name": customer.name,
        "phone": mask_phone(customer.phone),
        "vip": customer.vip,
        "tier": customer.tier,
        "city": customer.city,
    }


def customer_profile(customer: Customer, *, verified: bool) -> dict:
    """The profile the desk shows, with orders. Full phone, e-mail, id number, balance and delivery details
    are masked unless ``verified`` is True."""
    return {
        **customer_summary(customer),
        "phone": customer.phone if verified else mask_phone(customer.phone),
        "email": customer.email if verified else mask_email(customer.email),
        "id_number": customer.id_number if verified else mask_id_number(customer.id_number),
        "notes": customer.notes,
        "accounts": (
            dict(customer.accounts or {}) if verified else _mask_dict(customer.accounts, SENSITIVE_ACCOUNT_KEYS)
        ),
        "orders": [order_dict(o, verified=verified) for o in customer.orders],
        "verified": verified,
        "masked": not verified,
    }


def is_verified(contact: Contact, customer_id: int) -> bool:
    """True once the agent recorded a successful identity check of this customer on this contact."""
    events = db.session.scalars(
        select(ContactEvent).where(ContactEvent.contact_id == contact.id, ContactEvent.type == "crm.verify")
    )
    return any(
        (ev.data or {}).get("customer_id") == customer_id and (ev.data or {}).get("result") == "verified"
        for ev in events
    )


def search_customers(query: str, *, lang: str | None = None, limit: int = LOOKUP_LIMIT) -> list[dict]:
    """Customers matching a name substring, a phone number (full, or its last 4 digits), an order number,
    an e-mail address or a customer ref. Each result says what it matched by."""
    q = query.strip()
    found: dict[int, dict] = {}

    def add(customer: Customer, how: str, **extra) -> None:
        row = found.get(customer.id)
        if row is None:
            row = found[customer.id] = {**customer_summary(customer), "matched_by": []}
        if how not in row["matched_by"]:
            row["matched_by"].append(how)
        row.update(extra)

    def scoped(stmt):
        return stmt.where(Customer.lang == lang) if lang else stmt

    lowered = q.lower()
    for c in db.session.scalars(
        scoped(select(Customer).where(func.lower(Customer.name).contains(lowered, autoescape=True))).limit(limit)
    ):
        add(c, "name")
    for c in db.session.scalars(scoped(select(Customer).where(func.lower(Customer.ref) == lowered))):
        add(c, "ref")
    if "@" in q:
        for c in db.session.scalars(scoped(select(Customer).where(func.lower(Customer.email) == lowered))):
            add(c, "email")
    rows = db.session.execute(
        scoped(select(Customer, Order.order_no).join(Order, Order.customer_id == Customer.id)).where(
            func.upper(Order.order_no) == q.upper()
        )
    )
    for c, order_no in rows:
        add(c, "order_no", order_no=order_no)
    digits = _digits(q)
    if _PHONE_QUERY.match(q) and (len(digits) == 4 or len(digits) >= 7):
        # Phone formats vary (+86 138-0013-8000); compare digits only, in Python.
        for c in db.session.scalars(scoped(select(Customer).where(Customer.phone.is_not(None)))):
            stored = _digits(c.phone)
            if len(digits) == 4:
                if stored.endswith(digits):
                    add(c, "phone_last4")
            elif stored == digits or stored.endswith(digits) or digits.endswith(stored):
                add(c, "phone")
    return list(found.values())[:limit]


def _own(agent: User, contact: Contact | None) -> bool:
    return contact is not None and contact.agent_id == agent.id


def do_lookup_customers(agent: User, query: str, contact: Contact | None = None) -> list[dict]:
    """Search the CRM. On the agent's own contact the search is recorded (``crm.lookup``: the query and the
    refs found); results are scoped to the contact's language."""
    require_desk_role(agent)
    if contact is not None:
        require_access(agent, contact)
    q = clean_text(query, "q", max_len=QUERY_MAX, required=True)
    results = search_customers(q, lang=contact.lang if contact is not None else None)
    if _own(agent, contact):
        ev, _ = append_event(
            contact,
            "crm.lookup",
            actor_for(agent),
            actor_id=agent.id,
            data={"query": q, "results": [r["ref"] for r in results], "customer_ids": [r["id"] for r in results]},
        )
        publish_contact_event(ev)
    return results


# Channels where what the customer gave is in the recording as text (calls need the speech transcript).
TEXT_CHANNELS = frozenset({"chat", "email", "group"})


def details_given(contact: Contact, customer: Customer, method: str) -> bool:
    """Whether the customer's own messages on this contact state the details a verification ``method`` checks
    against the CRM record (last four phone or ID digits, an order number of theirs, their email). Methods the
    record cannot check (date of birth, address, a security question, other) need at least one customer message.
    So a trainee cannot mark *verified* on details nobody gave."""
    texts = db.session.scalars(
        select(ContactEvent.text).where(
            ContactEvent.contact_id == contact.id, ContactEvent.type == "message", ContactEvent.actor == "customer"
        )
    ).all()
    said = " ".join(t or "" for t in texts)
    digits = re.sub(r"\D", "", said)
    if not said.strip():
        return False
    if method == "phone_last4":
        phone = re.sub(r"\D", "", customer.phone or "")
        return len(phone) >= 4 and phone[-4:] in digits
    if method == "id_last4":
        idn = (customer.id_number or "").upper()
        return len(idn) >= 4 and idn[-4:] in said.upper().replace(" ", "")
    if method == "order_no":
        numbers = db.session.scalars(select(Order.order_no).where(Order.customer_id == customer.id)).all()
        return any(n and n.upper() in said.upper() for n in numbers)
    if method == "email":
        return bool(customer.email) and customer.email.lower() in said.lower()
    return True


def do_verify_identity(
    agent: User, contact: Contact, customer_id, *, method: str, result: str, details: str = ""
) -> dict:
    """The agent records that they verified (``result="verified"``) or could not verify (``"failed"``) the
    caller's identity against a CRM customer (``crm.verify``). Only the agent holding the contact may.

    A successful check on a contact with no customer yet identifies the caller: the contact gets that
    customer, so tickets opened from it are filed under them. On text channels a successful check needs the
    details in the customer's own messages (``details_given``)."""
    require_desk_role(agent)
    if contact.agent_id != agent.id:
        raise AccessDenied(f"only the agent holding contact {contact.id} can verify the caller on it")
    customer = get_customer(customer_id)
    method = clean_choice(method, "method", verify_methods())
    result = clean_choice(result, "result", VERIFY_RESULTS)
    details = clean_text(details, "details", max_len=500)
    if result == "verified" and contact.channel in TEXT_CHANNELS and not details_given(contact, customer, method):
        raise TicketError(
            f"the customer has not given their {method.replace('_', ' ')} in this conversation: ask for it first",
            "method",
        )
    data = {"customer_id": customer.id, "customer_ref": customer.ref, "method": method, "result": result}
    with atomic():
        if result == "verified" and contact.customer_id is None:
            set_contact_customer(contact, customer.id)
            data["identified"] = True
        ev, _ = append_event(contact, "crm.verify", actor_for(agent), actor_id=agent.id, text=details, data=data)
        publish_contact_event(ev)
    verified = is_verified(contact, customer.id)
    return {"customer_id": customer.id, "method": method, "result": result, "verified": verified}


def do_open_customer(agent: User, customer: Customer, contact: Contact | None = None, *, reveal: bool = False) -> dict:
    """Show a customer's profile on the desk. Details are unmasked when the caller was verified on this
    contact, or when the agent chose ``reveal`` without verifying (allowed: grading judges it).

    On the agent's own contact this records ``crm.open`` and, when details are shown in full,
    ``crm.disclose`` with ``verified`` true or false."""
    require_desk_role(agent)
    if contact is not None:
        require_access(agent, contact)
    verified = contact is not None and is_verified(contact, customer.id)
    disclose = verified or bool(reveal)
    profile = customer_profile(customer, verified=disclose)
    profile["verified"] = verified
    if _own(agent, contact):
        base = {"customer_id": customer.id, "customer_ref": customer.ref, "verified": verified}
        actor = actor_for(agent)
        with atomic():
            opened, _ = append_event(contact, "crm.open", actor, actor_id=agent.id, data=base)
            publish_contact_event(opened)
            if disclose:
                ev, _ = append_event(
                    contact, "crm.disclose", actor, actor_id=agent.id, data={**base, "fields": list(DISCLOSED_FIELDS)}
                )
                publish_contact_event(ev)
    return profile
