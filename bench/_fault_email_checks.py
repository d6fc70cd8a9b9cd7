"""The email checks of bench/fault_injection.py (bench/_fault_checks.py's style), against the database recording:
the exercise's simulated email customers, who write through the SMTP endpoint of the simulator worker driving them,
and the desks' replies (bench/_fault_email_desk.py), with a web process, a simulator worker and Redis lost while
mails are in flight.

- every customer mail recorded once: no Message-ID recorded twice, no agent reply answered by two mails (a
  taken-over customer and its old driver both answering it), no two chasers in one wait;
- every desk reply recorded once (its client_id, in bench/_fault_checks.lost_and_doubled with the other sends) and
  read by its customer once: one ``customer.state`` per reply read, none read twice, none left unread while the
  customer still listened;
- no chaser lost: a customer left waiting past the scenario's ``chase_after`` (times the pace) writes one;
- nobody stranded (bench/_fault_checks.stranded covers every channel): here, the email contacts left open.
"""

from __future__ import annotations

from collections import Counter

from simulator.email_compose import CHASER

CHASE_GRACE = 15.0  # seconds past the chase time: a tick, or a take-over (the heartbeat expires after 5 s) first
CHASER_LINES = tuple(line for lines in CHASER.values() for line in lines)
CLOSING = ("wrap_up", "contact.ended", "contact.abandoned")


def _is_chaser(ev) -> bool:
    return any(line in (ev.text or "") for line in CHASER_LINES)


def _overdue(chase: float | None, waiting_since: float | None, excused: bool, until: float) -> bool:
    """Whether a customer waiting since ``waiting_since`` (not chased already, not done) was owed a chaser by
    ``until``."""
    return bool(chase) and waiting_since is not None and not excused and until - waiting_since > chase + CHASE_GRACE


def emails(contacts, events, rec, chase_after: dict[str, float], end_wall: float, faults=()) -> dict:
    """The email figures and findings; ``chase_after``: scenario id -> seconds (already times the pace); ``faults``
    (with their ``wall`` times): how many email contacts were open at each."""
    mail_contacts = [c for c in contacts.values() if c.channel == "email" and c.simulated]
    ids: Counter = Counter()
    answers: Counter = Counter()  # agent reply Message-ID -> customer mails answering it (chasers apart)
    doubled_chasers, read_twice, unread, chasers_lost, after_done = [], [], [], [], 0
    received = sent = reads = chasers = customers = 0
    ended: set[int] = set()  # contacts whose customer's mind ended there (or on the case they follow)
    for c in sorted(mail_contacts, key=lambda c: c.id):  # a follow-on contact after the one it follows
        evs = events.get(c.id, [])
        closed = next((e.ts for e in evs if e.type in CLOSING), end_wall)
        chase = chase_after.get(c.scenario_id or "")
        pending: list = []  # replies not read yet
        first = next((e for e in evs if e.type == "email.received" and e.actor == "customer"), None)
        # The customer's mind ended (satisfied, abandoned): it reads nothing more - also on a contact its answer
        # opened after the wrap-up (a mail threaded onto a closed case opens a new contact).
        follows = (first.data or {}).get("follows_contact_id") if first is not None else None
        customers += follows is None
        done = follows is not None and follows in ended
        waiting_since, chased = None, False
        for ev in evs:
            data = ev.data or {}
            if ev.type == "email.received" and ev.actor == "customer":
                received += 1
                ids[data.get("message_id")] += 1
                if _is_chaser(ev):
                    chasers += 1
                    if chased:
                        doubled_chasers.append({"id": c.id, "seq": ev.seq})
                    chased = True
                else:
                    if isinstance(data.get("in_reply_to"), str):
                        answers[data["in_reply_to"]] += 1
                    waiting_since, chased = ev.ts, False
            elif ev.type == "email.sent" and ev.actor == "agent":
                sent += 1
                if _overdue(chase, waiting_since, chased or done, ev.ts):
                    chasers_lost.append({"id": c.id, "waited_s": round(ev.ts - waiting_since, 1)})
                waiting_since, chased = None, False
                if done:
                    after_done += 1
                else:
                    pending.append(ev)
            elif ev.type == "customer.state" and data.get("channel") == "email":
                reads += 1
                if pending:
                    pending.pop(0)
                else:
                    read_twice.append({"id": c.id, "seq": ev.seq})
                done = done or bool(data.get("end"))
        if _overdue(chase, waiting_since, chased or done, closed):
            chasers_lost.append({"id": c.id, "waited_s": round(closed - waiting_since, 1), "until": "closed"})
        unread += [{"id": c.id, "seq": ev.seq} for ev in pending]
        if done:
            ended.add(c.id)
    open_at = {}
    for f in faults:
        open_at[f"{f['kind']} {f.get('target') or ''}".strip()] = sum(
            c.created_at <= f["wall"] < next((e.ts for e in events.get(c.id, []) if e.type in CLOSING), end_wall)
            for c in mail_contacts
        )
    doubled_ids = [m for m, n in ids.items() if n > 1]
    doubled_answers = [m for m, n in answers.items() if n > 1]
    mine = [a for a in rec.acked if "-mail-" in a["client_id"]]
    closed_by = Counter(str(e.get("closed_by")) for e in rec.emails.values())
    return {
        "email_contacts": len(mail_contacts),
        "customers": customers,  # their first contacts (a mail threaded onto a closed case opens another)
        "customer_mails": received,
        "chasers": chasers,
        "desk_replies": sent,
        "desk_replies_acked": len(mine),
        "desk_replies_resent": sum(a["tries"] > 1 for a in mine),
        "desk_replies_recorded_already": sum(a["duplicate"] for a in mine),
        "replies_read": reads,
        "replies_after_the_customer_was_done": after_done,
        "mails_recorded_twice": len(doubled_ids),
        "replies_answered_twice": len(doubled_answers),
        "chasers_doubled": len(doubled_chasers),
        "replies_read_twice": len(read_twice),
        "replies_unread": len(unread),
        "chasers_lost": len(chasers_lost),
        "still_open": sum(c.status in ("queued", "active") for c in mail_contacts),
        "examples": {
            "recorded_twice": doubled_ids[:3],
            "answered_twice": doubled_answers[:3],
            "chasers_doubled": doubled_chasers[:3],
            "read_twice": read_twice[:3],
            "unread": unread[:5],
            "chasers_lost": chasers_lost[:5],
        },
        "desks_closed_threads_by": dict(closed_by),
        "desk_threads_slow": sum(bool(e.get("slow")) for e in rec.emails.values()),
        "open_at_each_fault": open_at,
    }


def verdict(e: dict) -> list[tuple[str, str, bool]]:
    """The email rows of the run's verdict (fault_injection.verdict)."""
    twice = e["mails_recorded_twice"] + e["replies_answered_twice"] + e["chasers_doubled"]
    return [
        (
            "customer emails recorded/answered twice",
            f"{e['mails_recorded_twice']} ids, {e['replies_answered_twice']} answers, {e['chasers_doubled']} chasers"
            f" of {e['customer_mails']}",
            twice == 0,
        ),
        (
            "desk replies read twice / unread",
            f"{e['replies_read_twice']} / {e['replies_unread']} of {e['desk_replies']}",
            e["replies_read_twice"] == 0 and e["replies_unread"] == 0,
        ),
        ("chasers lost", f"{e['chasers_lost']} ({e['chasers']} written)", e["chasers_lost"] == 0),
        ("email contacts left open", f"{e['still_open']} of {e['email_contacts']}", e["still_open"] == 0),
    ]
