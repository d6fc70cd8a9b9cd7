"""One leaf MIME part of inbound mail: its file name (RFC 2231, RFC 2047 and raw 8-bit names), its bytes, what
kind of part it is (body text, attachment, calendar invitation, S/MIME or PGP signature or envelope), and a
calendar invitation's summary."""

from __future__ import annotations

import html as html_lib
import re
from email.message import Message

from .decode import clean_header_text, decode_bytes, decode_words, raw_8bit, unfold

SIGNATURE_TYPES = {
    "application/pkcs7-signature": "S/MIME",
    "application/x-pkcs7-signature": "S/MIME",
    "application/pgp-signature": "PGP",
}
SEALED_TYPES = {
    "application/pkcs7-mime": "S/MIME",
    "application/x-pkcs7-mime": "S/MIME",
    "application/pgp-encrypted": "PGP",
}
CALENDAR_FIELDS = ("METHOD", "SUMMARY", "DTSTART", "DTEND", "LOCATION", "ORGANIZER")
_EXT = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "text/plain": "txt",
    "text/calendar": "ics",
    "application/pkcs7-signature": "p7s",
    "application/x-pkcs7-signature": "p7s",
    "application/pkcs7-mime": "p7m",
    "application/x-pkcs7-mime": "p7m",
    "application/pgp-signature": "asc",
    "message/rfc822": "eml",
}


def raw_header(part, name: str) -> str | None:
    """The header's source text (policy.default would decode it with its own, less forgiving, rules)."""
    for key, value in part.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _param(raw: str | None, name: str, notes: list[str]):
    """A parameter of a raw structured header, RFC 2231 continuations joined: a str, or (charset, language,
    latin-1 text of the bytes) for an RFC 2231 encoded value. Read with the compat32 parser, which leaves the
    charset to us."""
    if not raw:
        return None
    holder = Message()
    # Raw 8-bit bytes decoded first: compat32 would turn them into U+FFFD before we saw them.
    holder["X-Param"] = raw_8bit(unfold(raw), notes, "attachment name")
    return holder.get_param(name, header="x-param")


def filename(part, notes: list[str]) -> str | None:
    """The part's file name (Content-Disposition filename, else Content-Type name), decoded and cleaned to a
    base name on one line; None when it has none."""
    value = _param(raw_header(part, "Content-Disposition"), "filename", notes) or _param(
        raw_header(part, "Content-Type"), "name", notes
    )
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231: (charset, language, value)
        cs, _lang, text = value
        name = decode_bytes(text.encode("latin-1", "replace"), cs or None, notes, "attachment name")
    else:
        name = decode_words(str(value), notes, "attachment name")
    name = clean_header_text(html_lib.unescape(name), "attachment name", notes)
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip() or None


def payload(part) -> bytes:
    """The part's decoded bytes; a part the decoder cannot take is kept as it came."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        body = part.get_payload()
        if isinstance(body, list):  # header blocks (message/delivery-status): kept as their text
            try:
                return b"\r\n".join(p.as_bytes() for p in body)
            except Exception:
                return b""
        data = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else b""
    return data


def extension(ctype: str) -> str:
    return _EXT.get(ctype, "bin")


def calendar_summary(text: str) -> dict:
    """METHOD, SUMMARY, DTSTART, DTEND, LOCATION and ORGANIZER of an iCalendar invitation (first event)."""
    lines = re.sub(r"\r?\n[ \t]", "", text).splitlines()
    found: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        name = key.split(";", 1)[0].strip().upper()
        if sep and name in CALENDAR_FIELDS and name.lower() not in found:
            value = re.sub(r"^mailto:", "", value.strip(), flags=re.IGNORECASE)
            found[name.lower()] = clean_header_text(value.replace("\\n", " ").replace("\\,", ","), "invitation", None)[
                :200
            ]
    return found
