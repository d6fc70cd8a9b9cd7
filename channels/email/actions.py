"""Replying by email: ``do_send_email_reply`` builds a real MIME message, records ``email.sent`` (with the
rendered message and the format check), delivers it to the customer's in-process mailbox and, when
``SMTP_RELAY`` is configured, relays it to the smarthost.
"""

from __future__ import annotations

import logging
import smtplib
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import current_app
from sqlalchemy import select

from accounts.models import User
from clock import clock
from contacts.actions import ActionError
from contacts.events import append_event, publish_contact_event
from contacts.models import Contact, ContactEvent, event_dict
from extensions import db
from scenarios.registry import get_pack, get_scenario
from tickets.actions import tickets_for_contact

from .decode import MSGID_RE, clean_header_text
from .format_check import check_email_format
from .mailbox import deliver
from .parse import base_subject, sanitise_html
from .storage import save_message

log = logging.getLogger(__name__)
MAX_REFERENCES = 20
# CRLF line ends and 7-bit transfer encodings (quoted-printable or base64 for UTF-8): any smarthost takes it.
REPLY_POLICY = policy.SMTP.clone(cte_type="7bit")


def last_inbound(contact: Contact) -> ContactEvent | None:
    """The latest ``email.received`` on the contact from its customer (the sender of its first mail): the message
    a reply answers. Automatic mail (``email.auto_received``) is never answered."""
    events = db.session.scalars(
        select(ContactEvent)
        .where(ContactEvent.contact_id == contact.id, ContactEvent.type == "email.received")
        .order_by(ContactEvent.seq)
    ).all()
    if not events:
        return None
    customer = _address(events[0])
    return next((ev for ev in reversed(events) if _address(ev) == customer), events[0])


def _address(ev: ContactEvent) -> str:
    data = ev.data or {}
    return ((data.get("from") or {}).get("address") or data.get("envelope_from") or "").lower()


def reply_subject(subject: str, ticket_number: str | None) -> str:
    """ "Re: <original subject> [T...]": one Re:, the ticket token once, so the customer's answer threads."""
    s = "Re: " + (base_subject(subject) or "(no subject)")
    return f"{s} [{ticket_number}]" if ticket_number else s


def build_reply(
    *,
    from_name: str,
    from_address: str,
    to_name: str,
    to_address: str,
    subject: str,
    body_text: str,
    html: str | None,
    in_reply_to: str | None,
    references: list[str],
) -> EmailMessage:
    """A UTF-8 MIME message (text, plus sanitised HTML as an alternative when given) with Date, Message-ID,
    In-Reply-To and References."""
    msg = EmailMessage(policy=REPLY_POLICY)
    # Every header value on one line (a recording made before parse-time cleaning may still hold a CR/LF, which
    # the email package refuses), and only well-formed ids in the threading headers.
    msg["From"] = _mailbox(from_name, from_address)
    msg["To"] = _mailbox(to_name, to_address)
    msg["Subject"] = clean_header_text(subject, "Subject", None)
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = make_msgid(domain=from_address.rsplit("@", 1)[-1] or "kefu.local")
    in_reply_to = in_reply_to if in_reply_to and MSGID_RE.fullmatch(in_reply_to) else None
    if in_reply_to:
        refs = [r for r in references if isinstance(r, str) and MSGID_RE.fullmatch(r)]
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = " ".join([*refs, in_reply_to][-MAX_REFERENCES:])
    msg.set_content(body_text, charset="utf-8")
    if html:
        msg.add_alternative(sanitise_html(html), subtype="html", charset="utf-8")
    return msg


def _mailbox(name: str | None, address: str):
    """A To/From value the email package renders and parses back as the same name (an Address object: a name
    pre-rendered with formataddr and parsed again loses everything before a ":" in it)."""
    name = clean_header_text(name or "", "name", None)
    try:
        return Address(display_name=name, addr_spec=address)
    except (ValueError, IndexError, TypeError):  # an address the header registry cannot take: no name, as it is
        return address


def _ticket_number(contact: Contact) -> str | None:
    tickets = tickets_for_contact(contact.id)
    return tickets[-1].number if tickets else None


def _pack(lang: str):
    try:
        return get_pack(lang)
    except Exception:  # no content loaded: the check falls back to its own phrase lists
        log.exception("no content pack for %s", lang)
        return None


def _scenario(contact: Contact):
    if not contact.scenario_id:
        return None
    return get_scenario(contact.scenario_id)


def do_send_email_reply(
    agent: User, contact: Contact, body_text: str, html: str | None = None, client_id: str | None = None
) -> dict:
    """Send the agent's reply on an active email contact; returns the recorded ``email.sent`` event.

    The event carries the rendered message (``data["rendered"]``), its file, its headers and the format
    check (``data["format"]``). Delivery to the customer's mailbox follows the commit; a configured relay
    that fails records ``email.relay_failed`` (the reply stays recorded and delivered in the sandbox).

    ``client_id`` (the desk's id for one reply) makes sending again idempotent: a reply whose request was recorded
    but whose answer never came back (the web process died after the commit, the proxy answered 502) and that the
    agent sends again is not recorded, delivered or relayed a second time - the customer would get the same mail
    twice and answer both. The recorded event is returned with ``duplicate`` True, even if the contact has moved on
    since.
    """
    if contact.channel != "email":
        raise ActionError(f"contact {contact.id} is a {contact.channel} contact, not email")
    if contact.agent_id != agent.id:
        raise ActionError("only the agent holding a contact can reply to it")
    if client_id is not None and (not isinstance(client_id, str) or not client_id or len(client_id) > 64):
        raise ActionError("client_id must be a string of at most 64 characters")
    if client_id:
        recorded = _recorded_reply(contact, client_id)
        if recorded is not None:
            return recorded
    if contact.status != "active":
        raise ActionError(f"contact {contact.id} is {contact.status}; it takes no more replies")
    if not isinstance(body_text, str) or not body_text.strip():
        raise ActionError("empty reply")
    limit = current_app.config["EMAIL_REPLY_MAX_CHARS"]
    if len(body_text) > limit:
        raise ActionError(f"reply is {len(body_text)} characters; the limit is {limit}")
    if html is not None and (not isinstance(html, str) or len(html) > 4 * limit):
        raise ActionError("html must be text of a sensible length")
    inbound = last_inbound(contact)
    if inbound is None:
        raise ActionError(f"contact {contact.id} has no received email to answer")

    data_in = inbound.data or {}
    customer = data_in.get("from") or {}
    to_address = _address(inbound)
    if "@" not in to_address or any(c in to_address for c in "\r\n\x00 <>,"):
        raise ActionError("the customer's email has no usable reply address")
    ticket_number = _ticket_number(contact)
    centre = data_in.get("centre_address") or next(iter(current_app.config["EMAIL_ADDRESS_QUEUES"]))
    msg = build_reply(
        from_name=current_app.config["EMAIL_FROM_NAME"],
        from_address=centre,
        to_name=customer.get("name") or "",
        to_address=to_address,
        subject=reply_subject(data_in.get("subject") or contact.subject or "", ticket_number),
        body_text=body_text,
        html=html,
        in_reply_to=data_in.get("message_id"),
        references=list(data_in.get("references") or []),
    )
    rendered = msg.as_bytes()
    stored = save_message(rendered, "sent")
    fmt = check_email_format(
        body_text, lang=contact.lang, pack=_pack(contact.lang), ticket_number=ticket_number, scenario=_scenario(contact)
    )
    data = {
        "message_id": msg["Message-ID"],
        "in_reply_to": msg["In-Reply-To"],
        "references": (msg["References"] or "").split(),
        "from": {"name": current_app.config["EMAIL_FROM_NAME"], "address": centre},
        "to": [to_address],
        "subject": msg["Subject"],
        "date": msg["Date"],
        "html": sanitise_html(html) if html else None,
        "ticket_number": ticket_number,
        "answers_event_id": inbound.id,
        "rendered": rendered.decode("ascii", "replace"),  # 7-bit by REPLY_POLICY
        "format": fmt,
        "relay": bool(current_app.config.get("SMTP_RELAY")),
        **stored,
    }
    ev, created = append_event(
        contact, "email.sent", "agent", actor_id=agent.id, text=body_text, data=data, client_id=client_id
    )
    if not created:  # the same reply sent twice at once: the other request recorded it first and delivers it
        return {**event_dict(ev), "duplicate": True}
    payload = publish_contact_event(ev)
    deliver(to_address, rendered, contact_id=contact.id, message_id=data["message_id"])
    relay = current_app.config.get("SMTP_RELAY")
    if relay:
        _relay(contact, msg, centre, to_address, relay)
    return payload["event"]


def _recorded_reply(contact: Contact, client_id: str) -> dict | None:
    """The ``email.sent`` already recorded on the contact under ``client_id`` (with ``duplicate`` True), if any."""
    ev = db.session.scalar(
        select(ContactEvent).where(ContactEvent.contact_id == contact.id, ContactEvent.client_id == client_id)
    )
    if ev is None:
        return None
    if ev.type != "email.sent":
        raise ActionError(f"client_id {client_id!r} is used by another event of contact {contact.id}")
    return {**event_dict(ev), "duplicate": True}


def _relay(contact: Contact, msg: EmailMessage, from_address: str, to_address: str, relay: str) -> None:
    """Hand the reply to the outside smarthost; a failure is recorded, never raised into the desk."""
    host, _, port = relay.rpartition(":")
    try:
        with smtplib.SMTP(host or relay, int(port or 25), timeout=10) as smtp:
            smtp.send_message(msg, from_addr=from_address, to_addrs=[to_address])
        ev, _ = append_event(contact, "email.relayed", "system", data={"message_id": msg["Message-ID"], "relay": relay})
    except (OSError, smtplib.SMTPException, ValueError) as e:
        log.warning("relay to %s failed: %s", relay, e)
        ev, _ = append_event(
            contact,
            "email.relay_failed",
            "system",
            text=str(e)[:500],
            data={"message_id": msg["Message-ID"], "relay": relay},
        )
    publish_contact_event(ev)
