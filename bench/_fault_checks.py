"""The checks of bench/fault_injection.py, against the database recording after the run: acknowledged sends
lost or doubled, customers stranded, calls that did not end cleanly, and the time to recover from each fault.

Client times are ``time.monotonic()`` readings; the recording's are the sandbox clock's (wall time, here at
speed 1), so a fault carries both (``t`` and ``wall``).
"""

from __future__ import annotations

import wave
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

from contacts.models import Contact, ContactEvent
from extensions import db

REACTION_WITHIN = 30.0  # a simulated customer reacts to an agent's line within this (it types, then says)
WAIT_FLAG = 60.0  # a queue wait this long is listed
SIDE = ("customer", "simulator")  # who records what a simulated customer says and thinks


def _pct(xs: list[float], q: float) -> float | None:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 2) if xs else None


def load(app, since: float) -> tuple[dict[int, Contact], dict[int, list[ContactEvent]]]:
    """Every contact created since ``since`` (wall time) and its events in order."""
    with app.app_context():
        contacts = {c.id: c for c in db.session.scalars(select(Contact).where(Contact.created_at >= since))}
        events: dict[int, list[ContactEvent]] = defaultdict(list)
        if contacts:
            q = select(ContactEvent).where(ContactEvent.contact_id.in_(contacts)).order_by(ContactEvent.seq)
            for ev in db.session.scalars(q):
                events[ev.contact_id].append(ev)
        db.session.expunge_all()
        db.session.remove()
    return contacts, events


def graded_twice(app, contacts) -> list[int]:
    """Contacts with more than one current scorecard (a wrap-up graded twice by two processes)."""
    from sqlalchemy import func

    from grading.models import Scorecard

    with app.app_context():
        q = (
            select(Scorecard.contact_id)
            .where(Scorecard.contact_id.in_(list(contacts)), Scorecard.current.is_(True))
            .group_by(Scorecard.contact_id)
            .having(func.count() > 1)
        )
        ids = list(db.session.scalars(q)) if contacts else []
        db.session.remove()
    return ids


def lost_and_doubled(rec, contacts, events) -> dict:
    """Every acknowledged send is recorded once under its client_id (with the acknowledged seq); no client_id
    twice; no simulated customer's line said twice in a row (a take-over repeating what was said)."""
    recorded: dict[tuple[int, str], list[ContactEvent]] = defaultdict(list)
    for evs in events.values():
        for ev in evs:
            if ev.client_id:
                recorded[(ev.contact_id, ev.client_id)].append(ev)
    lost = []
    for a in rec.acked:
        got = recorded.get((a["contact_id"], a["client_id"]))
        if not got or (a["seq"] is not None and got[0].seq != a["seq"]):
            lost.append(a)
    doubled_ids = [k for k, v in recorded.items() if len(v) > 1]
    doubled_lines = []
    for cid, evs in events.items():
        if not contacts[cid].simulated:
            continue
        last = None
        for ev in evs:
            if ev.type != "message":
                continue
            if ev.actor == "customer":
                if last is not None and ev.text == last:
                    doubled_lines.append((cid, ev.seq, ev.text[:60]))
                last = ev.text
            elif ev.actor in ("agent", "lead"):
                last = None
    by_who: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # kind of sender -> [acknowledged, lost]
    for a in rec.acked:
        by_who[a["who"].rstrip("0123456789")][0] += 1
    for a in lost:
        by_who[a["who"].rstrip("0123456789")][1] += 1
    return {
        "acked_sends": len(rec.acked),
        "acked_customer": sum(a["who"].startswith("customer") for a in rec.acked),
        "acked_agent": sum(a["who"].startswith("agent") for a in rec.acked),
        # customer (chat), agent (desks), member and host (the group room), viewer (livestream comments)
        "acked_and_lost_by_sender": {k: v for k, v in sorted(by_who.items())},
        "resent": sum(a["tries"] > 1 for a in rec.acked),
        "resends_recorded_already": sum(a["duplicate"] for a in rec.acked),
        "lost": len(lost),
        "lost_examples": lost[:5],
        "doubled_client_ids": len(doubled_ids),
        "doubled_simulated_lines": len(doubled_lines),
        "doubled_examples": doubled_lines[:5],
    }


def _ended_at(evs: list[ContactEvent]) -> float | None:
    for ev in evs:
        if ev.type in ("contact.ended", "contact.abandoned"):
            return ev.ts
    return None


def stranded(contacts, events, end_wall: float) -> dict:
    """Nobody left waiting: no contact still queued or active after the drain; every assignment in order of
    arrival per queue (no later arrival served while an earlier one waited more than a second longer); every
    agent line to a simulated customer answered while the contact was open."""
    open_left = [
        {"id": c.id, "status": c.status, "channel": c.channel, "simulated": c.simulated, "name": c.customer_name}
        for c in contacts.values()
        if c.status in ("queued", "active")
    ]
    waits, long_waits, assigned_at = [], [], {}
    for cid, evs in events.items():
        a = next((e for e in evs if e.type == "assignment"), None)
        if a is not None:
            assigned_at[cid] = a.ts
            w = a.ts - contacts[cid].created_at
            waits.append(w)
            if w > WAIT_FLAG:
                long_waits.append({"id": cid, "wait_s": round(w, 1), "created": contacts[cid].created_at})
    # Overtaken: B (later) assigned while A (same queue, earlier by > 1 s, not reserved) was still waiting.
    overtaken = []
    pool = [c for c in contacts.values() if c.reserved_agent_id is None and c.channel == "chat"]
    for a in pool:
        a_left = min(x for x in (assigned_at.get(a.id), _ended_at(events[a.id]), end_wall) if x is not None)
        for b in pool:
            tb = assigned_at.get(b.id)
            if (
                b.queue == a.queue
                and b.created_at > a.created_at + 1.0
                and tb is not None
                and tb < a_left - 1.0
                and (b.required_level or "") == (a.required_level or "")
                and b.priority <= a.priority  # a VIP goes first by design
            ):
                overtaken.append({"waiting": a.id, "served_first": b.id, "at": tb})
    silent = []
    for cid, evs in events.items():
        c = contacts[cid]
        if not c.simulated or c.channel != "chat":
            continue
        end = _ended_at(evs) or end_wall
        for i, ev in enumerate(evs):
            if ev.type != "message" or ev.actor != "agent" or ev.ts + REACTION_WITHIN > end:
                continue
            reacted = next((e.ts for e in evs[i + 1 :] if e.actor in SIDE), None)
            if reacted is None or reacted - ev.ts > REACTION_WITHIN:
                silent.append(
                    {
                        "id": cid,
                        "agent_line_seq": ev.seq,
                        "at": ev.ts,
                        "reacted_after_s": reacted and round(reacted - ev.ts, 1),
                    }
                )
    reasons = defaultdict(int)
    for evs in events.values():
        for ev in evs:
            if ev.type in ("contact.ended", "contact.abandoned"):
                reasons[f"{ev.type.split('.')[1]}:{(ev.data or {}).get('reason')}"] += 1
    return {
        "contacts": len(contacts),
        "simulated": sum(c.simulated for c in contacts.values()),
        "still_open": len(open_left),
        "still_open_examples": open_left[:5],
        "queue_wait_p50_s": _pct(waits, 0.5),
        "queue_wait_p95_s": _pct(waits, 0.95),
        "queue_wait_max_s": _pct(waits, 1.0),
        "waited_over_60s": long_waits[:10],
        "overtaken": len(overtaken),
        "overtaken_examples": overtaken[:5],
        "simulated_silent": len(silent),
        "simulated_silent_examples": silent[:5],
        "end_reasons": dict(sorted(reasons.items())),
    }


def calls(rec, contacts, events, recordings: Path, faults: list[dict] = ()) -> dict:
    """Every call ended once, is not left open, has a readable recording and its metrics when it was recorded,
    and both sides were told (the caller's page, when our caller knew the call, and the desk)."""
    rows, bad = [], []
    media_kills = [f["wall"] for f in faults if f["kind"] == "kill media worker"]
    for cid in sorted(c.id for c in contacts.values() if c.channel == "voice"):
        seen = rec.calls.get(cid, {})
        c, evs = contacts.get(cid), events.get(cid, [])
        ended = [e for e in evs if e.type == "call.ended"]
        answered = any(e.type == "call.answered" for e in evs)
        recs = [e for e in evs if e.type == "call.recording"]
        problems = []
        if c is None or c.status in ("queued", "active"):
            problems.append(f"left {c.status if c else 'missing'}")
        if answered and len(ended) != 1:
            problems.append(f"{len(ended)} call.ended")
        if not answered and not ended and not any(e.type == "contact.abandoned" for e in evs):
            problems.append("neither ended nor abandoned")
        for r in recs:
            path = (r.data or {}).get("files", {}).get("stereo")
            # A call whose media worker was killed right after its recording started may keep no sample (the
            # writer's buffer had not reached the disk, or a starved media loop had not ticked yet); otherwise an
            # empty file is a lost recording.
            cut_early = any(0 <= k - r.ts < 2.0 for k in media_kills)
            try:
                with wave.open(str(recordings / path)) as w:
                    if w.getnframes() <= 0 and not cut_early:
                        problems.append("empty recording")
            except Exception as e:  # noqa: BLE001 - any unreadable file is the finding
                problems.append(f"recording unreadable: {type(e).__name__}")
        if recs and not any(e.type == "call.metrics" for e in evs):
            problems.append("no call.metrics")
        if (ended or answered) and "dialled" in seen and "caller_told" not in seen:
            problems.append("caller not told")  # (a dial whose ack was lost has no caller waiting on it)
        if answered and cid not in rec.desk_told_ended:
            problems.append("desk not told")
        reason = (ended[0].data or {}).get("reason") if ended else None
        rows.append({"id": cid, "answered": answered, "reason": reason, "problems": problems})
        if problems:
            bad.append(rows[-1])
    reasons = defaultdict(int)
    for r in rows:
        reasons[str(r["reason"])] += 1
    return {
        "calls": len(rows),
        "answered": sum(r["answered"] for r in rows),
        "ended_cleanly": len(rows) - len(bad),
        "not_clean": bad[:10],
        "reasons": dict(reasons),
    }


def _first_after(times, t: float) -> float | None:
    later = [x for x in times if x >= t]
    return round(min(later) - t, 2) if later else None


def _answered_again(evs: list[ContactEvent], kill: float) -> float | None:
    """How long a simulated customer whose driver was killed took to react to the agent: from the kill to its
    answer to the line it owed one then (taken over meanwhile), else from the agent's first line after the
    kill to its answer; None if the agent said nothing more."""
    owed = False
    for ev in evs:
        if ev.ts >= kill:
            break
        if ev.type == "message" and ev.actor == "agent":
            owed = True
        elif ev.actor in SIDE and ev.type in ("message", "customer.state"):
            owed = False
    since = (
        kill if owed else next((e.ts for e in evs if e.ts >= kill and e.type == "message" and e.actor == "agent"), None)
    )
    if since is None:
        return None
    reaction = next((e.ts for e in evs if e.ts > since and e.actor in SIDE), None)
    return None if reaction is None else reaction - since


def recovery(rec, faults: list[dict], events, contacts) -> list[dict]:
    """Per fault: how long until the clients it cut off were back and sent again, the next assignment, and
    (by kind) the killed worker's customers answering again or its calls told they ended."""
    acks = [a["t_ack"] for a in rec.acked]
    assigns = [t for _, _, t in rec.assigned]
    out = []
    for f in faults:
        t = f["t"]
        row = {"fault": f["kind"], "target": f.get("target"), "at_s": round(f["t_rel"], 1)}
        row["next_acked_send_s"] = _first_after(acks, t)
        row["next_assignment_s"] = _first_after(assigns, t)
        if f["kind"] == "kill web":
            hit = {w for w, d in rec.drops if t <= d <= t + 10}
            backs = [(b - t, w) for w, d, b in rec.back if w in hit and t <= d <= t + 10]
            row["clients_cut_off"] = len(hit)
            row["all_reconnected_s"] = round(max(backs)[0], 2) if backs else None
            row["slowest"] = max(backs)[1] if backs else None
            sends = []
            for w in hit:
                mine = [a["t_ack"] for a in rec.acked if a["who"] == w and a["t_ack"] >= t]
                if mine:
                    sends.append(min(mine) - t)
            row["their_next_acked_send_max_s"] = round(max(sends), 2) if sends else None
        elif f["kind"] == "kill media worker":
            told = [rec.calls[c].get("caller_told") for c in f.get("calls", []) if c in rec.calls]
            desk = [rec.desk_told_ended.get(c) for c in f.get("calls", [])]
            row["calls_cut"] = len(f.get("calls", []))
            row["callers_told_max_s"] = round(max(x - t for x in told if x), 2) if any(told) else None
            row["desks_told_max_s"] = round(max(x - t for x in desk if x), 2) if any(desk) else None
            answered = [c.get("answered") for c in rec.calls.values() if c.get("answered")]
            row["next_call_answered_s"] = _first_after(answered, t)
        elif f["kind"] == "kill simulator worker":
            back = [b for b in (_answered_again(events.get(cid, []), f["wall"]) for cid in f["customers"]) if b]
            row["customers_driven"] = len(f.get("customers", []))
            row["customers_answering_again"] = len(back)
            row["customer_answered_again_max_s"] = round(max(back), 2) if back else None
        elif f["kind"] == "flush redis":
            row["live_state_rebuilt_s"] = f.get("rebuilt_s")
        out.append(row)
    return out
