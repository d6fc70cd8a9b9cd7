"""Chat load against a centre of N web processes on PostgreSQL + Redis (behind HAProxy when N > 1): what 1 and 2
web processes hold on this machine, and what each message costs the shared servers.

Run from the repo root:  .venv/bin/python bench/chat_cluster.py --web 2 [chat_load's options: --steps, --agents,
                             --profile, --window, --json ...] [--pg postgresql://postgres@127.0.0.1:5432]
                             [--redis-url redis://...]

The load, its pace, its steps, what is measured and the rule for "held" are bench/chat_load.py's (its ``run``
drives the clients, unchanged): customer send p99 < --target-ms with no error, drop or loss. The server is
bench/_cluster.py's: N gevent ``python app.py`` processes started as cluster/run.sh starts them (one secret key,
Socket.IO's message queue on the Redis when N > 1, sticky sessions at HAProxy), a database of the run's own on the
PostgreSQL server, and a private redis-server. Each step's row adds, per chat message, the CPU of the web processes
(each and summed), of Redis, of the PostgreSQL backends serving the run's database and of HAProxy: the figures a
projection to N hosts needs (bench/README.md, chat_cluster).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chat_load  # noqa: E402
from _chat_clients import Plan, now  # noqa: E402
from _chat_report import print_row  # noqa: E402
from _chat_worker import ClientPool  # noqa: E402
from _cluster import ClusterServer, window_costs  # noqa: E402
from _server import free_port  # noqa: E402


def _ms(v) -> str:
    return "-" if v is None else (f"{v:.0f}" if v >= 10 else f"{v:.1f}")


def _not_logs(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n.endswith((".db", ".rdb")) or os.path.isdir(os.path.join(folder, n))]


def markdown(rows: list[dict]) -> str:
    head = (
        "| customers | held | msg/s | send p50 / p95 / p99 ms | agent send p99 | assign p50 / p99 | web CPU (each) | "
        "CPU-ms per msg: web / redis / postgres / haproxy | machine busy (others, load) | errors / dropped / lost | "
        "refused |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        s, c = r["send_rtt"], r["cluster"]
        each = " + ".join(f"{100 * x:.0f}%" for x in c["web"])
        per = " / ".join(_ms(c[k]) for k in ("web_ms", "redis_ms", "postgres_ms", "haproxy_ms"))
        lost = r.get("lost_c2a", 0) + r.get("lost_a2c", 0)
        lines.append(
            f"| {r['customers']} | {r['conversations']} | {r['msgs_per_s']:.0f} | {_ms(s['p50'])} / {_ms(s['p95'])} / "
            f"{_ms(s['p99'])} | {_ms(r['agent_send_rtt']['p99'])} | {_ms(r['assign']['p50'])} / "
            f"{_ms(r['assign']['p99'])} | {r['server_cpu_pct']:.0f}% ({each}) | {per} | "
            f"{r['machine_busy_pct']:.0f}% ({r['other_cores']:.2f}, {r['load_avg']:.1f}) | "
            f"{sum(r['errors'].values())} / {r['dropped']} / {lost} | {sum((r.get('refused') or {}).values())} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    own = argparse.ArgumentParser(description=__doc__, add_help=False)
    own.add_argument("--web", type=int, default=2, help="web processes (default 2; HAProxy in front when > 1)")
    own.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="the PostgreSQL server")
    own.add_argument("--redis-url", default=None, help="a Redis server to use (default: a private redis-server)")
    mine, rest = own.parse_known_args(argv)
    a = chat_load.parse_args(rest)
    capacity = math.ceil(max(a.steps) / a.agents)
    tmp = Path(tempfile.mkdtemp(prefix="kefu-chat-cluster-"))
    server = ClusterServer(
        tmp,
        web=mine.web,
        port=free_port(),
        chat_capacity=capacity,
        agents=a.agents,
        password=chat_load.PASSWORD,
        pg=mine.pg,
        redis_url=mine.redis_url,
    )
    print(
        f"chat_cluster ({a.profile}): {mine.web} gevent web process(es){' behind HAProxy' if server.proxy else ''} "
        f"on PostgreSQL + Redis, steps {a.steps}, {a.agents} agents x {capacity} chats, window {a.window:.0f}s; "
        f"{a.client_procs} client processes; {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    plan = Plan.from_args(server.url, a)
    result: dict = {}
    pool = None
    started = time.monotonic()
    try:
        t = time.monotonic()
        server.setup()
        server.start()
        print(f"cluster up on {server.url} (set-up + start {time.monotonic() - t:.1f}s)", flush=True)
        pool = ClientPool(a.client_procs, plan)
        result = chat_load.run(a, server, pool, now() + a.max_seconds)
    except (TimeoutError, RuntimeError) as e:
        print(f"stopped: {e}", flush=True)
    finally:
        if pool is not None:
            pool.terminate()
        problems = server.log_problems()
        server.stop()
        if problems:
            keep = Path(__file__).resolve().parent / "results" / "chat_cluster-logs"
            shutil.rmtree(keep, ignore_errors=True)
            # the logs (web-N.log included: they hold the tracebacks), not the databases or the processes' folders
            shutil.copytree(tmp, keep, ignore=_not_logs)
            print(f"{len(problems)} problem lines in the web logs; logs kept in {keep}", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
    rows = result.get("rows", [])
    for r, c in zip(rows, window_costs(server.samples, len(rows)), strict=False):
        msgs = r["msgs_per_s"] or None
        c.update({f"{k}_ms": (1000.0 * c[k] / msgs if msgs else None) for k in ("redis", "postgres", "haproxy")})
        c["web_ms"] = 1000.0 * sum(c["web"]) / msgs if msgs else None
        # chat_load's "others" is the machine less the web processes, Redis and the clients: PostgreSQL's backends
        # and HAProxy are this run's too
        r["other_cores"] = max(0.0, r["other_cores"] - c["postgres"] - c["haproxy"])
        r["cluster"] = c
    print(f"\nfinished in {time.monotonic() - started:.0f}s", flush=True)
    for r in rows:
        print_row(r)
    if rows:
        print("\n" + markdown([r for r in rows if "cluster" in r]), flush=True)
    if problems:
        print("web log problems:\n  " + "\n  ".join(problems[:20]), flush=True)
    if a.json_out:
        out = {"web": mine.web, "proxy": server.proxy, "rows": rows, "log_problems": problems[:50], **result}
        out["rows"] = rows
        Path(a.json_out).write_text(json.dumps(out, indent=1, default=str))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
