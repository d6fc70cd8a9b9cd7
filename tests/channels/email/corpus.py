"""Messages the email tests send: built here, byte by byte, in the encodings real mail uses."""

from __future__ import annotations

import base64
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formataddr, make_msgid


def raw_text(
    body: str,
    *,
    charset: str = "utf-8",
    cte: str = "base64",
    subject: str = "Order question",
    subject_charset: str | None = None,
    from_name: str = "",
    from_addr: str = "customer@example.com",
    to: str = "service@kefu.local",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: dict | None = None,
) -> bytes:
    """A single-part text/plain message with the body in ``charset`` and ``cte`` (base64, quoted-printable,
    8bit) and the subject RFC 2047-encoded in ``subject_charset`` when given."""
    import quopri

    data = body.encode(charset)
    if cte == "base64":
        payload = base64.encodebytes(data)
    elif cte == "quoted-printable":
        payload = quopri.encodestring(data)
    else:
        payload = data
    subj = Header(subject, subject_charset).encode() if subject_charset else subject
    name = Header(from_name, subject_charset or "utf-8").encode() if from_name else ""
    lines = [
        f"From: {name} <{from_addr}>" if name else f"From: {from_addr}",
        f"To: {to}",
        f"Subject: {subj}",
        "Date: Sun, 22 Nov 2026 10:00:00 +0800",
        f"Message-ID: {message_id or make_msgid(domain='example.com')}",
        "MIME-Version: 1.0",
        f"Content-Type: text/plain; charset={charset}",
        f"Content-Transfer-Encoding: {cte}",
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return (
        "\r\n".join(lines).encode("ascii")
        + b"\r\n\r\n"
        + (payload.rstrip(b"\r\n") + b"\n").replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    )


def html_only(html: str, *, subject: str = "HTML only", from_addr: str = "html@example.com") -> bytes:
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = "service@kefu.local"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.set_content(html, subtype="html", charset="utf-8")
    return msg.as_bytes(policy=policy.SMTP)  # CRLF, as a mail client sends it


def with_attachment(
    body: str, name: str, data: bytes, *, ctype: str = "application/pdf", from_addr: str = "att@example.com"
) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr(("附件客户", from_addr))
    msg["To"] = "service@kefu.local"
    msg["Subject"] = "发票和照片"
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.set_content(body)
    maintype, subtype = ctype.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=policy.SMTP)  # CRLF, as a mail client sends it


MALFORMED = (
    b"From: broken@example.com\r\nTo: service@kefu.local\r\nSubject: broken\r\n"
    b"Content-Type: multipart/mixed\r\n\r\n--nowhere\r\nContent-Type: text/plain\r\n\r\nhalf a message\r\n"
)
