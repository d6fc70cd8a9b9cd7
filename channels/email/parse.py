"""Parsing inbound mail into what the desk shows and the recording keeps. Never raises: a message that cannot be
parsed is still returned (raw text, with a note saying what went wrong), so nothing a customer sent is lost.

Real Chinese mail labels GBK text as GB2312 and sends 8-bit headers unencoded, so charsets in the GB family are
decoded as GB18030 (their superset), undeclared bytes are tried as UTF-8 then GB18030, and anything still
undecodable is replaced, never left as surrogates that would break the database or the page.
"""

from __future__ import annotations

import email
import hashlib
import html as html_lib
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

import nh3

# Charsets whose text is really GB18030 in the wild (GB2312 labels on GBK text are common).
CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "unicode-1-1-utf-7": "utf-7",
}
# "[T202611220001]": T + UTC date + a 4-digit daily sequence (tickets.actions._next_number); 【】 too.
TICKET_TOKEN_RE = re.compile(r"[\[【]\s*(T\d{12})\s*[\]】]", re.IGNORECASE)
MSGID_RE = re.compile(r"<[^<>\s]+>")
REPLY_PREFIX_RE = re.compile(r"^\s*((re|fw|fwd|aw|sv|回复|答复|转发)\s*[:：]\s*)+", re.IGNORECASE)
_SURROGATES = re.compile(r"[\ud800-\udfff]")
MAX_HTML_CHARS = 200_000


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

    @property
    def thread_ids(self) -> list[str]:
        """Ids this message answers, nearest first: In-Reply-To, then References from the newest back."""
        return list(dict.fromkeys([*self.in_reply_to, *reversed(self.references)]))


def clean_str(text: str) -> str:
    """Text safe to store: lone surrogates (from undecodable bytes) replaced, NULs dropped."""
    if _SURROGATES.search(text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        text = _SURROGATES.sub("\ufffd", text)
    return text.replace("\x00", "")


def charset_for(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().strip('"').lower()
    return CHARSET_ALIASES.get(name, name)


def decode_bytes(data: bytes, charset: str | None, notes: list[str] | None = None) -> str:
    """Bytes to text: the declared charset (GB family as GB18030), else UTF-8, else GB18030; else replaced."""
    declared = charset_for(charset)
    tries = [declared] if declared else []
    tries += [c for c in ("utf-8", "gb18030") if c not in tries]
    for cs in tries:
        try:
            return data.decode(cs)
        except LookupError:
            if notes is not None:
                notes.append(f"unknown charset {charset!r}")
        except UnicodeDecodeError:
            continue
    if notes is not None:
        notes.append(f"undecodable bytes in {charset or 'undeclared'} text were replaced")
    return data.decode(declared if _known(declared) else "utf-8", "replace")


def _known(cs: str | None) -> bool:
    import codecs

    try:
        return bool(cs) and codecs.lookup(cs) is not None
    except LookupError:
        return False


def decode_header_value(raw: str | None, notes: list[str] | None = None) -> str:
    """A raw header value to text: RFC 2047 encoded words decoded (GB family as GB18030), 8-bit raw bytes
    decoded like a body without a charset, folding undone."""
    if not raw:
        return ""
    raw = re.sub(r"\r?\n[ \t]+", " ", str(raw))
    if _SURROGATES.search(raw):  # unencoded 8-bit bytes, carried by the parser as surrogates
        raw = decode_bytes(raw.encode("utf-8", "surrogateescape"), None, notes)
    try:
        parts = decode_header(raw)
    except Exception:  # a broken encoded word: keep the text as it came
        return clean_str(raw).strip()
    out = []
    for piece, cs in parts:
        if isinstance(piece, bytes):
            out.append(decode_bytes(piece, cs or "utf-8", notes))
        else:
            out.append(piece)
    return clean_str("".join(out)).strip()


def html_to_text(markup: str) -> str:
    """A plain-text rendering of HTML: block elements on their own lines, scripts and styles dropped."""
    parser = _TextParser()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:
        return re.sub(r"<[^>]*>", " ", markup)
    text = "".join(parser.out)
    text = re.sub(r"[ \t\xa0]+", " ", text)
    return re.sub(r"\n\s*\n\s*\n+", "\n\n", text).strip()


class _TextParser(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote"}
    SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.out.append(data)


def sanitise_html(markup: str) -> str:
    """HTML safe to show in the desk: nh3 drops scripts, styles, event handlers and javascript: links."""
    return nh3.clean(markup[:MAX_HTML_CHARS])


def ticket_token(subject: str) -> str | None:
    m = TICKET_TOKEN_RE.search(subject or "")
    return m.group(1).upper() if m else None


def base_subject(subject: str) -> str:
    """The subject without reply prefixes and ticket tokens (for "Re: ..." on the answer)."""
    s = TICKET_TOKEN_RE.sub("", subject or "")
    return REPLY_PREFIX_RE.sub("", s).strip()


def _ids(raw: str | None) -> list[str]:
    return MSGID_RE.findall(raw or "")[:50]


def _raw_header(msg: EmailMessage, name: str) -> str | None:
    """The header's source text (policy.default would decode it with its own, less forgiving, rules)."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return value
    return None


def _addresses(raw: str | None, notes: list[str]) -> list[tuple[str, str]]:
    if not raw:
        return []
    raw = re.sub(r"\r?\n[ \t]+", " ", raw)
    return [(decode_header_value(n, notes), a.strip().lower()) for n, a in getaddresses([clean_str(raw)]) if "@" in a]


def parse_message(raw: bytes, *, attachment_limit: int = 5 * 1024 * 1024) -> ParsedEmail:
    """Parse raw RFC 5322 bytes. Never raises; see ``ParsedEmail.notes`` and ``parse_error``."""
    notes: list[str] = []
    digest = hashlib.sha256(raw).hexdigest()
    try:
        msg = email.message_from_bytes(raw, policy=policy.default)
    except Exception as e:  # the parser is lenient; this is the last line of defence
        return _unparsed(raw, digest, f"{type(e).__name__}: {e}")
    try:
        return _parse(msg, raw, digest, notes, attachment_limit)
    except Exception as e:
        return _unparsed(raw, digest, f"{type(e).__name__}: {e}", notes)


def _unparsed(raw: bytes, digest: str, error: str, notes: list[str] | None = None) -> ParsedEmail:
    """A message kept as raw text: the agent still sees everything the customer sent."""
    text = decode_bytes(raw, None)
    m = re.search(r"^from:\s*(.*)$", text, re.IGNORECASE | re.MULTILINE)
    name, addr = parseaddr(m.group(1)) if m else ("", "")
    return ParsedEmail(
        message_id=f"<unparsed-{digest[:32]}@kefu.local>",
        subject="",
        from_name=clean_str(name),
        from_address=addr.lower(),
        text=clean_str(text)[:MAX_HTML_CHARS],
        notes=[*(notes or []), "the message could not be parsed; it is kept as raw text"],
        parse_error=error,
    )


def _parse(msg: EmailMessage, raw: bytes, digest: str, notes: list[str], attachment_limit: int) -> ParsedEmail:
    subject = decode_header_value(_raw_header(msg, "Subject"), notes)
    if not _raw_header(msg, "Subject"):
        notes.append("no Subject header")
    senders = _addresses(_raw_header(msg, "From"), notes)
    if not senders:
        notes.append("no usable From address")
    from_name, from_address = senders[0] if senders else ("", "")
    message_ids = _ids(_raw_header(msg, "Message-ID"))
    if message_ids:
        message_id = message_ids[0]
    else:
        message_id = f"<missing-{digest[:32]}@kefu.local>"
        notes.append("no Message-ID; one was made from the message's hash")
    date = None
    raw_date = _raw_header(msg, "Date")
    if raw_date:
        try:
            date = parsedate_to_datetime(raw_date.strip()).isoformat()
        except (TypeError, ValueError, IndexError):
            notes.append(f"unreadable Date header {clean_str(raw_date)[:60]!r}")
    else:
        notes.append("no Date header")

    parsed = ParsedEmail(
        message_id=message_id,
        subject=subject,
        from_name=from_name,
        from_address=from_address,
        to=[a for _, a in _addresses(_raw_header(msg, "To"), notes)],
        cc=[a for _, a in _addresses(_raw_header(msg, "Cc"), notes)],
        date=date,
        in_reply_to=_ids(_raw_header(msg, "In-Reply-To")),
        references=_ids(_raw_header(msg, "References")),
        ticket_number=ticket_token(subject),
        notes=notes,
        simulation=clean_str(_raw_header(msg, "X-Kefu-Simulation") or "").strip() or None,
    )
    _body(msg, parsed, attachment_limit)
    defects = [type(d).__name__ for part in msg.walk() for d in part.defects]
    if defects:
        notes.append("MIME defects: " + ", ".join(sorted(set(defects))))
    if not parsed.text.strip() and not parsed.html and not parsed.attachments:
        notes.append("the message has no readable body")
    return parsed


def _body(msg: EmailMessage, parsed: ParsedEmail, attachment_limit: int) -> None:
    texts: list[str] = []
    htmls: list[str] = []
    for index, part in enumerate(msg.walk()):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = _filename(part, parsed.notes)
        if ctype.startswith("multipart/"):  # a multipart without usable boundaries: its source is the body
            ctype = "text/plain"
        if disposition == "attachment" or filename or not ctype.startswith("text/"):
            if ctype == "text/plain" and not filename and disposition != "attachment":
                pass  # a text part without a name is body text even when oddly labelled
            else:
                data = _payload(part)
                name = filename or f"part-{index}.{_ext(ctype)}"
                att = Attachment(name=name, content_type=ctype, data=data, size=len(data))
                if len(data) > attachment_limit:
                    att.data = b""
                    parsed.notes.append(f"attachment {name!r} ({len(data)} bytes) is over the limit; not stored")
                parsed.attachments.append(att)
                continue
        text = decode_bytes(_payload(part), part.get_content_charset(), parsed.notes)
        if ctype == "text/html":
            htmls.append(text)
        else:
            texts.append(text)
    if htmls:
        parsed.html = sanitise_html("\n".join(htmls))
    if texts:
        parsed.text = clean_str("\n\n".join(t.strip("\r\n") for t in texts))
    elif htmls:
        parsed.text = clean_str(html_to_text(parsed.html or ""))
    parsed.text = parsed.text.replace("\r\n", "\n")


def _payload(part) -> bytes:
    data = part.get_payload(decode=True)
    if data is None:
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    return data


def _filename(part, notes: list[str]) -> str | None:
    raw = part.get_param("filename", header="content-disposition") or part.get_param("name")
    if raw is None:
        return None
    if isinstance(raw, tuple):  # RFC 2231: (charset, language, value)
        cs, _lang, value = raw
        value = value.encode("latin-1", "surrogateescape") if isinstance(value, str) else value
        name = decode_bytes(value, cs, notes)
    else:
        name = decode_header_value(str(raw), notes)
    return html_lib.unescape(name).strip() or None


def _ext(ctype: str) -> str:
    return {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg", "text/plain": "txt"}.get(ctype, "bin")
