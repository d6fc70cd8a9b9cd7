"""Parsing inbound mail into what the desk shows and the recording keeps. Never raises: a message that cannot be
parsed is still returned (its headers read on their own, the rest as raw text, with a note saying what went
wrong), so nothing a customer sent is lost. Decoding rules: channels/email/decode.py.

Limits (the raw message is always kept whole; what is beyond a limit is noted, never silently dropped):
``MAX_PARTS`` leaf parts read, ``MAX_ATTACHMENTS`` attachments stored, ``MAX_DEPTH`` levels of nesting,
``MAX_TEXT_CHARS`` of text and ``MAX_HTML_CHARS`` of HTML.
"""

from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime

from . import parts
from .auto import automatic_reason, reported_message_ids
from .decode import (  # noqa: F401  (re-exported: the channel's one parsing interface)
    clean_header_text,
    clean_str,
    decode_bytes,
    decode_header_value,
    decode_words,
    message_ids,
    raw_8bit,
    unfold,
)
from .htmlsafe import MAX_HTML_CHARS, html_to_text, sanitise_html  # noqa: F401  (re-exported)

# "[T202611220001]": T + UTC date + a 4-digit daily sequence (tickets.actions._next_number); 【】 too.
TICKET_TOKEN_RE = re.compile(r"[\[【]\s*(T\d{12})\s*[\]】]", re.IGNORECASE)
REPLY_PREFIX_RE = re.compile(r"^\s*((re|fw|fwd|aw|sv|回复|答复|转发)\s*[:：]\s*)+", re.IGNORECASE)
_ADDRESS_RE = re.compile(r"[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+")
MAX_PARTS = 100
MAX_ATTACHMENTS = 20
MAX_DEPTH = 30
MAX_TEXT_CHARS = 200_000
MAX_ADDRESSES = 50
MAX_NOTES = 40
SMTP_LINE_OCTETS = 998  # RFC 5322 2.1.1; longer lines are accepted (smtp.MAX_LINE_OCTETS) and noted
# Boundary lines the MIME parser is given at most: enough for MAX_PARTS parts in nested multiparts, and a bound
# on the parser's time and recursion (thousands of parts or levels would take it minutes, or overflow its stack).
MAX_BOUNDARY_LINES = 4 * MAX_PARTS


@dataclass
class Attachment:
    """One attachment (or inline non-text part): its decoded bytes until stored, then its stored path."""

    name: str
    content_type: str
    data: bytes = b""
    size: int = 0

    def listing(self) -> dict:
        return {"name": self.name, "type": self.content_type, "size": self.size}


@dataclass
class ParsedEmail:
    """What the channel keeps of one message. ``notes`` say what was missing, repaired or undecodable."""

    message_id: str
    subject: str
    from_name: str
    from_address: str
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    date: str | None = None  # ISO 8601 from the Date header, when it parses
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    text: str = ""
    html: str | None = None  # sanitised
    attachments: list[Attachment] = field(default_factory=list)
    ticket_number: str | None = None
    notes: list[str] = field(default_factory=list)
    parse_error: str | None = None
    simulation: str | None = None  # the X-Kefu-Simulation header, checked by ingest (channels/email/simtag.py)
    automatic: str | None = None  # why this is automatic mail (a bounce, an auto-reply...): channels/email/auto.py
    reported_ids: list[str] = field(default_factory=list)  # Message-IDs a delivery report is about
    calendar: dict | None = None  # a calendar invitation's summary (method, summary, start, end, ...)

    @property
    def thread_ids(self) -> list[str]:
        """Ids this message answers, nearest first: In-Reply-To, then References from the newest back."""
        return list(dict.fromkeys([*self.in_reply_to, *reversed(self.references)]))


def ticket_token(subject: str) -> str | None:
    m = TICKET_TOKEN_RE.search(subject or "")
    return m.group(1).upper() if m else None


def base_subject(subject: str) -> str:
    """The subject without reply prefixes and ticket tokens (for "Re: ..." on the answer)."""
    s = TICKET_TOKEN_RE.sub("", subject or "")
    return REPLY_PREFIX_RE.sub("", s).strip()


def parse_message(raw: bytes, *, attachment_limit: int = 5 * 1024 * 1024) -> ParsedEmail:
    """Parse raw RFC 5322 bytes. Never raises; see ``ParsedEmail.notes`` and ``parse_error``."""
    notes: list[str] = []
    digest = hashlib.sha256(raw).hexdigest()
    window = _parse_window(raw, notes)
    try:
        msg = email.message_from_bytes(window, policy=policy.default)
        parsed = _headers(msg, digest, notes)
        _body(msg, parsed, attachment_limit)
        defects = _defect_names(msg)
        if defects:
            notes.append("MIME defects: " + ", ".join(defects))
    except Exception as e:  # RecursionError included  # the parser is lenient; this is the last line of defence
        parsed = _unparsed(raw, digest, f"{type(e).__name__}: {str(e)[:200]}", notes)
    if not parsed.text.strip() and not parsed.html and not parsed.attachments:
        notes.append("the message has no readable body")
    _long_lines(raw, notes)
    parsed.notes = list(dict.fromkeys(clean_str(n)[:300] for n in notes))[:MAX_NOTES]
    return parsed


def _defect_names(msg) -> list[str]:
    """The kinds of MIME defect the parser found, in every part it read (bounded like ``_parts``)."""
    names: set[str] = set()
    stack, seen = [(msg, 0)], 0
    while stack and seen < MAX_BOUNDARY_LINES:
        part, depth = stack.pop()
        seen += 1
        names |= {type(d).__name__ for d in part.defects}
        body = part.get_payload()
        if part.is_multipart() and isinstance(body, list) and depth < MAX_DEPTH:
            stack.extend((p, depth + 1) for p in body)
    return sorted(names)


def _parse_window(raw: bytes, notes: list[str]) -> bytes:
    """The part of ``raw`` the MIME parser is given: all of it, unless it has more than MAX_BOUNDARY_LINES lines
    that could be boundaries (the parser then sees the first parts, and the rest is noted; raw is kept)."""
    for count, m in enumerate(re.finditer(rb"(?m)^--", raw), start=1):
        if count > MAX_BOUNDARY_LINES:
            notes.append(
                f"the message has more than {MAX_BOUNDARY_LINES} MIME boundaries; only its first parts were read"
                " (the raw message is kept whole)"
            )
            return raw[: m.start()]
    return raw


def _long_lines(raw: bytes, notes: list[str]) -> None:
    lengths = [len(line.rstrip(b"\r")) for line in raw.split(b"\n")]
    long = [n for n in lengths if n > SMTP_LINE_OCTETS]
    if long:
        notes.append(f"{len(long)} line(s) longer than {SMTP_LINE_OCTETS} octets (the longest {max(long)}); accepted")


def _addresses(raw: str | None, notes: list[str], what: str) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs of an address header; raw 8-bit names decoded before anything
    else sees them, encoded words decoded, control characters replaced."""
    if not raw:
        return []
    text = raw_8bit(unfold(raw), notes, f"{what} header")
    out = []
    for name, addr in getaddresses([text.replace("\x00", "")])[:MAX_ADDRESSES]:
        addr = addr.strip().lower()
        if not _ADDRESS_RE.fullmatch(addr):
            continue
        out.append((clean_header_text(decode_words(name, notes, f"{what} name"), f"{what} name", notes)[:200], addr))
    return out


def _headers(msg, digest: str, notes: list[str]) -> ParsedEmail:
    """A ParsedEmail with everything the headers say (no body yet)."""
    raw_subject = parts.raw_header(msg, "Subject")
    subject = decode_header_value(raw_subject, notes, "Subject")[:1000]
    if raw_subject is None:
        notes.append("no Subject header")
    senders = _addresses(parts.raw_header(msg, "From"), notes, "From")
    if not senders:
        notes.append("no usable From address")
    from_name, from_address = senders[0] if senders else ("", "")
    raw_id = parts.raw_header(msg, "Message-ID")
    own_ids = message_ids(raw_id, notes, "Message-ID")
    if own_ids:
        message_id = own_ids[0]
    else:
        message_id = f"<missing-{digest[:32]}@kefu.local>"
        notes.append(f"no {'usable ' if raw_id else ''}Message-ID; one was made from the message's hash")
    date = None
    raw_date = parts.raw_header(msg, "Date")
    if raw_date:
        try:
            date = parsedate_to_datetime(unfold(raw_date).strip()).isoformat()
        except (TypeError, ValueError, IndexError, OverflowError):
            notes.append(f"unreadable Date header {clean_header_text(raw_date, 'Date', None)[:60]!r}")
    else:
        notes.append("no Date header")
    simulation = clean_header_text(parts.raw_header(msg, "X-Kefu-Simulation") or "", "X-Kefu-Simulation", None)
    return ParsedEmail(
        message_id=message_id,
        subject=subject,
        from_name=from_name,
        from_address=from_address,
        to=[a for _, a in _addresses(parts.raw_header(msg, "To"), notes, "To")],
        cc=[a for _, a in _addresses(parts.raw_header(msg, "Cc"), notes, "Cc")],
        date=date,
        in_reply_to=message_ids(parts.raw_header(msg, "In-Reply-To"), notes, "In-Reply-To"),
        references=message_ids(parts.raw_header(msg, "References"), notes, "References"),
        ticket_number=ticket_token(subject),
        notes=notes,
        simulation=simulation or None,
        automatic=automatic_reason(msg, from_address),
    )


def _unparsed(raw: bytes, digest: str, error: str, notes: list[str]) -> ParsedEmail:
    """A message the MIME parser could not take: its headers read on their own (Subject, From, Message-ID and
    threading survive), the body kept as raw text, so the agent still sees everything the customer sent."""
    blank = re.search(rb"\r?\n\r?\n", raw)
    head, body = (raw[: blank.start()], raw[blank.end() :]) if blank else (raw, b"")
    try:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(head + b"\r\n\r\n")
        parsed = _headers(headers, digest, notes)
    except Exception:  # not even the headers: the envelope stands in
        parsed = ParsedEmail(f"<unparsed-{digest[:32]}@kefu.local>", subject="", from_name="", from_address="")
        parsed.notes = notes
        body = raw
    text = clean_str(decode_bytes(body[: 4 * MAX_TEXT_CHARS], None, notes, "body"))
    parsed.text = text[:MAX_TEXT_CHARS].replace("\r\n", "\n")
    parsed.parse_error = error
    notes.append("the message's MIME structure could not be parsed; its body is kept as raw text")
    return parsed


def _parts(msg, notes: list[str]):
    """The leaf parts in document order, without recursion: at most MAX_PARTS, nesting at most MAX_DEPTH deep
    (delivery-status blocks count as one leaf)."""
    stack = [(msg, 0)]
    count = 0
    while stack:
        part, depth = stack.pop()
        body = part.get_payload()
        if (
            part.is_multipart()
            and isinstance(body, list)
            and not part.get_content_type().startswith(("message/delivery-status", "message/disposition-notification"))
        ):
            if depth >= MAX_DEPTH:
                notes.append(f"MIME parts nested deeper than {MAX_DEPTH} levels were not read")
                continue
            stack.extend((p, depth + 1) for p in reversed(body))
            continue
        count += 1
        if count > MAX_PARTS:
            notes.append(f"only the first {MAX_PARTS} MIME parts were read (the raw message is kept whole)")
            return
        yield part


def _body(msg, parsed: ParsedEmail, attachment_limit: int) -> None:
    texts: list[str] = []
    htmls: list[str] = []
    skipped = 0
    parsed.reported_ids = reported_message_ids(msg)
    for index, part in enumerate(_parts(msg, parsed.notes)):
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        name = parts.filename(part, parsed.notes)
        if ctype.startswith("multipart/"):  # a multipart without usable boundaries: its source is the body
            ctype = "text/plain"
        if ctype in ("text/plain", "text/html") and not name and disposition != "attachment":
            text = decode_bytes(parts.payload(part), part.get_content_charset(), parsed.notes, "body")
            (htmls if ctype == "text/html" else texts).append(text)
            continue
        data = parts.payload(part)
        _kind_note(ctype, data, part, parsed)
        if len(parsed.attachments) >= MAX_ATTACHMENTS:
            skipped += 1
            continue
        att_name = name or f"part-{index}.{parts.extension(ctype)}"
        att = Attachment(name=att_name[:200], content_type=ctype[:100], data=data, size=len(data))
        if len(data) > attachment_limit:
            att.data = b""
            parsed.notes.append(f"attachment {att.name!r} ({len(data)} bytes) is over the limit; not stored")
        parsed.attachments.append(att)
    if skipped:
        parsed.notes.append(
            f"{skipped} more attachment(s) beyond the first {MAX_ATTACHMENTS} were not stored (the raw message"
            " keeps them)"
        )
    if htmls:
        parsed.html = sanitise_html("\n".join(htmls))
    if texts:
        parsed.text = clean_str("\n\n".join(t.strip("\r\n") for t in texts))
    elif htmls:
        parsed.text = clean_str(html_to_text(parsed.html or ""))
    parsed.text = parsed.text.replace("\r\n", "\n")
    if len(parsed.text) > MAX_TEXT_CHARS:
        parsed.text = parsed.text[:MAX_TEXT_CHARS]
        parsed.notes.append(f"the text was cut at {MAX_TEXT_CHARS} characters (the raw message is kept whole)")


def _kind_note(ctype: str, data: bytes, part, parsed: ParsedEmail) -> None:
    """What a non-body part means to the agent: a calendar invitation, a signature, sealed content."""
    if ctype == "text/calendar" and parsed.calendar is None:
        summary = parts.calendar_summary(decode_bytes(data, part.get_content_charset(), parsed.notes, "invitation"))
        parsed.calendar = summary
        parsed.notes.append(
            "calendar invitation"
            + (f" ({summary['method']})" if summary.get("method") else "")
            + (f": {summary['summary']}" if summary.get("summary") else "")
            + (f", starts {summary['dtstart']}" if summary.get("dtstart") else "")
        )
    elif ctype in parts.SIGNATURE_TYPES:
        parsed.notes.append(f"signed with {parts.SIGNATURE_TYPES[ctype]}; the signature is kept, not verified")
    elif ctype in parts.SEALED_TYPES:
        parsed.notes.append(
            f"{parts.SEALED_TYPES[ctype]} encrypted or opaque-signed content: it cannot be read here and is kept"
            " as an attachment"
        )


def split_tag(address: str) -> tuple[str, str | None]:
    """A sub-address: ``service+rp-abc@kefu.local`` -> (``service@kefu.local``, ``rp-abc``) (RFC 5233)."""
    local, at, domain = (address or "").lower().rpartition("@")
    if not at:
        return (address or "").lower(), None
    base, plus, tag = local.partition("+")
    return f"{base}@{domain}", (tag or None) if plus else None
