"""Fault injection on a cluster (issue 18): a centre run as `make run-cluster` runs it, under load, with one web
process, one media worker and one simulator worker killed (-9) and Redis flushed, at separate moments; then the
database recording is checked: 0 acknowledged sends lost, 0 doubled, 0 customers stranded, every call ended
cleanly, and how long each fault took to recover from.

The cluster (tests/multiprocess/cluster.py's helpers): ``--web`` web processes (``python app.py``, threading, as
cluster/run.sh starts them), ``--media`` media workers and ``--sim`` simulator workers on a PostgreSQL database of
its own (``fault_<hex>``, dropped at the end) and one Redis database number of its own (``--redis-url``, default
db 7: the flush is a FLUSHDB of that number, never FLUSHALL), with the product's default beats (1 s, expiring
after 5 s). No proxy: every client picks a web process and, when its socket drops, connects to the next one that
answers, as HAProxy sends a browser whose server died to a live one.

The load (bench/_fault_clients.py), for ``--minutes``: ``--desks`` trainees at the desk (real Socket.IO clients:
they answer every customer line after a think time, answer calls with an aiortc peer and hang up after 15-30 s,
and wrap up), ``--customers`` scripted chat customers (a line every 3-7 s with a client_id, 5-9 lines, then they
leave and start again), a practice exercise whose simulated customers (four chat scenarios, ``--rate`` a minute)
the simulator workers drive, ``--callers`` people calling in (an aiortc peer each) through the media workers, and
(bench/_fault_rooms.py) a trainee's group room with ``--members`` people who joined with its link posting
questions while the trainee answers the room, and a trainee's livestream with ``--viewers`` guests commenting in
its live chat; the room is closed and the stream ended after the load; and a second exercise of simulated email
customers (``--emails`` a minute, at ``--email-pace``: they answer in seconds and chase an unanswered mail after
11-16 s) who write through the SMTP endpoint of the simulator worker driving them, answered by the desks through
the email workspace's reply call (bench/_fault_email_desk.py: holding replies, then the answer; one thread in three
left past the chase time) and wrapped up once the customer thanks or falls silent. Every send (chat line, room
post and reply, comment, email reply) is repeated with its client_id until acknowledged, across reconnections;
only acknowledged sends count.

The faults, at 20 %, 40 %, 60 % and 80 % of the load: kill -9 of web process 2, of the media worker holding the
most calls (waiting up to 20 s for one to hold a call), of the simulator worker driving the most customers, and a
FLUSHDB. Then the customers stop and leave, the exercises are stopped, and the desks drain what is left (up to
60 s) before the checks (bench/_fault_checks.py; the emails' in bench/_fault_email_checks.py: each customer mail
recorded once, each desk reply recorded once and read once, no chaser lost).

Usage: ``.venv/bin/python bench/fault_injection.py [--minutes 5] [--json out.json]``; ``--short`` is the ~2 minute
variant (fewer clients, 80 s of load). Needs PostgreSQL (``--database-url``, a server where it may create a
database) and Redis; loopback only; stops by itself (``--minutes`` + 5 minutes at most) and stops what it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _fault_checks as checks  # noqa: E402
from bench import _fault_email_checks as email_checks  # noqa: E402
from bench._fault_clients import Caller, ChatCustomer, Record  # noqa: E402
from bench._fault_desk import Desk  # noqa: E402
from bench._fault_rooms import open_room_and_stream, room_and_stream_clients  # noqa: E402
from tests.multiprocess.cluster import Browser, Cluster, centre_app, create_database, wait_for  # noqa: E402

MIX = {"en-delivery-status": 1, "en-double-charge": 1, "en-points-rules": 1, "en-presales-purifier": 1}
# The email exercise: a customer thanked when answered, and an angry complaint that escalates after two brush-offs;
# both chase an unanswered mail (bench/_fault_email_desk.py lets one thread in three wait past that).
EMAIL_MIX = {"en-email-order-status": 1, "en-email-late-fridge-complaint": 1}
# Its arrivals' seed: at --short's 6 a minute it plans a mail 1-6 s before each of the four faults (a thread is
# often answered and thanked within 10 s, so arrivals just before a fault are what puts mail in flight at it).
EMAIL_SEED = 13


class FaultCluster(Cluster):
    """The multi-process tests' cluster with the product's default beats (cluster/run.sh sets none), not the
    tests' short ones, so the recovery times are the ones a centre sees."""

    beat = ("1", "5")
    email_pace = "1"

    def env(self, name: str) -> dict:
        env = super().env(name)
        env.update(KEFU_HEARTBEAT_SECONDS=self.beat[0], KEFU_PROCESS_TTL=self.beat[1])
        env.update(KEFU_EMAIL_CUSTOMER_PACE=self.email_pace)  # every process: whichever drives a customer
        return env


class Run:
    def __init__(self, args) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="kefu-fault-"))
        self.prefix = f"fault-{uuid.uuid4().hex[:8]}:"
        self.faults: list[dict] = []
        self.rec = Record()
        self.drop_db = None
        self.cluster: FaultCluster | None = None

    # -- set-up (blocking) ----------------------------------------------------------------------------------

    def start(self) -> None:
        from redis import Redis

        from extensions import db
        from tests import factories

        a = self.args
        self.redis = Redis.from_url(a.redis_url, decode_responses=True)
        self.redis.ping()
        url, self.drop_db = create_database(a.database_url, prefix=a.db_prefix)
        self.app = centre_app(
            url, a.redis_url, self.prefix, GRADING_AUTO=False, MEDIA_TRANSPORT="redis", RECORDINGS_DIR=self.recordings
        )
        with self.app.app_context():
            for i in range(a.desks):
                factories.user(f"agent{i}", role="trainee", level="L3")
            factories.user("lead1", role="lead")
            factories.user("host0", role="trainee", level="L3")  # the group room's (not a desk: no ACD seat)
            factories.user("presenter0", role="trainee", level="L3")  # the livestream's
            db.session.remove()
        c = self.cluster = FaultCluster(
            self.tmp, url, a.redis_url, self.prefix, "fault-" + uuid.uuid4().hex, Path(self.recordings)
        )
        c.email_pace = str(a.email_pace)
        self.webs = [f"w{i + 1}" for i in range(a.web)]
        self.medias = [f"m{i + 1}" for i in range(a.media)]
        self.sims = [f"s{i + 1}" for i in range(a.sim)]
        for w in self.webs:
            c.start_web(w)
        for m in self.medias:
            c.start_media_worker(m)
        for s in self.sims:
            c.start_sim_worker(s)
        for w in self.webs:
            c.wait_web(w, timeout=180)
        key = self.key
        wait_for(
            lambda: all(self.redis.exists(key("media", "worker", m, "alive")) for m in self.medias),
            180,
            0.5,
            "media workers up",
        )
        wait_for(lambda: len(self.sim_workers()) == a.sim, 180, 0.5, "simulator workers up")

    @property
    def recordings(self) -> str:
        return str(self.tmp / "recordings")

    def key(self, *parts) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    def sim_workers(self) -> dict[str, str]:
        """Live simulator workers: their owner id -> our name."""
        pids = {str(self.cluster.procs[s].pid): s for s in self.sims if self.cluster.procs[s].poll() is None}
        names = self.redis.smembers(self.key("sim", "workers"))
        return {n: pids[n.split("-")[-2]] for n in names if n.split("-")[-2] in pids}

    def lead(self) -> Browser:
        """The lead signed in on a live web process (a fresh sign-in each time)."""
        for w in self.webs:
            if self.cluster.procs[w].poll() is None:
                return Browser(self.cluster.url(w)).login("lead1")
        raise RuntimeError("no web process is alive")

    def start_exercise(
        self, seconds: int, mix: dict = MIX, rate: float | None = None, name: str = "fault drill", seed: int = 11
    ) -> int:
        body = {
            "name": name,
            "mix": mix,
            "rate_per_minute": self.args.rate if rate is None else rate,
            "duration_seconds": seconds,
            "seed": seed,
            "lang": "en",
        }
        lead = self.lead()
        code, ex = lead.post_json("/api/exercises", body)
        assert code == 201, ex
        code, started = lead.post_json(f"/api/exercises/{ex['id']}/start", {})
        assert code == 200, started
        return ex["id"]

    def stop_exercise(self, ex_id: int) -> None:
        code, res = self.lead().post_json(f"/api/exercises/{ex_id}/stop", {})
        if code != 200 and "is finished" not in str(res.get("error")):  # (all its customers done already)
            self.rec.errors[f"exercise stop answered {code}: {res}"] += 1

    # -- the faults (blocking) ------------------------------------------------------------------------------

    def _fault(self, kind: str, target: str | None, **extra) -> dict:
        f = {"kind": kind, "target": target, "t": time.monotonic(), "wall": time.time(), **extra}
        f["t_rel"] = f["t"] - self.t0
        self.faults.append(f)
        print(f"[{f['t_rel']:6.1f} s] {kind} {target or ''}", flush=True)
        return f

    def kill_web(self) -> None:
        target = self.webs[1 % len(self.webs)]
        self._fault("kill web", target)
        self.cluster.kill(target)

    def kill_media(self) -> None:
        def calls(m):
            return sorted(int(c) for c in self.redis.smembers(self.key("media", "worker", m, "calls")) if c.isdigit())

        with contextlib.suppress(AssertionError):
            wait_for(lambda: any(calls(m) for m in self.medias), 20, 0.2, "a call on a media worker")
        target = max(self.medias, key=lambda m: len(calls(m)))
        held = calls(target)
        self._fault("kill media worker", target, calls=held)
        self.cluster.kill(target)

    def kill_sim(self) -> None:
        workers = self.sim_workers()
        owned: dict[str, list[int]] = {w: [] for w in workers}
        for k in self.redis.scan_iter(match=self.key("sim", "contact", "*"), count=1000):
            owner = self.redis.hget(k, "owner")
            if owner in owned:
                owned[owner].append(int(k.rsplit(":", 1)[1]))
        target = max(owned, key=lambda w: len(owned[w])) if owned else None
        if target is None:
            self.rec.errors["no simulator worker alive to kill"] += 1
            return
        self._fault("kill simulator worker", workers[target], customers=sorted(owned[target]))
        self.cluster.kill(workers[target])

    def flush_redis(self) -> None:
        if self.args.flush == "db":
            f = self._fault("flush redis", f"db {self.redis.connection_pool.connection_kwargs.get('db', 0)}")
            self.redis.flushdb()  # this database number only (the bench's own), never FLUSHALL
        else:  # a shared database number (CI's): every key of this centre, and only those
            f = self._fault("flush redis", f"prefix {self.prefix}")
            for k in self.redis.scan_iter(match=self.prefix + "*", count=1000):
                self.redis.delete(k)
        built = self.key("live", "built")
        with contextlib.suppress(AssertionError):
            wait_for(lambda: self.redis.exists(built), 60, 0.1, "the live state rebuilt")
            f["rebuilt_s"] = round(time.monotonic() - f["t"], 2)

    # -- the run --------------------------------------------------------------------------------------------

    async def load(self) -> None:
        a, loop = self.args, asyncio.get_running_loop()
        urls = [self.cluster.url(w) for w in self.webs]
        stop, timeout = asyncio.Event(), 15.0
        desks = [Desk(urls, i, self.rec, stop, timeout, username=f"agent{i}") for i in range(a.desks)]
        await asyncio.gather(*(d.start() for d in desks))
        seconds = int(a.minutes * 60)
        self.t0 = time.monotonic()
        self.wall0 = time.time() - 5
        ex_id = await loop.run_in_executor(None, self.start_exercise, seconds)
        if a.emails:  # the simulated email customers, an exercise of their own (its own rate)
            args = (seconds, EMAIL_MIX, a.emails, "email drill", EMAIL_SEED)
            mail_ex = await loop.run_in_executor(None, self.start_exercise, *args)
        customers = [ChatCustomer(urls, i, self.rec, stop, timeout) for i in range(a.customers)]
        callers = [Caller(urls, i, self.rec, stop, timeout) for i in range(a.callers)]
        rooms, staff = [], []
        if a.members or a.viewers:
            ids = await loop.run_in_executor(
                None, open_room_and_stream, self.app, self.cluster.secret, "host0", "presenter0"
            )
            rooms, staff = room_and_stream_clients(
                ids, urls, self.rec, stop, timeout, members=a.members, viewers=a.viewers
            )
        talk = [asyncio.create_task(c.run()) for c in [*customers, *rooms]]
        talk += [asyncio.create_task(c.run(hold_max=60)) for c in callers]
        for frac, fault in (
            (0.2, self.kill_web),
            (0.4, self.kill_media),
            (0.6, self.kill_sim),
            (0.8, self.flush_redis),
        ):
            await asyncio.sleep(max(0.0, self.t0 + frac * seconds - time.monotonic()))
            await loop.run_in_executor(None, fault)
        await asyncio.sleep(max(0.0, self.t0 + seconds - time.monotonic()))
        print(f"[{time.monotonic() - self.t0:6.1f} s] load stops; customers leave, the desks drain", flush=True)
        self.stop_at = time.monotonic()
        stop.set()
        await loop.run_in_executor(None, self.stop_exercise, ex_id)
        if a.emails:
            await loop.run_in_executor(None, self.stop_exercise, mail_ex)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*talk, return_exceptions=True), 90)
        with contextlib.suppress(TimeoutError):  # the room closed and the stream ended, by their trainees
            await asyncio.wait_for(asyncio.gather(*(s.finish() for s in staff), return_exceptions=True), 60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and await loop.run_in_executor(None, self.open_contacts):
            await asyncio.sleep(1)
        await asyncio.sleep(3)  # the last wrap-ups' acks
        self.end_wall = time.time()
        for c in [*customers, *callers, *desks, *rooms]:
            await c.close()

    def open_contacts(self) -> int:
        from sqlalchemy import func, select

        from contacts.models import Contact
        from extensions import db

        with self.app.app_context():
            n = db.session.scalar(
                select(func.count()).where(
                    Contact.status.in_(("queued", "active", "wrap_up")), Contact.created_at >= self.wall0
                )
            )
            db.session.remove()
        return n

    def report(self) -> dict:
        contacts, events = checks.load(self.app, self.wall0)
        load = os.getloadavg()
        return {
            "args": vars(self.args),
            "machine": {
                "load_at_start": self.load_at_start,
                "load_at_end": [round(x, 2) for x in load],
                "cpus": os.cpu_count(),
            },
            "sends": checks.lost_and_doubled(self.rec, contacts, events),
            "graded_twice": checks.graded_twice(self.app, contacts),
            "arrivals": self.arrivals(contacts, events),
            "customers": checks.stranded(contacts, events, self.end_wall),
            "calls": checks.calls(self.rec, contacts, events, Path(self.recordings), self.faults),
            "recovery": checks.recovery(self.rec, self.faults, events, contacts),
            "emails": email_checks.emails(
                contacts, events, self.rec, self.chase_after(), self.end_wall, faults=self.faults
            ),
            "clients": {
                "drops": len(self.rec.drops),
                "reconnected": len(self.rec.back),
                "chats_started": len(self.rec.starts),
                "starts_unacknowledged": len(self.rec.start_failed),
                "sends_given_up": len(self.rec.unacked),
                "refused": dict(self.rec.refused.most_common(12)),
                "errors": dict(self.rec.errors.most_common(12)),
            },
            "faults": [{k: v for k, v in f.items() if k != "t"} for f in self.faults],
            "timeline": {  # seconds from the start of the load
                "drops": [(w, round(t - self.t0, 2)) for w, t in self.rec.drops],
                "back": [(w, round(d - self.t0, 2), round(b - self.t0, 2)) for w, d, b in self.rec.back],
                "logins": [(w, u.rsplit(":", 1)[1], round(t - self.t0, 2)) for w, u, t in self.rec.logins],
            },
            "dead_processes": {n: p.returncode for n, p in self.cluster.procs.items() if p.poll() is not None},
        }

    def arrivals(self, contacts, events) -> dict:
        """Per exercise: the arrivals it planned and the simulated customers it started (an email customer's first
        contact only: a mail threaded onto a closed case opens another). More started than planned is an arrival
        started twice (a dead driver's arrivals started again by the process that adopted the exercise)."""
        from extensions import db
        from simulator.models import Exercise

        with self.app.app_context():
            planned = {ex.id: (ex.name, len(ex.schedule or [])) for ex in db.session.scalars(select(Exercise))}
            db.session.remove()
        out = {}
        for ex_id, (name, n) in planned.items():
            started = 0
            for c in contacts.values():
                first = next((e for e in events.get(c.id, []) if e.type == "email.received"), None)
                follows = first is not None and (first.data or {}).get("follows_contact_id")
                started += c.simulated and c.exercise_id == ex_id and not follows
            out[name] = {"planned": n, "started": started}
        return out

    def chase_after(self) -> dict[str, float]:
        """Seconds each email scenario's customer waits before chasing, at the run's pace."""
        from scenarios.registry import get_scenario

        with self.app.app_context():
            out = {}
            for sid in EMAIL_MIX:
                spec = get_scenario(sid).email
                if spec.chase_after:
                    out[sid] = spec.chase_after * self.args.email_pace
            return out

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        with contextlib.suppress(Exception):
            for k in self.redis.scan_iter(match=self.prefix + "*", count=1000):
                self.redis.delete(k)
        if self.drop_db is not None and not self.args.keep:
            with contextlib.suppress(Exception):
                with self.app.app_context():
                    from extensions import db

                    db.session.remove()
                    db.engine.dispose()
                self.drop_db()
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def verdict(r: dict) -> list[tuple[str, str, bool]]:
    s, c, calls = r["sends"], r["customers"], r["calls"]
    return [
        ("acknowledged sends lost", f"{s['lost']} of {s['acked_sends']}", s["lost"] == 0),
        (
            "duplicated",
            f"{s['doubled_client_ids']} client_ids, {s['doubled_simulated_lines']} sim lines, "
            f"{len(r['graded_twice'])} graded twice",
            s["doubled_client_ids"] == 0 and s["doubled_simulated_lines"] == 0 and not r["graded_twice"],
        ),
        (
            "exercise arrivals started twice",
            ", ".join(f"{k}: {v['started']} of {v['planned']}" for k, v in r["arrivals"].items()),
            all(v["started"] <= v["planned"] for v in r["arrivals"].values()),
        ),
        ("customers stranded (open after the drain)", f"{c['still_open']} of {c['contacts']}", c["still_open"] == 0),
        *email_checks.verdict(r["emails"]),
        ("simulated customers silent > 30 s", str(c["simulated_silent"]), c["simulated_silent"] == 0),
        ("served before an earlier arrival", str(c["overtaken"]), c["overtaken"] == 0),
        (
            "calls ended cleanly",
            f"{calls['ended_cleanly']} of {calls['calls']}",
            calls["ended_cleanly"] == calls["calls"],
        ),
    ]


def print_table(r: dict) -> None:
    print("\ncheck                                         result                              ok")
    for name, got, ok in verdict(r):
        print(f"{name:<45} {got:<35} {'yes' if ok else 'NO'}")
    print("\nfault                   at (s)  next ack (s)  next assignment (s)  recovered")
    for f in r["recovery"]:
        extra = {
            k: v for k, v in f.items() if k not in ("fault", "target", "at_s", "next_acked_send_s", "next_assignment_s")
        }
        print(
            f"{f['fault'] + ' ' + str(f['target']):<23} {f['at_s']:>6}  {str(f['next_acked_send_s']):>12}  "
            f"{str(f['next_assignment_s']):>19}  {json.dumps(extra)}"
        )
    print(f"\nacknowledged and lost, by sender: {json.dumps(r['sends']['acked_and_lost_by_sender'])}")
    print(f"clients: {json.dumps(r['clients'])}")
    print(
        f"queue wait p50/p95/max: {r['customers']['queue_wait_p50_s']}/{r['customers']['queue_wait_p95_s']}/"
        f"{r['customers']['queue_wait_max_s']} s; end reasons {json.dumps(r['customers']['end_reasons'])}"
    )
    print(f"calls: {json.dumps(r['calls'])}")
    print(f"emails: {json.dumps(r['emails'])}")
    print(f"machine: {json.dumps(r['machine'])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="how long the load runs (the faults fall within)")
    ap.add_argument("--short", action="store_true", help="the CI-sized run: 80 s of load, fewer clients")
    ap.add_argument("--web", type=int, default=3)
    ap.add_argument("--media", type=int, default=2)
    ap.add_argument("--sim", type=int, default=2)
    ap.add_argument("--desks", type=int, default=8)
    ap.add_argument("--customers", type=int, default=10)
    ap.add_argument("--callers", type=int, default=2)
    ap.add_argument("--rate", type=float, default=4.0, help="simulated customers a minute (the exercise)")
    ap.add_argument("--members", type=int, default=4, help="people posting in the group room (0: no room)")
    ap.add_argument("--viewers", type=int, default=4, help="guests commenting on the livestream (0: no stream)")
    ap.add_argument("--emails", type=float, default=3.0, help="simulated email customers a minute (0: none)")
    ap.add_argument(
        "--email-pace",
        type=float,
        default=0.0015,
        help="EMAIL_CUSTOMER_PACE: their delays x this (0.0015: a reply in 1-5 s, a chaser after 11-16 s)",
    )
    ap.add_argument(
        "--database-url", default=os.environ.get("FAULT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    ap.add_argument(
        "--db-prefix",
        default=os.environ.get("FAULT_DB_PREFIX", "fault"),
        help="the run's own database is named <prefix>_<hex> (created, dropped at the end)",
    )
    ap.add_argument(
        "--redis-url",
        default=os.environ.get("FAULT_REDIS_URL", "redis://127.0.0.1:6379/7"),
        help="a Redis database number of the bench's own: it is flushed (FLUSHDB)",
    )
    ap.add_argument(
        "--flush",
        choices=("db", "prefix"),
        default="db",
        help="the Redis fault: FLUSHDB of --redis-url's database number (default), or the run's keys only",
    )
    ap.add_argument("--json", help="write the report here")
    ap.add_argument("--keep", action="store_true", help="keep the database, logs and recordings")
    args = ap.parse_args()
    if args.short:
        args.minutes, args.desks, args.customers, args.callers, args.rate = 80 / 60, 5, 5, 1, 6.0
        args.members, args.viewers, args.emails = 3, 3, 6.0
    run = Run(args)
    run.load_at_start = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at start: {run.load_at_start}; logs in {run.tmp}", flush=True)
    report = None
    try:
        run.start()
        asyncio.run(asyncio.wait_for(run.load(), args.minutes * 60 + 240))
        report = run.report()
    finally:
        if report is None:
            args.keep = True  # keep the logs of a run that broke
            print(f"the run broke; logs kept in {run.tmp}", file=sys.stderr)
        run.stop()
    print_table(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    sys.exit(0 if all(ok for _, _, ok in verdict(report)) else 1)


if __name__ == "__main__":
    main()
