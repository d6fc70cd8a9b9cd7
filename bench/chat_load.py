"""Chat load benchmark: N simulated customers and M agents as real Socket.IO clients against a running server.

Run from the repo root:  .venv/bin/python bench/chat_load.py [--customers 2000] [--steps 50,100,...,2000]
                                                            [--agents 100] [--window 45] [--json out.json]

It starts ``python app.py`` as a subprocess on a free 127.0.0.1 port with a temporary instance folder (SQLite +
embedded Redis, the normal config with CSRF on, the simulator off, KEFU_CHAT_CAPACITY = ceil(N / M)), creates
M trainee accounts, logs each agent in over HTTP and connects it to /desk. Customers are then added in steps;
each customer connects /customer, starts a chat and writes a message every 5-10 s; each agent answers every
customer message after a 0.5-1.5 s think time. Each step holds its level for a measured window and reports:

- the server round trip of a customer ``send`` (emit -> ack) p50/p95/p99, and of an agent ``send``;
- delivery customer -> agent and agent -> customer (emit -> the other side's ``event``), and messages lost;
- the assignment latency (customer emits ``start`` -> the agent receives its ``assignment`` event), for chats
  started while the level is held (churn: customers leave and new chats start at level / --chat-minutes per
  minute, so the level stays put; the agent wraps each ended chat up, which frees the seat) and for the burst
  of the step's ramp;
- CPU of the web process, of its Redis and of this client process (100% = one core), the whole machine's busy
  share of its cores, the server's RSS and threads, and this client's event-loop lag (if the client lags,
  it inflates every figure).

A step is held when its customer send p99 is under --target-ms with no error, no dropped socket and no lost
message (one still undelivered 30 s after the customers stop counts as lost). The run stops ramping after a
step whose p99 passes --give-up-ms (the server is past its knee), and stops by itself after --max-seconds in
any case; the server is killed on exit. Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _chat_clients import Agent, Customer, Plan, Recorder, now, watch_loop_lag  # noqa: E402
from _server import ServerProcess, agent_usernames, free_port, machine_busy  # noqa: E402

PASSWORD = "bench-pass-1234"
# Fine steps at the low end find the knee; the ramp stops after the first step past --give-up-ms.
DEFAULT_STEPS = (50, 100, 150, 200, 300, 500, 1000, 1500)


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile, in milliseconds."""
    if not values:
        return None
    s = sorted(values)
    return 1000.0 * s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def _pair(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition(",")
    return float(lo), float(hi or lo)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Socket.IO chat load benchmark (see the module docstring).")
    p.add_argument("--customers", type=int, default=2000, help="the last step (default 2000)")
    p.add_argument(
        "--steps",
        default=None,
        help="comma-separated customer counts (default: 50,100,150,200,300,"
        "500,1000,1500 up to --customers, then --customers)",
    )
    p.add_argument("--agents", type=int, default=100)
    p.add_argument("--window", type=float, default=45.0, help="measured seconds per step")
    p.add_argument("--settle", type=float, default=5.0, help="seconds after a ramp before measuring")
    p.add_argument("--ramp-rate", type=float, default=25.0, help="new customers per second while ramping")
    p.add_argument("--chat-minutes", type=float, default=5.0, help="mean chat length: sets the churn rate")
    p.add_argument("--interval", default="5,10", help="seconds between one customer's messages (lo,hi)")
    p.add_argument("--think", default="0.5,1.5", help="agent think time before a reply, seconds (lo,hi)")
    p.add_argument("--target-ms", type=float, default=100.0)
    p.add_argument("--give-up-ms", type=float, default=1000.0)
    p.add_argument("--max-seconds", type=float, default=900.0)
    p.add_argument(
        "--async-mode",
        choices=("threading", "gevent"),
        default="threading",
        help="the server's KEFU_ASYNC_MODE (default threading, as `make run`)",
    )
    p.add_argument("--json", dest="json_out", default=None, help="write every figure to this file")
    a = p.parse_args(argv)
    if a.steps:
        a.steps = sorted({int(x) for x in a.steps.split(",") if x.strip()})
    else:
        a.steps = sorted({s for s in DEFAULT_STEPS if s < a.customers} | {a.customers})
    a.interval, a.think = _pair(a.interval), _pair(a.think)
    return a


class Meter:
    """CPU seconds of the server, its Redis, this process and the machine between two readings."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.t, self.s, self.c, self.m = now(), server.stats(), _self_cpu(), machine_busy()

    def read(self) -> dict:
        t, s, c, m = now(), self.server.stats(), _self_cpu(), machine_busy()
        dt = max(1e-6, t - self.t)
        busy = (m[0] - self.m[0]) / max(1.0, m[1] - self.m[1])
        ours = ((s["cpu"] - self.s["cpu"]) + (s["redis_cpu"] - self.s["redis_cpu"]) + (c - self.c)) / dt
        cores = os.cpu_count() or 1
        return {
            "server_cpu_pct": 100.0 * (s["cpu"] - self.s["cpu"]) / dt,
            "redis_cpu_pct": 100.0 * (s["redis_cpu"] - self.s["redis_cpu"]) / dt,
            "client_cpu_pct": 100.0 * (c - self.c) / dt,
            "machine_busy_pct": 100.0 * busy,
            # Whatever else ran on the machine meanwhile (other test runs share these cores), in cores.
            "other_cores": max(0.0, busy * cores - ours),
            "server_rss_mb": s["rss"] / 2**20,
            "server_threads": s["threads"],
            "server_fds": s["fds"],
        }


def _self_cpu() -> float:
    t = os.times()
    return t.user + t.system


def summarise(a, rec: Recorder, i: int, customers: int, held_now: int, meter: dict, window: float) -> dict:
    b = rec.buckets[i]
    row = {
        "customers": customers,
        "conversations": held_now,
        "agents": a.agents,
        "msgs_per_s": (b.sent + b.replies) / window,
        "customer_sends": b.sent,
        "chats_churned": b.churned,
        "agent_replies": b.replies,
        "errors": dict(b.errors),
        "dropped": b.dropped,
    }
    for name, values in (
        ("send_rtt", b.send_rtt),
        ("agent_send_rtt", b.agent_send_rtt),
        ("c2a", b.c2a),
        ("a2c", b.a2c),
        ("assign", b.assign),
        ("assign_ramp", b.assign_ramp),
        ("start_rtt", b.start_rtt),
        ("loop_lag", b.loop_lag),
    ):
        row[name] = {"n": len(values), **{f"p{p}": pct(values, p) for p in (50, 95, 99)}, "max": pct(values, 100)}
    row.update(meter)
    return row


def _ms(v) -> str:
    return "-" if v is None else (f"{v:.0f}" if v >= 10 else f"{v:.1f}")


def print_row(r: dict) -> None:
    s, c2a, a2c, asg = r["send_rtt"], r["c2a"], r["a2c"], r["assign"]
    print(
        f"  {r['conversations']:>5} conversations  {r['msgs_per_s']:6.1f} msg/s  send RTT p50/p95/p99 "
        f"{_ms(s['p50'])}/{_ms(s['p95'])}/{_ms(s['p99'])} ms (n={s['n']})  c->a p99 {_ms(c2a['p99'])}  "
        f"a->c p99 {_ms(a2c['p99'])}  assign p50/p99 {_ms(asg['p50'])}/{_ms(asg['p99'])} ms (n={asg['n']}), "
        f"in the ramp {_ms(r['assign_ramp']['p50'])}/{_ms(r['assign_ramp']['p99'])} ms  "
        f"server {r['server_cpu_pct']:.0f}% redis {r['redis_cpu_pct']:.0f}% client {r['client_cpu_pct']:.0f}% "
        f"machine {r['machine_busy_pct']:.0f}% (others {r['other_cores']:.2f} cores)  "
        f"rss {r['server_rss_mb']:.0f} MB  threads {r['server_threads']}  "
        f"loop lag p99 {_ms(r['loop_lag']['p99'])} ms  errors {sum(r['errors'].values())} dropped {r['dropped']}",
        flush=True,
    )
    if r["errors"]:
        print(f"  errors: {r['errors']}", flush=True)


def markdown(rows: list[dict]) -> str:
    head = (
        "| customers | held | msg/s | send RTT p50 / p95 / p99 ms | agent send p50 / p99 | c→a p50 / p99 | "
        "a→c p50 / p99 | assign p50 / p99 (n) | assign in ramp p50 / p99 | server CPU | redis CPU | client CPU | "
        "machine busy (others) | server RSS MB | threads | errors / dropped / lost |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        s, ag, c2a, a2c, asg = r["send_rtt"], r["agent_send_rtt"], r["c2a"], r["a2c"], r["assign"]
        ramp = r["assign_ramp"]
        lost = r.get("lost_c2a", 0) + r.get("lost_a2c", 0)
        lines.append(
            f"| {r['customers']} | {r['conversations']} | {r['msgs_per_s']:.0f} | "
            f"{_ms(s['p50'])} / {_ms(s['p95'])} / {_ms(s['p99'])} | {_ms(ag['p50'])} / {_ms(ag['p99'])} | "
            f"{_ms(c2a['p50'])} / {_ms(c2a['p99'])} | {_ms(a2c['p50'])} / {_ms(a2c['p99'])} | "
            f"{_ms(asg['p50'])} / {_ms(asg['p99'])} ({asg['n']}) | {_ms(ramp['p50'])} / {_ms(ramp['p99'])} | "
            f"{r['server_cpu_pct']:.0f}% | {r['redis_cpu_pct']:.0f}% | "
            f"{r['client_cpu_pct']:.0f}% | {r['machine_busy_pct']:.0f}% ({r['other_cores']:.2f}) | "
            f"{r['server_rss_mb']:.0f} | "
            f"{r['server_threads']} | {sum(r['errors'].values())} / {r['dropped']} / {lost} |"
        )
    return "\n".join(lines)


async def login_agents(plan: Plan, rec: Recorder, count: int) -> list[Agent]:
    agents = [Agent(plan, rec, name, PASSWORD, i) for i, name in enumerate(agent_usernames(count))]
    gate = asyncio.Semaphore(4)  # each login checks a scrypt hash (~0.4 s of server CPU)

    async def one(agent: Agent) -> None:
        async with gate:
            await agent.start()

    await asyncio.gather(*(one(ag) for ag in agents))
    return agents


async def churn(customers: list[Customer], rate: float, seconds: float) -> None:
    """For ``seconds``: every 1/rate s a random customer in a running chat ends it and starts a new one."""
    end = now() + seconds
    while (left := end - now()) > 0:
        await asyncio.sleep(min(left, 1.0 / rate) if rate > 0 else left)
        candidates = [c for c in customers if c.ready and not c.churn]
        if rate > 0 and candidates and now() < end:
            random.choice(candidates).churn = True


async def bench(a, server: ServerProcess) -> dict:
    plan = Plan(url=server.url, interval=a.interval, think=a.think)
    rec = Recorder()
    rec.new_step()  # step 0 collects the set-up's errors, if any
    stop, close = asyncio.Event(), asyncio.Event()
    lag_task = asyncio.create_task(watch_loop_lag(rec, stop))
    t = now()
    agents = await login_agents(plan, rec, a.agents)
    print(f"{len(agents)} agents logged in and available in {now() - t:.1f}s", flush=True)
    customers: list[Customer] = []
    tasks: list[asyncio.Task] = []
    rows: list[dict] = []
    setup_errors = dict(rec.cur.errors)
    for level in a.steps:
        rec.new_step()
        t_ramp = now()
        first = len(customers)
        for idx in range(len(customers), level):
            c = Customer(plan, rec, idx, stop, close)
            customers.append(c)
            tasks.append(asyncio.create_task(c.run()))
            await asyncio.sleep(1.0 / a.ramp_rate)
        # Wait (bounded) until every new customer has its chat started, or has given up.
        deadline = now() + 120
        while now() < deadline and not all(c.ready or tasks[i].done() for i, c in enumerate(customers[first:], first)):
            await asyncio.sleep(0.2)
        ramp_s = now() - t_ramp
        await asyncio.sleep(a.settle)
        meter = Meter(server)
        rec.window = True
        await churn(customers, level / (60.0 * a.chat_minutes), a.window)
        rec.window = False
        reading = meter.read()
        held_now = sum(1 for c in customers if c.ready)
        row = summarise(a, rec, len(rec.buckets) - 1, level, held_now, reading, a.window)
        row["ramp_s"] = ramp_s
        rows.append(row)
        print(f"step {level} customers (ramp {ramp_s:.1f}s):", flush=True)
        print_row(row)
        if not server.alive():
            print("the server process died", flush=True)
            break
        p99 = row["send_rtt"]["p99"]
        if p99 is None or p99 > a.give_up_ms:
            print(f"stopping the ramp: send p99 {_ms(p99)} ms is past --give-up-ms {a.give_up_ms:.0f}", flush=True)
            break
    # Drain: customers stop writing; replies and deliveries still in flight get up to 30 s to land.
    stop.set()
    await asyncio.sleep(a.think[1] + 1.0)
    deadline = now() + 30.0
    while now() < deadline and any(sum(c.values()) for c in rec.undelivered()):
        await asyncio.sleep(0.5)
    rec.stopping = True
    close.set()
    lost_c2a, lost_a2c = rec.undelivered()
    for i, row in enumerate(rows, 1):
        row["lost_c2a"], row["lost_a2c"] = lost_c2a.get(i, 0), lost_a2c.get(i, 0)
    unassigned = rec.unassigned()
    closers = [ag.close() for ag in agents]
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    await asyncio.wait_for(asyncio.gather(*closers, return_exceptions=True), 30)
    lag_task.cancel()
    return {"rows": rows, "setup_errors": setup_errors, "unassigned_at_end": unassigned}


def main(argv=None) -> int:
    a = parse_args(argv)
    capacity = math.ceil(max(a.steps) / a.agents)
    tmp = Path(tempfile.mkdtemp(prefix="kefu-chat-load-"))
    server = ServerProcess(
        tmp, port=free_port(), chat_capacity=capacity, agents=a.agents, password=PASSWORD, async_mode=a.async_mode
    )
    info = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "command": " ".join([".venv/bin/python", "bench/chat_load.py", *(argv if argv is not None else sys.argv[1:])]),
        "chat_capacity": capacity,
        "args": {k: v for k, v in vars(a).items() if k != "json_out"},
    }
    print(
        f"chat_load: {a.async_mode} server, steps {a.steps}, {a.agents} agents x {capacity} chats, "
        f"window {a.window:.0f}s, "
        f"messages every {a.interval[0]:g}-{a.interval[1]:g}s; {info['nproc']} cores, Python {info['python']}",
        flush=True,
    )
    result: dict = {}
    started = time.monotonic()
    try:
        t = time.monotonic()
        server.setup()
        server.start()
        print(f"server up on {server.url} (set-up + start {time.monotonic() - t:.1f}s)", flush=True)
        result = asyncio.run(asyncio.wait_for(bench(a, server), a.max_seconds))
    except TimeoutError:
        print(f"stopped after --max-seconds {a.max_seconds:.0f}", flush=True)
    finally:
        problems = server.log_problems()
        server.stop()
        if problems:  # keep the whole log to read the tracebacks (bench/results/ is git-ignored)
            keep = Path(__file__).resolve().parent / "results" / "chat_load-server.log"
            keep.parent.mkdir(exist_ok=True)
            shutil.copy(server.log_path, keep)
            print(f"server log kept at {keep}", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
    rows = result.get("rows", [])
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
    out = {
        **info,
        **result,
        "largest_held": max((r["customers"] for r in held), default=0),
        "server_log_problems": problems[:50],
        "server_log_problem_count": len(problems),
        "wall_seconds": time.monotonic() - started,
    }
    print(
        f"\nlargest step held with customer send p99 < {a.target_ms:.0f} ms and nothing lost: "
        f"{out['largest_held']} conversations",
        flush=True,
    )
    if problems:
        print(f"server log: {len(problems)} error lines, first: {problems[0]}", flush=True)
    print("\n" + markdown(rows), flush=True)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(out, indent=2, default=str))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
