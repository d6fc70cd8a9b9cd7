"""Email ingest throughput: messages per second accepted over real SMTP, parsed, routed and recorded.

Builds a throwaway app (SQLite file and embedded Redis in a temp dir), serves the centre's SMTP endpoint on the
media loop (as the sandbox does) and puts ``--agents`` trainees in the available state, so every new email
contact is routed (assigned while capacity lasts, queued after). ``--clients`` threads then send
``--messages`` messages in all with smtplib, each client over one SMTP session (``--reconnect`` opens a new
connection per message). The endpoint answers 250 only after the message is parsed, stored, routed and its
events committed, so a 250 means recorded; the latency per message is MAIL FROM to the 250 after DATA.

The corpus mixes what real mail looks like here: UTF-8 base64, GBK 8-bit with an encoded subject, GB2312
quoted-printable, HTML-only, a PDF-like attachment, and follow-ups that thread onto earlier messages by
In-Reply-To. The rate limit per sender is lifted for the run (each message has its own sender anyway).

    .venv/bin/python bench/email_ingest.py [--messages 400] [--clients 4] [--agents 20] [--reconnect]
"""

from __future__ import annotations

import argparse
import base64
import os
import smtplib
import statistics
import sys
import tempfile
import threading
import time
import uuid
from email.header import Header
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def message(i: int) -> tuple[bytes, str, str]:
    """(raw bytes, envelope sender, recipient) of corpus message ``i``."""
    sender = f"bench{i}@example.com"
    kind = i % 6
    to = "complaints@kefu.local" if kind == 1 else "service@kefu.local"
    head = [f"From: {sender}", f"To: {to}", "Date: Sun, 22 Nov 2026 10:00:00 +0800", f"Message-ID: <b{i}@example.com>"]
    if kind == 5 and i >= 6:  # a follow-up to message i-6 (a different sender: threading is by the ids)
        head += [f"In-Reply-To: <b{i - 6}@example.com>", f"References: <b{i - 6}@example.com>"]
    if kind == 0:
        body = base64.encodebytes(f"您好，订单 KF{i:08d} 一直没有发货，请帮忙查一下。谢谢！".encode())
        head += [
            "Subject: =?utf-8?b?" + base64.b64encode("订单没有发货".encode()).decode() + "?=",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
        ]
    elif kind == 1:
        body = f"我要投诉：快递员态度恶劣，订单 KF{i:08d}。请尽快处理。".encode("gbk")
        head += [
            f"Subject: {Header('投诉快递员', 'gb2312').encode()}",
            "Content-Type: text/plain; charset=gbk",
            "Content-Transfer-Encoding: 8bit",
        ]
    elif kind == 2:
        import quopri

        body = quopri.encodestring(f"请问发票什么时候能开好？订单 KF{i:08d}。".encode("gb2312"))
        head += [
            "Subject: invoice",
            "Content-Type: text/plain; charset=gb2312",
            "Content-Transfer-Encoding: quoted-printable",
        ]
    elif kind == 3:
        body = f"<html><body><p>Hello, my kettle (order US{i:08d}) <b>stopped heating</b>.</p></body></html>".encode()
        head += ["Subject: Kettle", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    elif kind == 4:
        pdf = base64.encodebytes(b"%PDF-1.4 receipt " * 200)
        b = f"=_b{i}"
        head += ["Subject: Receipt attached", "MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{b}"']
        body = (
            (
                f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease see the receipt.\r\n"
                f'--{b}\r\nContent-Type: application/pdf; name="receipt.pdf"\r\n'
                f'Content-Disposition: attachment; filename="receipt.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            ).encode()
            + pdf
            + f"--{b}--\r\n".encode()
        )
    else:
        body = b"Any news on this? Thanks."
        head += ["Subject: Re: follow-up", "Content-Type: text/plain; charset=us-ascii"]
    raw = "\r\n".join(head).encode("ascii") + b"\r\n\r\n" + body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return raw, sender, to


def run_clients(host: str, port: int, n: int, clients: int, reconnect: bool) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    work = list(range(n))
    start_gate = threading.Barrier(clients + 1)

    def client(ids: list[int]) -> None:
        smtp = None
        start_gate.wait()
        for i in ids:
            raw, sender, to = message(i)
            try:
                if smtp is None:
                    smtp = smtplib.SMTP(host, port, timeout=60)
                    smtp.ehlo("bench.example")
                t = time.perf_counter()
                smtp.sendmail(sender, [to], raw)
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
            except (OSError, smtplib.SMTPException) as e:
                with lock:
                    errors.append(f"{i}: {e}")
                smtp = None
            if reconnect and smtp is not None:
                smtp.quit()
                smtp = None
        if smtp is not None:
            smtp.quit()

    # Message i-6 must be recorded before its follow-up i: each client takes every clients-th id in order, and
    # with clients <= 6 the earlier message was sent earlier by a client's own or a neighbour's sequence.
    threads = [threading.Thread(target=client, args=(work[k::clients],)) for k in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - t0


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=400)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--reconnect", action="store_true", help="a new SMTP connection per message")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kefu-email-bench-")

    from sqlalchemy import func, select

    from accounts.models import User
    from app import create_app
    from channels.email.smtp import start_smtp, stop_smtp
    from config import TestingConfig
    from contacts.models import Contact, ContactEvent
    from extensions import db, redis_store
    from routing.actions import do_set_agent_state

    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/bench.db",
        REDIS_PREFIX=f"kefu-bench-{uuid.uuid4().hex[:8]}:",
        REDIS_EMBEDDED_PATH=f"{tmp}/redis.db",
        SIMULATOR_ENABLED=False,
        GRADING_AUTO=False,
        EMAIL_STORAGE_DIR=f"{tmp}/email",
        SMTP_RATE_PER_MINUTE=10**9,
    )
    with app.app_context():
        db.create_all()
        for k in range(args.agents):
            u = User(username=f"mail{k}", display_name=f"Agent {k}", role="trainee", level="L3")
            u.set_password("pass1234")
            db.session.add(u)
        db.session.commit()
        for u in db.session.scalars(select(User)).all():
            do_set_agent_state(u, "available")
        db.session.commit()
    endpoint = start_smtp(app)
    load0 = os.getloadavg()[0]
    c0 = time.process_time()
    latencies, errors, wall = run_clients(endpoint.host, endpoint.port, args.messages, args.clients, args.reconnect)
    cpu = time.process_time() - c0
    stop_smtp(app)
    with app.app_context():
        received = db.session.scalar(select(func.count()).where(ContactEvent.type == "email.received"))
        contacts = db.session.scalar(select(func.count(Contact.id)).where(Contact.channel == "email"))
        assigned = db.session.scalar(select(func.count(Contact.id)).where(Contact.agent_id.is_not(None)))
        threaded = db.session.scalar(
            select(func.count()).where(
                ContactEvent.type == "email.received", ContactEvent.data["threaded_by"].as_string() == "in_reply_to"
            )
        )
        redis_store.flush_prefix()
    ok = len(latencies)
    how = "new connection per message" if args.reconnect else "one session each"
    print(
        f"{args.messages} messages, {args.clients} SMTP clients ({how}), "
        f"{args.agents} agents: {ok} accepted, {len(errors)} refused/failed"
    )
    print(
        f"  {ok / wall:.1f} messages/s accepted+recorded; wall {wall:.2f} s; CPU in this process {cpu:.2f} s "
        f"({1000 * cpu / max(1, ok):.2f} ms/message)"
    )
    if latencies:
        print(
            f"  latency MAIL..250: p50 {1000 * statistics.median(latencies):.1f} ms, "
            f"p90 {1000 * pct(latencies, 90):.1f} ms, p99 {1000 * pct(latencies, 99):.1f} ms, "
            f"max {1000 * max(latencies):.1f} ms"
        )
    print(
        f"  recorded: {received} email.received events, {contacts} email contacts "
        f"({threaded} follow-ups threaded by In-Reply-To), {assigned} assigned to agents, rest queued"
    )
    if errors:
        print("  first errors:", errors[:3])
    print(f"load average before: {load0:.2f}, after: {os.getloadavg()[0]:.2f} (2 cores, shared machine); temp {tmp}")


if __name__ == "__main__":
    main()
