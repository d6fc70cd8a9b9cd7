"""Recording inbound mail: ``do_receive_email`` turns one accepted SMTP message into a new email contact in its
queue, or an ``email.received`` event on the contact it answers (threaded by Message-ID / In-Reply-To /
References or by a ticket token in the subject), with the ticket linked.

A follow-up joins an earlier thread only when it comes from that thread's customer: a stranger quoting a
customer's Message-ID or guessing a ticket token opens a contact of their own, flagged ``thread_refused`` (the
trainee's reply can then only go to the stranger, and never lands in the customer's conversation).

Automatic mail (bounces, auto-replies, our own mail coming back) never opens a contact: it is recorded as
``email.auto_received`` on the open contact whose reply it answers, or only kept on disk (channels/email/auto.py).

Runs in a worker thread with an app context (the SMTP handler hands it over), never on the asyncio loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from contacts.actions import ActionError, do_create_contact
from contacts.events import append_event, publish_contact_event
from contacts.lifecycle import lock_contact
from contacts.models import Contact, ContactEvent
from contacts.transaction import atomic
from extensions import db
from scenarios.registry import get_scenario
from tickets.actions import do_link_contact, tickets_for_contact
from tickets.models import Customer, Ticket, TicketContactLink

from .decode import clean_str
from .parse import ParsedEmail, parse_message, split_tag
from .storage import save_attachments, save_message

EMAIL_EVENT_TYPES = ("email.received", "email.sent")
OPEN_STATUSES = ("queued", "active")
_CJK = re.compile(r"[\u3400-\u9fff]")
NAME_CHARS = 80  # Contact.customer_name
SUBJECT_CHARS = 200  # Contact.subject


def address_queues() -> dict[str, str]:
    """The centre's addresses (lower-case) and the queue each feeds."""
    return {a.lower(): q for a, q in current_app.config["EMAIL_ADDRESS_QUEUES"].items()}


def queue_for(rcpt_tos: list[str]) -> tuple[str, str]:
    """(centre address, queue) of the first recipient that is one of the centre's addresses (a sub-address
    ``name+tag@`` counts as ``name@``)."""
    table = address_queues()
    for rcpt in rcpt_tos:
        base, _tag = split_tag(rcpt)
        if base in table:
            return base, table[base]
    raise ActionError(f"none of {rcpt_tos!r} is one of the centre's addresses")


def roleplay_tag(rcpt_tos: list[str]) -> str | None:
    """The role-play token a recipient's sub-address carries (``service+rp-TOKEN@``), if any. Tokens are
    case-sensitive, so the tag is read from the address as written."""
    for rcpt in rcpt_tos:
        local = (rcpt or "").rpartition("@")[0]
        _base, plus, tag = local.partition("+")
        if plus and tag.lower().startswith("rp-"):
            return tag[3:]
    return None


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


def customer_address(contact_id: int) -> str | None:
    """The address a contact's conversation is with: the sender of its first received mail."""
    first = db.session.scalar(
        select(ContactEvent)
        .where(ContactEvent.contact_id == contact_id, ContactEvent.type == "email.received")
        .order_by(ContactEvent.seq)
        .limit(1)
    )
    return ((first.data or {}).get("from") or {}).get("address") if first is not None else None


def _ticket_by_number(number: str | None):
    if not number:
        return None
    return db.session.scalar(select(Ticket).where(Ticket.number == number))


def _latest_ticket(contact: Contact):
    tickets = tickets_for_contact(contact.id)
    return tickets[-1] if tickets else None


def _email_contacts_of(ticket) -> list[Contact]:
    linked = select(TicketContactLink.contact_id).where(TicketContactLink.ticket_id == ticket.id)
    return list(
        db.session.scalars(
            select(Contact)
            .where(Contact.channel == "email", (Contact.id.in_(linked)) | (Contact.id == ticket.contact_id))
            .order_by(Contact.id.desc())
        )
    )


def _ticket_addresses(ticket, contacts: list[Contact]) -> set[str]:
    addresses = {customer_address(c.id) for c in contacts}
    customer = db.session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    if customer is not None and customer.email:
        addresses.add(customer.email.lower())
    return {a for a in addresses if a}


@dataclass
class Thread:
    """Where a follow-up belongs: the earlier contact and ticket and how they were found; or, for a message whose
    threading points at another customer's conversation, what it pointed at (``refused``)."""

    earlier: Contact | None = None
    ticket: object | None = None
    how: str | None = None
    refused: dict | None = None


def find_thread(parsed: ParsedEmail, sender: str) -> Thread:
    """The thread a message from ``sender`` continues: by Message-ID (the mail or reply it answers), else by
    ticket token; each only when ``sender`` is that thread's customer."""
    refused = None
    ev = event_by_message_id(parsed.thread_ids)
    if ev is not None:
        data = ev.data or {}
        party = (data.get("to") or []) if ev.type == "email.sent" else [(data.get("from") or {}).get("address")]
        how = "in_reply_to" if data.get("message_id") in parsed.in_reply_to else "references"
        if sender and sender in {*party, customer_address(ev.contact_id)}:
            contact = db.session.get(Contact, ev.contact_id)
            return Thread(contact, _ticket_by_number(parsed.ticket_number) or _latest_ticket(contact), how)
        refused = {"contact_id": ev.contact_id, "by": how}
    ticket = _ticket_by_number(parsed.ticket_number)
    if ticket is not None:
        contacts = _email_contacts_of(ticket)
        if sender and sender in _ticket_addresses(ticket, contacts):
            return Thread(contacts[0] if contacts else None, ticket, "ticket_token")
        refused = refused or {"contact_id": contacts[0].id if contacts else None, "by": "ticket_token"}
        refused["ticket_number"] = ticket.number
    return Thread(refused=refused)


def _customer_for(address: str):
    if not address:
        return None
    return db.session.scalar(select(Customer).where(func.lower(Customer.email) == address).limit(1))


def json_safe(value):
    """A value PostgreSQL's JSON takes: strings without NUL or lone surrogates, all the way down."""
    if isinstance(value, str):
        return clean_str(value)
    if isinstance(value, dict):
        return {clean_str(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def do_receive_email(raw: bytes, *, mail_from: str, rcpt_tos: list[str], peer: str | None = None) -> dict:
    """Record one accepted message; returns ``{"contact_id", "event_id", "new_contact", "duplicate", ...}``
    (``contact_id`` None, with ``automatic``, for automatic mail that answers no open contact).

    The raw bytes are kept in a file referenced from the event, so the recording loses nothing, even when the
    MIME cannot be parsed (the event then carries ``parse_error`` and ``notes``). A message whose Message-ID
    was already recorded is not recorded twice (a client resending after a lost reply).
    """
    centre_address, queue = queue_for(rcpt_tos)
    parsed = parse_message(raw, attachment_limit=current_app.config["EMAIL_ATTACHMENT_MAX_BYTES"])
    seen = event_by_message_id([parsed.message_id], types=("email.received", "email.auto_received"))
    if seen is not None:
        return {"contact_id": seen.contact_id, "event_id": seen.id, "new_contact": False, "duplicate": True}
    sender = parsed.from_address or ("" if mail_from == "<>" else clean_str(mail_from or "").lower())
    automatic = _automatic(parsed, mail_from, sender)
    if automatic:
        return _receive_automatic(raw, parsed, automatic, mail_from, centre_address, peer)

    stored = save_message(raw, "inbound")
    attachments = save_attachments(parsed.attachments)
    thread = find_thread(parsed, sender)
    earlier, ticket = thread.earlier, thread.ticket
    contact = earlier if earlier is not None and earlier.status in OPEN_STATUSES else None
    new_contact = contact is None
    roleplay_token = None
    # The contact, the mail and its ticket links: one transaction; the ACD is offered the contact after it.
    with atomic():
        if earlier is not None:
            # Two senders of one Message-ID at once (a simulated customer's old driver and the process that took it
            # over, simulator/email_sending.py) both passed the check above: the thread's row serialises them, and
            # the second finds the first's mail now.
            lock_contact(earlier)
            seen = event_by_message_id([parsed.message_id], types=("email.received",))
            if seen is not None:
                return {"contact_id": seen.contact_id, "event_id": seen.id, "new_contact": False, "duplicate": True}
        if new_contact:
            customer = _customer_for(sender)
            lang = "zh_CN" if _CJK.search(parsed.subject + parsed.text[:2000]) else "en"
            name = customer.name if customer else parsed.from_name or sender or None
            fields = {
                "lang": earlier.lang if earlier is not None else lang,
                "customer_id": customer.id if customer else (earlier.customer_id if earlier else None),
                "customer_name": name[:NAME_CHARS] if name else None,
                **(_simulated(parsed) or _roleplay(rcpt_tos, sender)),
            }
            roleplay_token = fields.pop("roleplay_token", None)
            contact = do_create_contact(
                "email",
                earlier.queue if earlier is not None else queue,
                subject=(parsed.subject or "(no subject)")[:SUBJECT_CHARS],
                **fields,
            )
        if thread.refused:
            parsed.notes.append(
                "this mail's threading points at another customer's conversation"
                f" ({'ticket ' + thread.refused['ticket_number'] if thread.refused.get('ticket_number') else 'contact'}"
                f"{' #' + str(thread.refused['contact_id']) if thread.refused.get('contact_id') else ''}), but it comes"
                " from a different address; it was opened as a contact of its own"
            )
        data = {
            **_common(parsed, mail_from, centre_address, peer, stored, attachments),
            "ticket_number": ticket.number
            if ticket is not None
            else (None if thread.refused else parsed.ticket_number),
            "threaded_by": thread.how,
            "thread_refused": thread.refused,
            "follows_contact_id": earlier.id if earlier is not None and earlier.id != contact.id else None,
        }
        data["from"]["address"] = sender
        ev, _ = append_event(contact, "email.received", "customer", text=clean_str(parsed.text), data=json_safe(data))
        publish_contact_event(ev)
        _link_tickets(contact, earlier, ticket, new_contact)
    if roleplay_token and _roleplay_mail is not None:
        _roleplay_mail.bind_contact(roleplay_token, contact.id)
    return {
        "contact_id": contact.id,
        "event_id": ev.id,
        "new_contact": new_contact,
        "duplicate": False,
        "threaded_by": thread.how,
        "thread_refused": bool(thread.refused),
        "ticket_number": data["ticket_number"],
    }


def _common(parsed: ParsedEmail, mail_from: str, centre_address: str, peer, stored: dict, attachments) -> dict:
    """The event data every received mail carries."""
    return {
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        "references": parsed.references,
        "from": {"name": parsed.from_name, "address": parsed.from_address},
        "envelope_from": mail_from,
        "to": parsed.to,
        "cc": parsed.cc,
        "centre_address": centre_address,
        "subject": parsed.subject,
        "date": parsed.date,
        "html": parsed.html,
        "attachments": attachments,
        "calendar": parsed.calendar,
        "notes": parsed.notes,
        "parse_error": parsed.parse_error,
        "peer": peer,
        **stored,
    }


def _link_tickets(contact: Contact, earlier: Contact | None, ticket, new_contact: bool) -> None:
    if ticket is not None:
        do_link_contact(ticket, contact)
    if earlier is not None and new_contact:
        # A follow-up on a closed contact opens a new one; it carries the earlier contact's tickets along.
        for t in _earlier_tickets(earlier, ticket):
            do_link_contact(t, contact)


def _automatic(parsed: ParsedEmail, mail_from: str, sender: str) -> str | None:
    """Why this message must not open a contact: automatic mail, or our own mail coming back (a loop)."""
    if sender in address_queues():
        return "loop: sent from one of the centre's own addresses"
    if event_by_message_id([parsed.message_id], types=("email.sent",)) is not None:
        return "loop: our own reply came back"
    if parsed.automatic:
        return parsed.automatic
    if mail_from in ("", "<>"):  # the null reverse-path: only delivery reports use it (RFC 5321 4.5.5)
        return "delivery report (null envelope sender)"
    return None


def _receive_automatic(raw: bytes, parsed: ParsedEmail, why: str, mail_from, centre_address, peer) -> dict:
    """Automatic mail: on the open contact whose reply it answers (by our Message-ID), as
    ``email.auto_received``; otherwise kept on disk only. Never opens a contact and is never answered."""
    stored = save_message(raw, "automatic")
    sent = event_by_message_id([*parsed.thread_ids, *parsed.reported_ids], types=("email.sent",))
    contact = db.session.get(Contact, sent.contact_id) if sent is not None else None
    result = {"contact_id": None, "event_id": None, "new_contact": False, "duplicate": False, "automatic": why}
    if contact is None or contact.status not in OPEN_STATUSES + ("wrap_up",):
        current_app.logger.info("automatic mail (%s) kept at %s, no contact", why, stored["raw_path"])
        return result
    data = {**_common(parsed, mail_from, centre_address, peer, stored, []), "automatic": why}
    data["answers_event_id"] = sent.id
    ev, _ = append_event(contact, "email.auto_received", "system", text=clean_str(parsed.text), data=json_safe(data))
    publish_contact_event(ev)
    return {**result, "contact_id": contact.id, "event_id": ev.id}


def _simulated(parsed: ParsedEmail) -> dict:
    """Contact fields for the sandbox's own simulated customer (a validly signed X-Kefu-Simulation header):
    the scenario, its exercise, the trainee it is reserved for, its level and priority. {} for anyone else."""
    from .simtag import verify

    fields = verify(current_app.config["SECRET_KEY"], parsed.message_id, parsed.simulation)
    if fields is None:
        return {}
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


@dataclass(frozen=True)
class RolePlayMail:
    """How a role-play's first mail becomes its contact; roleplay registers one in its init_app, so this channel
    imports nothing of roleplay (which starts chats and calls through the channels)."""

    contact_fields: Callable[[str, str], dict]
    """(token, sender) -> the contact's fields with "roleplay_token"; ActionError for an unknown or used link."""
    bind_contact: Callable[[str, int], None]
    """(token, contact id): record which contact the role-play became, once it exists."""


_roleplay_mail: RolePlayMail | None = None


def register_roleplay_mail(handler: RolePlayMail) -> None:
    """roleplay's init_app: mail to ``service+rp-TOKEN@`` opens that role-play's contact."""
    global _roleplay_mail
    _roleplay_mail = handler


def _roleplay(rcpt_tos: list[str], sender: str) -> dict:
    """Contact fields for a role-play's first mail (to ``service+rp-TOKEN@``): the scenario, its CRM customer,
    the reserved trainee. The first sender is bound to the role-play; {} for an unknown or used link."""
    token = roleplay_tag(rcpt_tos)
    if not token or _roleplay_mail is None:
        return {}
    try:
        return _roleplay_mail.contact_fields(token, sender)
    except ActionError as e:  # the role-play's refusal (RolePlayError)
        current_app.logger.info("role-play mail from %s not attached: %s", sender, e)
        return {}


def _earlier_tickets(earlier: Contact, already) -> list:
    return [t for t in tickets_for_contact(earlier.id) if already is None or t.id != already.id]
