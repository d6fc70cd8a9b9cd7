"""Telling automatic mail (bounces, out-of-office and other auto-replies, read receipts, bulk mail) from a
person's, by the headers mail systems put on it (RFC 3834 Auto-Submitted, RFC 3464 delivery reports, RFC 8098
read receipts, the common X-Autoreply / Precedence headers, the null envelope sender of a bounce).

Automatic mail never opens a contact: answering it would start a mail loop (two responders answering each
other) or put a bounce in a trainee's queue. Ingest records it on the open contact whose reply it answers, and
nowhere else (channels/email/ingest.py).
"""

from __future__ import annotations

import re

from .decode import MSGID_RE, unfold

_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|bounces?)@", re.IGNORECASE)
_AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-auto-reply", "x-autoresponder")
_BULK_PRECEDENCE = {"bulk", "junk", "auto_reply", "list"}


def header(msg, name: str) -> str | None:
    """The header's source text (unfolded), or None."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return unfold(str(value)).strip()
    return None


def automatic_reason(msg, from_address: str) -> str | None:
    """Why the message is automatic ("auto-submitted: auto-replied", "delivery report", ...), or None for a
    message a person wrote."""
    auto_submitted = (header(msg, "Auto-Submitted") or "").split(";", 1)[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"auto-submitted: {auto_submitted[:40]}"
    ctype = msg.get_content_type() if hasattr(msg, "get_content_type") else ""
    if ctype == "multipart/report":
        report = (msg.get_param("report-type") or "").lower()
        return "read receipt" if report == "disposition-notification" else "delivery report"
    if header(msg, "X-Failed-Recipients") is not None or _BOUNCE_SENDERS.match(from_address or ""):
        return "delivery report"
    for name in _AUTOREPLY_HEADERS:
        if header(msg, name) is not None:
            return "auto-reply header"
    precedence = (header(msg, "Precedence") or "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"precedence: {precedence}"
    return None


def reported_message_ids(msg) -> list[str]:
    """The Message-IDs of the mail a delivery report or read receipt is about (from its returned headers or
    message), so a bounce of our reply finds the contact it was sent on."""
    ids: list[str] = []
    if msg.get_content_type() != "multipart/report":
        return ids
    parts = msg.get_payload() if isinstance(msg.get_payload(), list) else []
    for part in parts[1:]:  # the first part is the human-readable explanation
        payload = part.get_payload()
        if isinstance(payload, list):  # message/rfc822, message/disposition-notification: header blocks
            for inner in payload:
                for name in ("Message-ID", "Original-Message-ID"):
                    ids += MSGID_RE.findall(header(inner, name) or "")
        elif part.get_content_type() in ("text/rfc822-headers", "text/global-headers"):
            raw = part.get_payload(decode=True) or b""
            found = re.search(rb"^message-id:[ \t]*(<[^<>\s]+>)", raw, re.I | re.M)
            if found:
                ids += MSGID_RE.findall(found.group(1).decode("ascii", "replace"))
    return ids[:5]
