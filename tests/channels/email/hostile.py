"""Real-world-shaped and hostile messages for the email tests, built byte by byte, and an SMTP helper that
returns the server's reply to DATA (smtplib.sendmail hides it)."""

from __future__ import annotations

import base64
import smtplib
import urllib.parse
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

CRLF = b"\r\n"


def smtp_send(endpoint, raw: bytes, *, sender="customer@example.com", to=("service@kefu.local",)) -> tuple:
    """(code, text) of the server's answer to DATA, or of the first refusal (MAIL or RCPT)."""
    with smtplib.SMTP(endpoint.host, endpoint.port, timeout=30) as smtp:
        smtp.ehlo()
        code, text = smtp.mail(sender)
        if code != 250:
            return code, text.decode()
        for rcpt in to:
            code, text = smtp.rcpt(rcpt)
            if code != 250:
                return code, text.decode()
        code, text = smtp.data(raw)
        return code, text.decode()


def message(
    headers: list[tuple[str, bytes | str]], body: bytes, *, ctype: bytes = b"text/plain; charset=utf-8"
) -> bytes:
    """A single-part message from raw header lines (bytes are written as they are: 8-bit, encoded words...)."""
    lines = []
    for name, value in headers:
        lines.append(name.encode("ascii") + b": " + (value if isinstance(value, bytes) else value.encode("ascii")))
    lines += [b"MIME-Version: 1.0", b"Content-Type: " + ctype]
    return CRLF.join(lines) + CRLF + CRLF + body.replace(b"\r\n", b"\n").replace(b"\n", CRLF)


def basic_headers(*, subject: bytes | str = "Hello", from_: bytes | str = "customer@example.com", msgid=None):
    return [
        ("From", from_),
        ("To", "service@kefu.local"),
        ("Subject", subject),
        ("Date", "Sun, 22 Nov 2026 10:00:00 +0800"),
        ("Message-ID", msgid or make_msgid(domain="example.com")),
    ]


def b64(text: str, charset: str) -> bytes:
    return base64.encodebytes(text.encode(charset))


def encoded_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def multipart(headers, parts: list[bytes], *, subtype: str = "mixed", params: str = "") -> bytes:
    """A multipart message: ``parts`` are raw part bytes (their own headers, a blank line, the body)."""
    boundary = "=_kefu_test_boundary"
    lines = [name.encode() + b": " + (v if isinstance(v, bytes) else v.encode()) for name, v in headers]
    lines += [b"MIME-Version: 1.0", f'Content-Type: multipart/{subtype}; boundary="{boundary}"{params}'.encode()]
    out = CRLF.join(lines) + CRLF + CRLF
    for part in parts:
        out += f"--{boundary}".encode() + CRLF + part.replace(b"\r\n", b"\n").replace(b"\n", CRLF) + CRLF
    return out + f"--{boundary}--".encode() + CRLF


def part(ctype: str, body: bytes, *, cte: str = "base64", extra: list[bytes] = ()) -> bytes:
    head = [f"Content-Type: {ctype}".encode(), f"Content-Transfer-Encoding: {cte}".encode(), *extra]
    return b"\n".join(head) + b"\n\n" + body


def rfc2231(name: str, charset: str) -> bytes:
    return urllib.parse.quote_from_bytes(name.encode(charset)).encode()


def nested(levels: int, *, subject: str, msgid: str) -> bytes:
    """A message whose multiparts nest ``levels`` deep, with a text part at the bottom."""
    head = (
        f"From: deep@example.com\r\nTo: service@kefu.local\r\nSubject: {subject}\r\nMessage-ID: {msgid}\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    ).encode()
    body = b"".join(
        b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i - 1, i) for i in range(1, levels)
    )
    return head + body + b"--b%d\r\nContent-Type: text/plain\r\n\r\nat the bottom\r\n" % (levels - 1)


def html_with_image(url: str, *, subject="Photo of the damage", from_addr="pic@example.com", msgid=None) -> bytes:
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = "service@kefu.local"
    msg["Subject"] = subject
    msg["Message-ID"] = msgid or make_msgid(domain="example.com")
    msg.set_content(
        f'<p>Here is the box:</p><img src="{url}" alt="box photo"><img src="/api/email/contacts" alt="local">'
        "<p>Please help.</p>",
        subtype="html",
    )
    return msg.as_bytes(policy=policy.SMTP)
