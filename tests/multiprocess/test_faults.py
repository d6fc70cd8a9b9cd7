"""The cluster's faults, all in one short run under load (issue 18), as CI runs it: bench/fault_injection.py --short
starts what ``make run-cluster`` starts (3 web processes, 2 media workers, 2 simulator workers on PostgreSQL and
Redis), loads it for 80 s with desks, scripted chat customers, an exercise's simulated customers, a caller, a group
room, a livestream and an exercise's simulated email customers, kills -9 a web process, a media worker and a
simulator worker and deletes the centre's Redis keys once (``--flush prefix``: the suite's Redis database is shared),
then checks the database recording: 0 acknowledged sends lost, 0 duplicated, 0 customers stranded or left silent,
every call ended cleanly, every customer email recorded once, every desk reply read once, no chaser lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .cluster import ROOT, servers

BOUND = 900  # seconds: the run bounds itself well within this (start, 80 s of load, the drain, the checks)


@pytest.mark.timeout(BOUND + 60)
def test_every_fault_once_under_load_loses_nothing(tmp_path):
    """Run the short fault injection; every check of its verdict holds, and each of the four faults happened."""
    db_url, redis_url = servers()
    out = tmp_path / "faults.json"
    argv = [
        sys.executable,
        str(ROOT / "bench" / "fault_injection.py"),
        "--short",
        "--flush",
        "prefix",
        "--database-url",
        db_url.replace("postgresql+psycopg://", "postgresql://"),
        "--redis-url",
        redis_url,
        "--db-prefix",
        os.environ.get("KEFU_MP_DB_PREFIX", "") + "kefu_fault",
        "--json",
        str(out),
    ]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=BOUND)
    tail = (run.stdout[-6000:] + "\n" + run.stderr[-4000:]).strip()
    assert out.exists(), f"the run broke (exit {run.returncode}):\n{tail}"
    report = json.loads(out.read_text())
    kinds = sorted(f["kind"] for f in report["faults"])
    assert kinds == ["flush redis", "kill media worker", "kill simulator worker", "kill web"], (kinds, tail)
    sends, customers, calls, emails = report["sends"], report["customers"], report["calls"], report["emails"]
    assert sends["acked_sends"] > 0, tail
    assert emails["email_contacts"] > 0 and emails["desk_replies_acked"] > 0, (emails, tail)
    email_findings = ("mails_recorded_twice", "replies_answered_twice", "chasers_doubled", "replies_read_twice")
    email_findings += ("replies_unread", "chasers_lost", "still_open")
    failed = {
        "lost": sends["lost_examples"] if sends["lost"] else None,
        "duplicated": (sends["doubled_client_ids"], sends["doubled_simulated_lines"], report["graded_twice"])
        if sends["doubled_client_ids"] or sends["doubled_simulated_lines"] or report["graded_twice"]
        else None,
        "stranded": customers["still_open_examples"] if customers["still_open"] else None,
        "silent": customers["simulated_silent_examples"] if customers["simulated_silent"] else None,
        "overtaken": customers["overtaken_examples"] if customers["overtaken"] else None,
        "calls": calls["not_clean"] if calls["ended_cleanly"] != calls["calls"] else None,
        "emails": emails if any(emails[k] for k in email_findings) else None,
        "arrivals twice": report["arrivals"]
        if any(v["started"] > v["planned"] for v in report["arrivals"].values())
        else None,
    }
    failed = {k: v for k, v in failed.items() if v}
    assert not failed, f"{json.dumps(failed, default=str)}\n{tail}"
    assert run.returncode == 0, tail
