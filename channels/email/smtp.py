"""The centre's SMTP endpoint: aiosmtpd's protocol served from the media loop (the one asyncio thread,
DESIGN.md "Runtime"), not aiosmtpd's own Controller thread.

SMTP replies: an unknown centre address -> 550 at RCPT; over the size limit -> 552 (aiosmtpd, before DATA is
handed over, so nothing is stored); a line over ``MAX_LINE_OCTETS`` -> 500 (aiosmtpd, nothing stored; lines
over RFC 5322's 998 octets up to that limit are accepted and noted); more than ``SMTP_RATE_PER_MINUTE``
accepted messages from one envelope sender, or ``SMTP_PEER_RATE_PER_MINUTE`` from one client address, in a
minute -> 451 at MAIL; a recording that fails -> 451 (the sender retries); accepted mail -> 250 only after the
recording is committed. The recording (database and files) runs in a worker thread with an app context; the
loop only waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.smtp import SMTP

from clock import clock
from concurrency import thread_pool_executor
from extensions import db, media_loop

from .parse import split_tag
from .ratelimit import SlidingWindow

log = logging.getLogger(__name__)
_EXT = "kefu_smtp"
RATE_WINDOW_SECONDS = 60.0
# The longest line accepted in DATA, CRLF included. RFC 5322 asks for at most 998 octets, but some clients send
# whole HTML bodies or base64 on one line; refusing them would lose real customers' mail.
MAX_LINE_OCTETS = 100_000


class CentreSMTP(SMTP):
    """aiosmtpd's protocol with the longer line limit (a class attribute there; it also sizes the reader)."""

    line_length_limit = MAX_LINE_OCTETS


class CentreHandler:
    """aiosmtpd handler for the centre's addresses. Its state is touched only on the media loop."""

    def __init__(self, app, executor: ThreadPoolExecutor) -> None:
        self.app = app
        self.executor = executor
        self.addresses = {a.lower() for a in app.config["EMAIL_ADDRESS_QUEUES"]}
        rate = int(app.config["SMTP_RATE_PER_MINUTE"])
        peer_rate = int(app.config.get("SMTP_PEER_RATE_PER_MINUTE") or 10 * rate)
        self.by_sender = SlidingWindow(rate, RATE_WINDOW_SECONDS)  # envelope sender -> accepted messages
        self.by_peer = SlidingWindow(peer_rate, RATE_WINDOW_SECONDS)  # client address -> accepted messages

    def _refusal(self, sender: str, peer: str) -> str | None:
        now = clock.timestamp()
        if self.by_peer.over(peer, now):
            return f"451 4.7.1 Too many messages from {peer}; try again in a minute"
        if self.by_sender.over(sender, now):
            return f"451 4.7.1 Too many messages from {sender or '<>'}; try again in a minute"
        return None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        refusal = self._refusal((address or "").lower(), _peer(session))
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if split_tag(address)[0] not in self.addresses:
            return f"550 5.1.1 <{address}>: no such address at this centre"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        sender, peer = (envelope.mail_from or "").lower(), _peer(session)
        refusal = self._refusal(sender, peer)  # several messages in one session
        if refusal:
            return refusal
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                self.executor, _record, self.app, raw, envelope.mail_from, list(envelope.rcpt_tos), peer
            )
        except Exception:
            log.exception("recording an inbound email failed")
            return "451 4.3.0 The message could not be recorded; try again later"
        now = clock.timestamp()
        self.by_sender.hit(sender, now)
        self.by_peer.hit(peer, now)
        if result.get("contact_id") is None:
            return f"250 2.0.0 OK: automatic message ({result.get('automatic')}) kept; no contact opened"
        if result.get("automatic"):
            return f"250 2.0.0 OK: automatic message recorded on contact {result['contact_id']}"
        return f"250 2.0.0 OK: recorded on contact {result['contact_id']}"


def _peer(session) -> str:
    return str(session.peer[0] if isinstance(session.peer, tuple) else session.peer)


def _record(app, raw: bytes, mail_from: str, rcpt_tos: list[str], peer: str) -> dict:
    """Worker thread: record the message with an app context (never DB work on the asyncio loop)."""
    from .ingest import do_receive_email

    with app.app_context():
        try:
            return do_receive_email(raw, mail_from=mail_from, rcpt_tos=rcpt_tos, peer=peer)
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


class SmtpEndpoint:
    """The running server: ``host``, ``port`` (the bound one, also when configured as 0), its ``handler`` (the
    rate tables), ``stop()``."""

    def __init__(self, server, executor: ThreadPoolExecutor, host: str, port: int, handler=None) -> None:
        self.server = server
        self.handler = handler
        self.executor = executor
        self.host = host
        self.port = port

    def stop(self) -> None:
        async def close():
            self.server.close()
            await self.server.wait_closed()

        if media_loop.loop is not None and media_loop.loop.is_running():
            try:
                media_loop.submit(close()).result(5)
            except Exception:
                log.exception("closing the SMTP server failed")
        self.executor.shutdown(wait=True, cancel_futures=True)


def start_smtp(app) -> SmtpEndpoint | None:
    """Serve SMTP for ``app`` on SMTP_HOST:SMTP_PORT from the media loop; returns the endpoint (also kept in
    ``app.extensions["kefu_smtp"]``). A port already in use is logged, and the web app runs on without mail."""
    if app.extensions.get(_EXT) is not None:
        return app.extensions[_EXT]
    host, port = app.config["SMTP_HOST"], int(app.config["SMTP_PORT"])
    # native threads under gevent too: it is submitted to from the media loop's thread (concurrency.py)
    executor = thread_pool_executor(max_workers=2, thread_name_prefix="email-ingest")
    handler = CentreHandler(app, executor)
    limit = int(app.config["SMTP_MAX_MESSAGE_BYTES"])

    async def serve():
        loop = asyncio.get_running_loop()
        return await loop.create_server(
            lambda: CentreSMTP(handler, data_size_limit=limit, hostname="kefu.local", ident="Kefu Sandbox SMTP"),
            host=host,
            port=port,
        )

    media_loop.start()
    try:
        server = media_loop.submit(serve()).result(10)
    except OSError as e:
        log.error("SMTP endpoint not started on %s:%s: %s", host, port, e)
        executor.shutdown(wait=False)
        return None
    bound = server.sockets[0].getsockname()[1]
    endpoint = SmtpEndpoint(server, executor, host, bound, handler)
    app.extensions[_EXT] = endpoint
    log.info("SMTP endpoint on %s:%s", host, bound)
    return endpoint


def endpoint_of(app) -> SmtpEndpoint | None:
    """The app's running SMTP endpoint (host and bound port), or None when it is not serving."""
    return app.extensions.get(_EXT)


def stop_smtp(app) -> None:
    endpoint = app.extensions.pop(_EXT, None)
    if endpoint is not None:
        endpoint.stop()
