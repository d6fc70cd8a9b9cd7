"""Chat load benchmark: N simulated customers and M agents as real Socket.IO clients against a running server.

Run from the repo root:  .venv/bin/python bench/chat_load.py [--profile bench|realistic] [--customers 2000]
                             [--steps 50,100,...,2000] [--agents 100] [--window 45] [--client-procs K] [--json out]

It starts ``python app.py`` as a subprocess on a free 127.0.0.1 port with a temporary instance folder (SQLite +
embedded Redis, the normal config with CSRF on, the simulator off, KEFU_CHAT_CAPACITY = ceil(N / M)), creates
M trainee accounts, and spreads the clients over K client processes (bench/_chat_worker.py; agent i and
customer j in process i % K and j % K), each one asyncio loop. Agents log in over HTTP and connect to /desk.
Customers are then added in steps; each customer connects /customer, starts a chat and writes at the profile's
pace; each agent answers every customer message after a think time.

Profiles (explicit flags override a profile's values):

- ``bench`` (default, the stress pace this benchmark has always used): a customer line every 5-10 s, every
  line answered after 0.5-1.5 s, no typing indicators, no desk polls, chats of 5 minutes on average;
- ``realistic`` (a real web-chat desk's pace, reasoned in bench/README.md): a customer line every 30-90 s,
  typed for 5-20 s; the agent starts typing 5-20 s after it and types for 5-25 s; typing start/stop sent as
  customer_chat.js and desk.js send them; every desk polls ``figures`` every 5 s as desk.js does; chats of
  12 minutes on average; one agent per 3 customers of the last step (the default KEFU_CHAT_CAPACITY); 90 s of
  settling after each ramp (a new customer's first line comes up to 90 s in) and 60 s windows.

Each step holds its level for a measured window and reports:

- the server round trip of a customer ``send`` (emit -> ack) p50/p95/p99, and of an agent ``send``;
- delivery customer -> agent and agent -> customer (emit -> the other side's ``event``), and messages lost;
- the assignment latency (customer emits ``start`` -> the agent receives its ``assignment`` event), for chats
  started while the level is held (churn: customers leave and new chats start at level / --chat-minutes per
  minute, so the level stays put; the agent wraps each ended chat up, which frees the seat) and for the burst
  of the step's ramp; typing and figures round trips when the profile sends them;
- CPU of the web process (and per chat message: server CPU-ms / msg), of its Redis and of the client
  processes (100% = one core; the busiest process too), the whole machine's busy share of its cores and the
  load average, the server's RSS and threads, and the clients' event-loop lag (if a client lags, it inflates
  every figure).

A step is held when its customer send p99 is under --target-ms with no error, no dropped socket and no lost
message (one still undelivered 30 s after the customers stop counts as lost). The run stops ramping after a
step whose p99 passes --give-up-ms (the server is past its knee), and stops by itself after --max-seconds in
any case; the server and the client processes are ended on exit. Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _chat_clients import Plan, now  # noqa: E402
from _chat_report import StepTimes, markdown, merge, print_row, row  # noqa: E402
from _chat_worker import ClientPool, default_processes, share  # noqa: E402
from _peer import PeerProcess, compare, comparison_markdown, node_version, peer_missing  # noqa: E402
from _server import ServerProcess, _proc_stat, agent_usernames, free_port, machine_busy  # noqa: E402

PASSWORD = "bench-pass-1234"
# Fine steps at the low end find the knee; the ramp stops after the first step past --give-up-ms.
DEFAULT_STEPS = (50, 100, 150, 200, 300, 500, 1000, 1500)
PROFILES = {
    "bench": {
        "interval": "5,10",
        "think": "0.5,1.5",
        "customer_compose": "0,0",
        "agent_compose": "0,0",
        "typing": False,
        "figures_every": 0.0,
        "chat_minutes": 5.0,
        "settle": 5.0,
        "window": 45.0,
        "max_seconds": 900.0,
    },
    "realistic": {
        "interval": "30,90",
        "think": "5,20",
        "customer_compose": "5,20",
        "agent_compose": "5,25",
        "typing": True,
        "figures_every": 5.0,
        "chat_minutes": 12.0,
        # a new customer's first line comes 1-90 s in: measure once every conversation is in its stride
        "settle": 90.0,
        "window": 60.0,
        "max_seconds": 1800.0,
    },
}


def _pair(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition(",")
    return float(lo), float(hi or lo)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Socket.IO chat load benchmark (see the module docstring).")
    p.add_argument("--profile", choices=sorted(PROFILES), default="bench", help="the pace (default bench)")
    p.add_argument("--customers", type=int, default=2000, help="the last step (default 2000)")
    p.add_argument(
        "--steps",
        default=None,
        help="comma-separated customer counts (default: 50,100,150,200,300,"
        "500,1000,1500 up to --customers, then --customers)",
    )
    p.add_argument("--agents", type=int, default=None, help="default 100 (bench) or a third of the last step")
    p.add_argument("--client-procs", type=int, default=None, help="client processes (default: 1 per ~600 sockets)")
    p.add_argument("--window", type=float, default=None, help="measured seconds per step (45; realistic 60)")
    p.add_argument("--settle", type=float, default=None, help="seconds after a ramp before measuring (5; realistic 90)")
    p.add_argument("--ramp-rate", type=float, default=25.0, help="new customers per second while ramping")
    p.add_argument("--chat-minutes", type=float, default=None, help="mean chat length: sets the churn rate")
    p.add_argument("--interval", default=None, help="seconds between one customer's messages (lo,hi)")
    p.add_argument("--think", default=None, help="agent's delay before starting a reply, seconds (lo,hi)")
    p.add_argument("--customer-compose", default=None, help="seconds a customer types a line (lo,hi)")
    p.add_argument("--agent-compose", default=None, help="seconds an agent types a reply (lo,hi)")
    p.add_argument("--typing", action=argparse.BooleanOptionalAction, default=None, help="send typing start/stop")
    p.add_argument("--figures-every", type=float, default=None, help="seconds between a desk's figures polls")
    p.add_argument("--target-ms", type=float, default=100.0)
    p.add_argument("--give-up-ms", type=float, default=1000.0)
    p.add_argument("--max-seconds", type=float, default=None, help="stop by itself after this (900; realistic 1800)")
    p.add_argument(
        "--async-mode",
        choices=("threading", "gevent"),
        default="threading",
        help="the server's KEFU_ASYNC_MODE (default threading, as `make run`)",
    )
    p.add_argument(
        "--peer",
        action="store_true",
        help="then run the same steps against the Node peer (bench/peer) and report the ratio sandbox / peer",
    )
    p.add_argument("--json", dest="json_out", default=None, help="write every figure to this file")
    a = p.parse_args(argv)
    for key, value in PROFILES[a.profile].items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    if a.steps:
        a.steps = sorted({int(x) for x in a.steps.split(",") if x.strip()})
    else:
        a.steps = sorted({s for s in DEFAULT_STEPS if s < a.customers} | {a.customers})
    if a.agents is None:
        a.agents = 100 if a.profile == "bench" else max(1, math.ceil(max(a.steps) / 3))
    for key in ("interval", "think", "customer_compose", "agent_compose"):
        setattr(a, key, _pair(getattr(a, key)))
    if a.client_procs is None:
        a.client_procs = default_processes(max(a.steps), a.agents)
    return a


class Meter:
    """CPU seconds of the server, its Redis, the client processes and the machine between two readings."""

    def __init__(self, server: ServerProcess, client_pids: list[int]) -> None:
        self.server, self.pids = server, client_pids
        self.t, self.s, self.c, self.m = now(), server.stats(), self._clients(), machine_busy()

    def _clients(self) -> list[float]:
        out = []
        for pid in self.pids:
            try:
                out.append(_proc_stat(pid)[0])
            except OSError:
                out.append(0.0)
        t = os.times()
        return [*out, t.user + t.system]  # the parent too

    def read(self) -> dict:
        t, s, c, m = now(), self.server.stats(), self._clients(), machine_busy()
        dt = max(1e-6, t - self.t)
        busy = (m[0] - self.m[0]) / max(1.0, m[1] - self.m[1])
        per_proc = [max(0.0, b - a) / dt for a, b in zip(self.c, c, strict=True)]
        ours = (s["cpu"] - self.s["cpu"]) / dt + (s["redis_cpu"] - self.s["redis_cpu"]) / dt + sum(per_proc)
        cores = os.cpu_count() or 1
        return {
            "server_cpu_pct": 100.0 * (s["cpu"] - self.s["cpu"]) / dt,
            "redis_cpu_pct": 100.0 * (s["redis_cpu"] - self.s["redis_cpu"]) / dt,
            "client_cpu_pct": 100.0 * sum(per_proc),
            "client_cpu_max_pct": 100.0 * max(per_proc),
            "machine_busy_pct": 100.0 * busy,
            # Whatever else ran on the machine meanwhile (other test runs share these cores), in cores.
            "other_cores": max(0.0, busy * cores - ours),
            "load_avg": os.getloadavg()[0],
            "server_rss_mb": s["rss"] / 2**20,
            "server_threads": s["threads"],
            "server_fds": s["fds"],
        }


def run(a, server: ServerProcess, pool: ClientPool, deadline: float) -> dict:
    """The steps, the drain and the close; returns the rows and the run's totals."""
    k = len(pool)
    t = now()
    names = list(enumerate(agent_usernames(a.agents)))
    # each login checks a password hash on the server: at most 4 at a time over all processes
    pool.each("login", lambda i: (share(names, k, i), PASSWORD, max(1, 4 // k)), timeout=deadline - now())
    print(f"{a.agents} agents logged in and available in {now() - t:.1f}s ({k} client processes)", flush=True)
    steps: list[StepTimes] = []
    meters: list[tuple[int, dict]] = []
    have = 0
    for level in a.steps:
        if now() > deadline:
            print(f"stopped after --max-seconds {a.max_seconds:.0f}", flush=True)
            break
        st = StepTimes(level, ramp_start=now())
        if steps:
            steps[-1].end = st.ramp_start
        steps.append(st)
        new = list(range(have, level))
        have = level
        pool.each("ramp", lambda i, new=new: (share(new, k, i), a.ramp_rate / k), timeout=deadline - now())
        ramp_s = now() - st.ramp_start
        time.sleep(a.settle)
        meter = Meter(server, pool.pids)
        st.window_start = now()
        ready = pool.all("churn", level / (60.0 * a.chat_minutes) / k, a.window, timeout=a.window + 60)
        st.window_end = now()
        reading = meter.read()
        reading["ramp_s"] = ramp_s
        meters.append((sum(r["ready"] for r in ready), reading))
        # figures of this step so far, to print it and decide whether to go on (losses are counted at the end)
        raw = merge(pool.all("peek"), [StepTimes(level, st.ramp_start, st.window_start, st.window_end)])[0][0]
        print(f"step {level} customers (ramp {ramp_s:.1f}s):", flush=True)
        r = row(level, meters[-1][0], a.agents, raw, reading, a.window)
        print_row(r)
        if not server.alive():
            print("the server process died", flush=True)
            break
        p99 = r["send_rtt"]["p99"]
        if p99 is None or p99 > a.give_up_ms:
            print(f"stopping the ramp: send p99 {p99 or 0:.0f} ms is past --give-up-ms {a.give_up_ms:.0f}", flush=True)
            break
    # Drain: customers stop writing; replies and deliveries still in flight get up to 30 s to land.
    pool.all("stop")
    time.sleep(a.think[1] + a.agent_compose[1] + 1.0)
    drain_until = now() + 30.0
    while now() < drain_until:
        b = pool.all("balance")
        sent = sum(x["sends_acked"] for x in b) + sum(x["replies_acked"] for x in b)
        seen = sum(x["reached_agent"] for x in b) + sum(x["reached_customer"] for x in b)
        if seen >= sent:
            break
        time.sleep(0.5)
    logs = pool.all("close", timeout=120)
    raws, setup_errors, unassigned = merge(logs, steps)
    rows = []
    for st, raw, (held_now, reading) in zip(steps, raws, meters, strict=False):
        rows.append(row(st.level, held_now, a.agents, raw, reading, a.window))
        rows[-1]["ramp_s"] = reading["ramp_s"]
    return {"rows": rows, "setup_errors": setup_errors, "unassigned_at_end": unassigned}


def measure(a, server: ServerProcess, plan: Plan, name: str) -> tuple[dict, list[str]]:
    """Set ``server`` up, start it, run the steps against it, stop it; (result, server log problems)."""
    result: dict = {}
    pool = None
    problems: list[str] = []
    try:
        t = time.monotonic()
        server.setup()
        server.start()
        print(f"{name} up on {server.url} (set-up + start {time.monotonic() - t:.1f}s)", flush=True)
        pool = ClientPool(a.client_procs, plan)
        result = run(a, server, pool, now() + a.max_seconds)
    except (TimeoutError, RuntimeError) as e:  # a client process failed or did not answer: end the run
        print(f"stopped: {e}", flush=True)
    finally:
        if pool is not None:
            pool.terminate()
        problems = server.log_problems()
        server.stop()
        if problems:  # keep the whole log to read the tracebacks (bench/results/ is git-ignored)
            keep = Path(__file__).resolve().parent / "results" / f"chat_load-{name}.log"
            keep.parent.mkdir(exist_ok=True)
            shutil.copy(server.log_path, keep)
            print(f"{name} log kept at {keep}", flush=True)
    return result, problems


def largest_held(a, rows: list[dict]) -> int:
    held = [
        r
        for r in rows
        if r["send_rtt"]["p99"] is not None
        and r["send_rtt"]["p99"] < a.target_ms
        and not r["errors"]
        and not r["dropped"]
        and not r["lost_c2a"]
        and not r["lost_a2c"]
    ]
    return max((r["customers"] for r in held), default=0)


def main(argv=None) -> int:
    a = parse_args(argv)
    if a.peer and (why := peer_missing()):
        print(f"--peer: {why}", flush=True)
        return 2
    capacity = math.ceil(max(a.steps) / a.agents)
    tmp = Path(tempfile.mkdtemp(prefix="kefu-chat-load-"))
    server = ServerProcess(
        tmp / "sandbox",
        port=free_port(),
        chat_capacity=capacity,
        agents=a.agents,
        password=PASSWORD,
        async_mode=a.async_mode,
    )
    info = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "command": " ".join([".venv/bin/python", "bench/chat_load.py", *(argv if argv is not None else sys.argv[1:])]),
        "chat_capacity": capacity,
        "load_avg_at_start": os.getloadavg(),
        "args": {k: v for k, v in vars(a).items() if k != "json_out"},
    }
    print(
        f"chat_load ({a.profile}): {a.async_mode} server, steps {a.steps}, {a.agents} agents x {capacity} chats, "
        f"window {a.window:.0f}s, customer lines every {a.interval[0]:g}-{a.interval[1]:g}s, replies after "
        f"{a.think[0]:g}-{a.think[1]:g}s (+ typing {a.agent_compose[0]:g}-{a.agent_compose[1]:g}s), typing "
        f"events {'on' if a.typing else 'off'}, desk figures every {a.figures_every:g}s; {a.client_procs} client "
        f"processes; {info['nproc']} cores, Python {info['python']}, load {os.getloadavg()[0]:.2f}"
        + (f"; then the Node peer ({node_version()})" if a.peer else ""),
        flush=True,
    )
    plan = Plan.from_args(server.url, a)
    started = time.monotonic()
    try:
        result, problems = measure(a, server, plan, "server")
        peer_out = None
        if a.peer:
            # The same steps at the same pace against the peer, right after: compare within one run.
            peer = PeerProcess(
                tmp / "peer", port=free_port(), chat_capacity=capacity, agents=a.agents, password=PASSWORD
            )
            peer_result, peer_problems = measure(a, peer, dataclasses.replace(plan, url=peer.url), "peer")
            peer_rows = peer_result.get("rows", [])
            peer_out = {
                **peer_result,
                "node": node_version(),
                "largest_held": largest_held(a, peer_rows),
                "log_problems": peer_problems[:50],
                "comparison": compare(result.get("rows", []), peer_rows),
            }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = result.get("rows", [])
    out = {
        **info,
        **result,
        "largest_held": largest_held(a, rows),
        "server_log_problems": problems[:50],
        "server_log_problem_count": len(problems),
        "peer": peer_out,
        "wall_seconds": time.monotonic() - started,
        "load_avg_at_end": os.getloadavg(),
    }
    print(
        f"\nlargest step held with customer send p99 < {a.target_ms:.0f} ms and nothing lost: "
        f"{out['largest_held']} conversations",
        flush=True,
    )
    if problems:
        print(f"server log: {len(problems)} error lines, first: {problems[0]}", flush=True)
    print("\n" + markdown(rows), flush=True)
    if peer_out is not None:
        print(f"\nthe Node peer ({peer_out['node']}): largest held {peer_out['largest_held']}", flush=True)
        print("\n" + markdown(peer_out.get("rows", [])), flush=True)
        print("\nsandbox beside the peer, in this run:\n\n" + comparison_markdown(peer_out["comparison"]), flush=True)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(out, indent=2, default=str))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
