"""Recording inbound mail: ``do_receive_email`` turns one accepted SMTP message into a new email contact in its
queue, or an ``email.received`` event on the contact it answers (threaded by Message-ID / In-Reply-To /
References or by a ticket token in the subject), with the ticket linked.

Runs in a worker thread with an app context (the SMTP handler hands it over), never on the asyncio loop.
"""

from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import func, select

from contacts.actions import ActionError, do_create_contact
from contacts.events import append_event, publish_contact_event
from contacts.models import Contact, ContactEvent
from extensions import db

from .parse import ParsedEmail, parse_message
from .storage import save_attachments, save_message

EMAIL_EVENT_TYPES = ("email.received", "email.sent")
OPEN_STATUSES = ("queued", "active")
_CJK = re.compile(r"[\u3400-\u9fff]")


def address_queues() -> dict[str, str]:
    """The centre's addresses (lower-case) and the queue each feeds."""
    return {a.lower(): q for a, q in current_app.config["EMAIL_ADDRESS_QUEUES"].items()}


def queue_for(rcpt_tos: list[str]) -> tuple[str, str]:
    """(centre address, queue) of the first recipient that is one of the centre's addresses."""
    table = address_queues()
    for rcpt in rcpt_tos:
        if rcpt.lower() in table:
            return rcpt.lower(), table[rcpt.lower()]
    raise ActionError(f"none of {rcpt_tos!r} is one of the centre's addresses")


def event_by_message_id(message_ids: list[str], types=EMAIL_EVENT_TYPES) -> ContactEvent | None:
    """The latest email event carrying one of these Message-IDs (the mail a follow-up answers)."""
    if not message_ids:
        return None
    return db.session.scalar(
        select(ContactEvent)
        .where(ContactEvent.type.in_(types), ContactEvent.data["message_id"].as_string().in_(message_ids))
        .order_by(ContactEvent.id.desc())
        .limit(1)
    )


def _ticket_by_number(number: str | None):
    from tickets.models import Ticket

    if not number:
        return None
    return db.session.scalar(select(Ticket).where(Ticket.number == number))


def _latest_ticket(contact: Contact):
    from tickets.actions import tickets_for_contact

    tickets = tickets_for_contact(contact.id)
    return tickets[-1] if tickets else None


def _latest_email_contact_of(ticket) -> Contact | None:
    from tickets.models import TicketContactLink

    linked = select(TicketContactLink.contact_id).where(TicketContactLink.ticket_id == ticket.id)
    return db.session.scalar(
        select(Contact)
        .where(Contact.channel == "email", (Contact.id.in_(linked)) | (Contact.id == ticket.contact_id))
        .order_by(Contact.id.desc())
        .limit(1)
    )


def find_thread(parsed: ParsedEmail) -> tuple[Contact | None, object | None, str | None]:
    """(earlier contact, ticket, how it was found) for a follow-up; (None, None, None) for a new thread."""
    ev = event_by_message_id(parsed.thread_ids)
    ticket = _ticket_by_number(parsed.ticket_number)
    if ev is not None:
        contact = db.session.get(Contact, ev.contact_id)
        how = "in_reply_to" if ev.data.get("message_id") in parsed.in_reply_to else "references"
        return contact, ticket or _latest_ticket(contact), how
    if ticket is not None:
        return _latest_email_contact_of(ticket), ticket, "ticket_token"
    return None, None, None


def _customer_for(address: str):
    from tickets.models import Customer

    if not address:
        return None
    return db.session.scalar(select(Customer).where(func.lower(Customer.email) == address).limit(1))


def do_receive_email(raw: bytes, *, mail_from: str, rcpt_tos: list[str], peer: str | None = None) -> dict:
    """Record one accepted message; returns ``{"contact_id", "event_id", "new_contact", "duplicate", ...}``.

    The raw bytes are kept in a file referenced from the event, so the recording loses nothing, even when the
    MIME cannot be parsed (the event then carries ``parse_error`` and ``notes``). A message whose Message-ID
    was already recorded is not recorded twice (a client resending after a lost reply).
    """
    centre_address, queue = queue_for(rcpt_tos)
    parsed = parse_message(raw, attachment_limit=current_app.config["EMAIL_ATTACHMENT_MAX_BYTES"])
    seen = event_by_message_id([parsed.message_id], types=("email.received",))
    if seen is not None:
        return {"contact_id": seen.contact_id, "event_id": seen.id, "new_contact": False, "duplicate": True}

    stored = save_message(raw, "inbound")
    attachments = save_attachments(parsed.attachments)
    sender = parsed.from_address or (mail_from or "").lower()
    earlier, ticket, threaded_by = find_thread(parsed)
    contact = earlier if earlier is not None and earlier.status in OPEN_STATUSES else None
    new_contact = contact is None
    if new_contact:
        customer = _customer_for(sender)
        lang = "zh_CN" if _CJK.search(parsed.subject + parsed.text[:2000]) else "en"
        contact = do_create_contact(
            "email",
            earlier.queue if earlier is not None else queue,
            lang=earlier.lang if earlier is not None else lang,
            customer_id=customer.id if customer else (earlier.customer_id if earlier else None),
            customer_name=(customer.name if customer else parsed.from_name or sender or None),
            subject=(parsed.subject or "(no subject)")[:200],
            **_simulated(parsed),
        )
        if customer is not None and customer.name:
            contact.customer_name = customer.name[:80]
    data = {
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        "references": parsed.references,
        "from": {"name": parsed.from_name, "address": sender},
        "envelope_from": mail_from,
        "to": parsed.to,
        "cc": parsed.cc,
        "centre_address": centre_address,
        "subject": parsed.subject,
        "date": parsed.date,
        "html": parsed.html,
        "attachments": attachments,
        "ticket_number": ticket.number if ticket is not None else parsed.ticket_number,
        "threaded_by": threaded_by,
        "follows_contact_id": earlier.id if earlier is not None and earlier.id != contact.id else None,
        "notes": parsed.notes,
        "parse_error": parsed.parse_error,
        "peer": peer,
        **stored,
    }
    ev, _ = append_event(contact, "email.received", "customer", text=parsed.text, data=data)
    publish_contact_event(ev)
    if ticket is not None:
        from tickets.actions import do_link_contact

        do_link_contact(ticket, contact)
        db.session.commit()
    if earlier is not None and new_contact:
        # A follow-up on a closed contact opens a new one; it carries the earlier contact's tickets along.
        for t in _earlier_tickets(earlier, ticket):
            from tickets.actions import do_link_contact

            do_link_contact(t, contact)
        db.session.commit()
    return {
        "contact_id": contact.id,
        "event_id": ev.id,
        "new_contact": new_contact,
        "duplicate": False,
        "threaded_by": threaded_by,
        "ticket_number": data["ticket_number"],
    }


def _simulated(parsed: ParsedEmail) -> dict:
    """Contact fields for the sandbox's own simulated customer (a validly signed X-Kefu-Simulation header):
    the scenario, its exercise, the trainee it is reserved for, its level and priority. {} for anyone else."""
    from .simtag import verify

    fields = verify(current_app.config["SECRET_KEY"], parsed.message_id, parsed.simulation)
    if fields is None:
        return {}
    from scenarios.registry import get_scenario

    scenario = get_scenario(fields["scenario"])
    if scenario is None or scenario.channel != "email":
        return {}
    return {
        "scenario_id": scenario.id,
        "simulated": True,
        "exercise_id": fields["exercise"],
        "reserved_agent_id": fields["reserve"],
        "required_level": scenario.level if scenario.level in ("L3", "L4") else None,
        "priority": 1 if scenario.customer.type == "vip" else 0,
    }


def _earlier_tickets(earlier: Contact, already) -> list:
    from tickets.actions import tickets_for_contact

    return [t for t in tickets_for_contact(earlier.id) if already is None or t.id != already.id]
