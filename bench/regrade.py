"""Regrade 1,000 recorded chat contacts: the code path of `flask grading regrade --all`.

Builds a throwaway app (SQLite file and embedded Redis in a temp dir), loads the zh_CN and en packs, writes
1,000 closed chat contacts straight into the database (30-60 events each: typing, messages in the scenario's
own words and the pack's service phrases, customer.state, KB search/open, CRM verify, a ticket with updates,
CSAT, wrap-up), then times grading.regrade.regrade over select_contacts(everything=True): a first pass that
writes every scorecard, and a second pass over unchanged recordings.

    .venv/bin/python bench/regrade.py [--contacts 1000] [--seed 7] [--database-url postgresql://.../empty_db]

--database-url runs it on an empty PostgreSQL database of its own instead of the SQLite file (the grading locks
that bulk regrades take are PostgreSQL advisory locks; on SQLite they are nothing).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_contacts(n: int, seed: int) -> None:
    from accounts.models import User
    from contacts.models import Contact, ContactEvent
    from extensions import db
    from scenarios import registry
    from tickets.models import Ticket, TicketContactLink

    rng = random.Random(seed)
    agents = []
    for i, level in enumerate(["L5", "L4", "L3"] * 4):
        u = User(username=f"bench{i}", display_name=f"Agent {i}", role="trainee", level=level)
        u.set_password("pass1234")
        db.session.add(u)
        agents.append(u)
    db.session.commit()
    scenarios = registry.list_scenarios(channel="chat")
    t0 = 1_750_000_000.0
    for k in range(n):
        sc = scenarios[k % len(scenarios)]
        lang = registry.scenario_lang(sc.id)
        pack = registry.get_pack(lang)
        agent = agents[rng.randrange(len(agents))]
        start = t0 + k * 900
        contact = Contact(
            channel="chat",
            queue=sc.queue,
            status="closed",
            lang=lang,
            scenario_id=sc.id,
            simulated=True,
            agent_id=agent.id,
            customer_name=sc.customer.name,
            created_at=start,
            assigned_at=start + 3,
            ended_at=start + 600,
            closed_at=start + 620,
            wrap_up_code=sc.expected.wrap_up_code or "OTHER",
        )
        db.session.add(contact)
        db.session.flush()
        events: list[tuple] = []
        ts = start

        def add(type_, actor, text=None, data=None, gap=(1.0, 6.0)):
            nonlocal ts
            ts += rng.uniform(*gap)
            events.append((type_, actor, text, data or {}, ts))

        add("contact.created", "system", data={"channel": "chat", "queue": sc.queue, "scenario_id": sc.id})
        add("message", "customer", sc.opening[0])
        add("assignment", "system", data={"agent_id": agent.id, "agent_name": agent.display_name})
        snippets = [s.text for s in pack.snippets]
        lines = [line for r in sc.rules for line in r.say] or sc.satisfied_say
        emotion = ("calm", "annoyed", "angry", "furious").index(sc.customer.emotion)
        add("message", "agent", snippets[0], gap=(2, 40))
        add("kb.search", "agent", sc.title[:40], {"query": sc.title[:40], "results": list(sc.expected.kb_articles)})
        slug = sc.expected.kb_articles[0] if sc.expected.kb_articles and rng.random() < 0.8 else "points-rules"
        add("kb.open", "agent", data={"slug": slug, "lang": lang, "version": 1})
        if sc.expected.verify_before_disclose or rng.random() < 0.3:
            add("crm.lookup", "agent", data={"query": sc.customer.name, "results": [sc.customer.crm_ref]})
            add("crm.verify", "agent", data={"result": "verified", "method": "phone", "customer_ref": "x"})
            add("crm.disclose", "agent", data={"verified": True, "customer_ref": "x"})
        turns = rng.randint(4, 9)
        for i in range(turns):
            add("typing", "customer", data={"typing": True})
            add("message", "customer", lines[i % len(lines)], gap=(3, 20))
            emotion = max(0, min(3, emotion + rng.choice((-1, 0, 0, 1))))
            add(
                "customer.state",
                "simulator",
                data={
                    "emotion": emotion,
                    "goals": list(sc.goals),
                    "goals_done": list(sc.goals[: i % (len(sc.goals) + 1)]),
                },
            )
            add("typing", "agent", data={"typing": True})
            # Half the replies are service phrases inserted as is ("/" snippets), half are the agent's own
            # words (a phrase made personal with the customer's name and a number): unique texts.
            reply = snippets[(i + 1) % len(snippets)]
            if rng.random() < 0.5:
                reply = f"{sc.customer.name}, {reply} ({k}-{i}-{rng.randrange(10**6)})"
            add("message", "agent", reply, gap=(4, 70))
        if sc.expected.ticket:
            ticket = Ticket(
                number=f"T{k:08d}",
                contact_id=contact.id,
                subject=sc.title[:200],
                category=sc.expected.ticket.get("category", "other"),
                priority=rng.choice(["normal", sc.expected.ticket.get("priority", "normal")]),
                risk_level=sc.expected.ticket.get("risk_level", "none"),
                status="open",
                escalation_target=sc.expected.escalation_target if rng.random() < 0.7 else None,
                compensation_amount=rng.choice([None, 20, 80]),
            )
            db.session.add(ticket)
            db.session.flush()
            db.session.add(TicketContactLink(ticket_id=ticket.id, contact_id=contact.id))
            add(
                "ticket.created",
                "agent",
                ticket.subject,
                {
                    "ticket_id": ticket.id,
                    "category": ticket.category,
                    "priority": ticket.priority,
                    "risk_level": ticket.risk_level,
                },
            )
            if ticket.compensation_amount:
                add(
                    "ticket.updated",
                    "agent",
                    data={
                        "ticket_id": ticket.id,
                        "number": ticket.number,
                        "changes": {"compensation_amount": [None, str(ticket.compensation_amount)]},
                    },
                )
            if ticket.escalation_target:
                add("ticket.escalated", "agent", data={"ticket_id": ticket.id, "target": ticket.escalation_target})
        add("message", "agent", snippets[-3], gap=(2, 30))
        add("contact.ended", "customer", data={"reason": "satisfied"})
        add("csat.invited", "system", data={"survey_id": k})
        add("csat.answered", "customer", data={"survey_id": k, "score": rng.randint(1, 5)})
        add("wrap_up", "agent", data={"code": contact.wrap_up_code})
        db.session.add_all(
            ContactEvent(contact_id=contact.id, seq=i, type=t, actor=a, ts=when, text=x, data=d)
            for i, (t, a, x, d, when) in enumerate(events, start=1)
        )
        contact.event_count = len(events)
        if k % 200 == 199:
            db.session.commit()
    db.session.commit()


def _sqlalchemy_url(url: str) -> str:
    """psycopg 3 spelled out for a PostgreSQL URL (as config.py does for DATABASE_URL)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--database-url", default=None, help="an empty PostgreSQL database (default: a SQLite file)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kefu-bench-regrade-")
    os.environ.setdefault("KEFU_INSTANCE", tmp)
    from app import create_app
    from config import TestingConfig
    from contacts.models import ContactEvent
    from extensions import db, redis_store
    from grading.actions import select_contacts
    from grading.models import Scorecard
    from grading.parallel import regrade_in_workers
    from grading.regrade import regrade
    from scenarios.loader import load_pack_into_db

    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=_sqlalchemy_url(args.database_url or f"sqlite:///{tmp}/bench.db"),
        REDIS_PREFIX=f"kefu-bench-{uuid.uuid4().hex[:8]}:",
        REDIS_EMBEDDED_PATH=f"{tmp}/redis.db",
        SIMULATOR_ENABLED=False,
        GRADING_AUTO=False,
    )
    with app.app_context():
        db.create_all()
        for lang in ("zh_CN", "en"):
            load_pack_into_db(ROOT / "scenarios" / "packs" / lang)
        t = time.perf_counter()
        build_contacts(args.contacts, args.seed)
        n_events = db.session.query(ContactEvent).count()
        print(
            f"built {args.contacts} contacts, {n_events} events ({n_events / args.contacts:.1f}/contact) "
            f"in {time.perf_counter() - t:.1f} s"
        )
        db.session.remove()
        passes = (
            ("first regrade, worker processes (writes every scorecard)", "workers", True),
            ("second regrade, worker processes (unchanged recordings)", "workers", False),
            ("first regrade, one process (writes every scorecard)", "single", True),
        )
        for label, mode, fresh in passes:
            if fresh:
                db.session.query(Scorecard).delete()
                db.session.commit()
            t, c = time.perf_counter(), time.process_time()
            ids = select_contacts(everything=True)
            report = regrade_in_workers(ids) if mode == "workers" else regrade(ids)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            print(
                f"{label}: {len(ids)} contacts, {report.graded} graded, {report.changed} changed, "
                f"{len(report.errors)} errors: {wall:.2f} s wall, {cpu:.2f} s CPU in this process "
                f"({1000 * wall / max(1, len(ids)):.2f} ms/contact)"
            )
            db.session.remove()
        redis_store.flush_prefix()
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores); temp dir {tmp}")


if __name__ == "__main__":
    main()
