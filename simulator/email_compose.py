"""Writing and sending a simulated customer's email the way their mail client would.

``compose`` builds the raw message bytes from a scenario's ``email`` block: the body in the client's charset
and transfer encoding (GBK 8-bit, GB2312 quoted-printable, UTF-8 base64...), HTML-only when the customer uses
webmail, attachments, and threading headers. ``send`` hands the bytes to the centre's SMTP endpoint with
smtplib, as any person's client does, and reads the contact number from the 250 reply.
"""

from __future__ import annotations

import base64
import html
import quopri
import re
import smtplib
from email.header import Header
from email.utils import format_datetime, make_msgid

from clock import clock
from scenarios.schema import EmailSpec

CHASER = {
    "zh_CN": [
        "您好，我之前发的邮件到现在还没有收到回复，请尽快处理，谢谢。",
        "请问我的问题处理得怎么样了？一直没有收到回信。",
    ],
    "en": [
        "Hello, I have not had a reply to my email yet. Could you please look into it?",
        "I am still waiting for an answer to my email below. Please reply.",
    ],
}
SIGN_OFF = {"zh_CN": "谢谢！\n{name}", "en": "Regards,\n{name}"}
_CONTACT_RE = re.compile(rb"recorded on contact (\d+)")


class SendError(Exception):
    """The endpoint refused the message (rate limit, unknown address) or could not be reached."""

    def __init__(self, message: str, temporary: bool):
        super().__init__(message)
        self.temporary = temporary


def body_text(lines: list[str], name: str, lang: str) -> str:
    """Paragraphs as a person writes them in an email, with their sign-off."""
    sign = SIGN_OFF["zh_CN" if lang.startswith("zh") else "en"].format(name=name)
    return "\n\n".join(line.strip() for line in lines if line.strip()) + "\n\n" + sign + "\n"


def _encode(data: bytes, cte: str) -> bytes:
    if cte == "base64":
        return base64.encodebytes(data)
    if cte == "quoted-printable":
        return quopri.encodestring(data)
    return data


def _part(ctype: str, text: str, charset: str, cte: str) -> bytes:
    payload = _encode(text.encode(charset), cte).replace(b"\r\n", b"\n").rstrip(b"\n")
    head = f"Content-Type: {ctype}; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n".encode("ascii")
    return head + payload.replace(b"\n", b"\r\n") + b"\r\n"


def _html(text: str) -> str:
    paras = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n") if p.strip())
    return f'<html><body><div style="font-family: sans-serif">{paras}</div></body></html>'


def compose(
    spec: EmailSpec,
    *,
    from_name: str,
    from_address: str,
    to: str,
    subject: str,
    text: str,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    attachments: bool = False,
    sim_header: str | None = None,
    message_id: str | None = None,
) -> tuple[bytes, str]:
    """(raw bytes, Message-ID) of one message written as ``spec``'s mail client writes it."""
    charset, cte = spec.charset, spec.transfer_encoding
    msgid = message_id or make_msgid(domain=from_address.rsplit("@", 1)[-1])
    name = Header(from_name, charset).encode() if from_name else ""
    headers = [
        f"From: {name} <{from_address}>" if name else f"From: {from_address}",
        f"To: {to}",
        f"Subject: {Header(subject, charset).encode()}",
        f"Date: {format_datetime(clock.now())}",
        f"Message-ID: {msgid}",
        "MIME-Version: 1.0",
    ]
    if in_reply_to:
        refs = [*(references or []), in_reply_to]
        headers += [f"In-Reply-To: {in_reply_to}", f"References: {' '.join(dict.fromkeys(refs))}"]
    if sim_header:
        headers.append(f"X-Kefu-Simulation: {sim_header}")
    main = _part("text/html" if spec.html else "text/plain", _html(text) if spec.html else text, charset, cte)
    files = spec.attachments if attachments else []
    if not files:
        return "\r\n".join(headers).encode("ascii") + b"\r\n" + main, msgid
    boundary = "=_kefu_" + msgid.strip("<>").split("@")[0][-16:]
    out = "\r\n".join([*headers, f'Content-Type: multipart/mixed; boundary="{boundary}"']).encode("ascii")
    out += b"\r\n\r\nThis is a multi-part message in MIME format.\r\n"
    out += f"--{boundary}\r\n".encode() + main
    for att in files:
        fname = Header(att.name, "utf-8").encode() if not att.name.isascii() else att.name
        data = base64.encodebytes(att.text.encode("utf-8")).replace(b"\n", b"\r\n")
        out += (
            f'--{boundary}\r\nContent-Type: {att.content_type}; name="{fname}"\r\n'
            f'Content-Disposition: attachment; filename="{fname}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode("ascii") + data
    out += f"--{boundary}--\r\n".encode()
    return out, msgid


def send(host: str, port: int, sender: str, to: str, raw: bytes) -> int | None:
    """Send over SMTP (EHLO, MAIL, RCPT, DATA) and return the contact id from the endpoint's 250 reply.
    SendError(temporary=True) for 4xx replies and connection failures, temporary=False for 5xx."""
    try:
        with smtplib.SMTP(host, port, timeout=20) as smtp:
            smtp.ehlo("customer.example")
            code, resp = smtp.mail(sender)
            if code != 250:
                raise SendError(f"MAIL FROM refused: {code} {resp!r}", code < 500)
            code, resp = smtp.rcpt(to)
            if code not in (250, 251):
                raise SendError(f"RCPT TO refused: {code} {resp!r}", code < 500)
            code, resp = smtp.data(raw)
            if code != 250:
                raise SendError(f"DATA refused: {code} {resp!r}", code < 500)
    except (OSError, smtplib.SMTPException) as e:
        raise SendError(f"SMTP to {host}:{port} failed: {e}", True) from e
    m = _CONTACT_RE.search(resp or b"")
    return int(m.group(1)) if m else None
