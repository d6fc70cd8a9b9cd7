"""Bytes and header values of inbound mail to text that is safe to store and to put back into a reply.

Real Chinese mail labels GBK text as GB2312 and sends 8-bit headers unencoded, so charsets in the GB family are
decoded as GB18030 (their superset). A declared charset is believed: bytes it cannot decode are replaced and
noted, and only text that is plainly in another charset (far more undecodable than decodable characters) is
read as GB18030, with a note. Undeclared 8-bit bytes are tried as UTF-8, then GB18030.

Header values are cleaned after decoding: an encoded CR/LF, NUL or other control character (which would end a
header early in our reply, or be refused by PostgreSQL) becomes a space, with a note.
"""

from __future__ import annotations

import codecs
import re
from email.header import decode_header

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
# Labels that clients put on anything (a default, not a statement about the bytes).
_PLACEHOLDER_CHARSETS = {"us-ascii", "ascii", "ansi_x3.4-1968", "x-unknown", "unknown-8bit", "x-user-defined"}
_SURROGATES = re.compile(r"[\ud800-\udfff]")
# C0 controls (CR, LF, NUL, ...), DEL, C1 controls, line/paragraph separators and bidi overrides (which let a
# name or file name display as something it is not): none belongs in a header value.
_HEADER_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# A msg-id as RFC 5322 writes it: printable ASCII without spaces and angle brackets, between < and >.
MSGID_RE = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>")
_LOOSE_MSGID_RE = re.compile(r"<[^<>]*>")
MAX_IDS = 50


def clean_str(text: str) -> str:
    """Text safe to store: lone surrogates (from undecodable bytes) replaced, NULs dropped."""
    if _SURROGATES.search(text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        text = _SURROGATES.sub("\ufffd", text)
    return text.replace("\x00", "")


def clean_header_text(text: str, what: str, notes: list[str] | None) -> str:
    """A decoded header value (or file name) on one line: control characters become spaces, with a note."""
    if _HEADER_CONTROLS.search(text.replace("\t", " ")):
        if notes is not None:
            notes.append(f"control characters (line breaks, NUL, ...) in the {what} were replaced with spaces")
        text = _HEADER_CONTROLS.sub(" ", text)
    return re.sub(r"\s+", " ", clean_str(text).replace("\t", " ")).strip()


def charset_for(name: str | None) -> str | None:
    """The codec to use for a declared charset name (GB family as GB18030), lower-case; None when undeclared."""
    if not name:
        return None
    name = str(name).strip().strip('"').lower().split("*", 1)[0]  # "gb2312*zh": RFC 2231 language suffix
    return CHARSET_ALIASES.get(name, name) or None


def _known(cs: str | None) -> bool:
    try:
        return bool(cs) and codecs.lookup(cs) is not None
    except LookupError:
        return False


def _note(notes: list[str] | None, text: str) -> None:
    if notes is not None:
        notes.append(text)


def decode_bytes(data: bytes, charset: str | None, notes: list[str] | None = None, what: str = "text") -> str:
    """Bytes to text by the declared charset, with replacement and a note when they do not decode; see the
    module docstring for undeclared and mislabelled text."""
    declared = charset_for(charset)
    if declared and declared not in _PLACEHOLDER_CHARSETS and not _known(declared):
        _note(notes, f"unknown charset {charset!r} in the {what}; read as undeclared")
        declared = None
    if declared and declared not in _PLACEHOLDER_CHARSETS:
        try:
            return data.decode(declared)
        except UnicodeDecodeError:
            pass
        replaced = data.decode(declared, "replace")
        bad = replaced.count("\ufffd")
        good = sum(1 for ch in replaced if ord(ch) > 127 and ch != "\ufffd")
        if declared != "gb18030" and bad > good:  # wholly another charset: a mislabelled GB client
            try:
                text = data.decode("gb18030")
                _note(notes, f"the {what} is labelled {charset} but is not; it was read as GB18030")
                return text
            except UnicodeDecodeError:
                pass
        _note(notes, f"undecodable bytes in {charset} {what} were replaced")
        return replaced
    if declared in _PLACEHOLDER_CHARSETS and any(b > 127 for b in data):
        _note(notes, f"8-bit bytes in the {what} labelled {charset}; read as UTF-8 or GB18030")
    for cs in ("utf-8", "gb18030"):
        try:
            return data.decode(cs)
        except UnicodeDecodeError:
            continue
    _note(notes, f"undecodable bytes in {charset or 'undeclared'} {what} were replaced")
    return data.decode("utf-8", "replace")


def unfold(raw: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", raw)


def raw_8bit(raw: str, notes: list[str] | None, what: str) -> str:
    """A raw header value with its unencoded 8-bit bytes (carried by the parser as surrogates) decoded like
    undeclared text. Done before anything else touches the value, which would replace those bytes."""
    if not _SURROGATES.search(raw):
        return raw
    return decode_bytes(raw.encode("utf-8", "surrogateescape"), None, notes, what)


def decode_words(raw: str, notes: list[str] | None, what: str) -> str:
    """RFC 2047 encoded words decoded (GB family as GB18030); text outside them kept."""
    try:
        parts = decode_header(raw)
    except Exception:  # a broken encoded word: keep the text as it came
        _note(notes, f"a broken encoded word in the {what} was kept as it came")
        return raw
    out = []
    for piece, cs in parts:
        if isinstance(piece, str):
            out.append(piece)
        elif cs is None:  # text between encoded words: decode_header carries it as raw-unicode-escape
            out.append(piece.decode("raw-unicode-escape", "replace"))
        else:
            out.append(decode_bytes(piece, cs, notes, what))
    return "".join(out)


def decode_header_value(raw: str | None, notes: list[str] | None = None, what: str = "header") -> str:
    """A raw header value to one clean line of text: folding undone, raw 8-bit bytes and RFC 2047 encoded words
    decoded, control characters replaced (noted)."""
    if not raw:
        return ""
    text = raw_8bit(unfold(str(raw)), notes, what)
    return clean_header_text(decode_words(text, notes, what), what, notes)


def message_ids(raw: str | None, notes: list[str] | None, what: str) -> list[str]:
    """The msg-ids in a header, in order; ids with control characters, spaces or 8-bit bytes are dropped with a
    note (they would be copied into our reply's In-Reply-To and References)."""
    if not raw:
        return []
    raw = unfold(str(raw))
    good = MSGID_RE.findall(raw)
    if len(_LOOSE_MSGID_RE.findall(raw)) > len(good) or (not good and raw.strip()):
        _note(notes, f"an unusable id in {what} (control characters, spaces or 8-bit bytes) was dropped")
    return good[:MAX_IDS]
