"""Figures for bench/chat_load.py: the client processes' raw logs matched across processes (one system-wide
monotonic clock, see bench/_chat_clients.py) and cut into steps, percentiles, the printed row and the table.

A round trip or a delivery counts for a step when its message was emitted inside that step's measured window;
an assignment counts for the step in which its chat started, as ``assign`` when it started inside the window
and as ``assign_ramp`` when the step's ramp started it; errors, drops and churned chats count for the step
whose span (its ramp to the next step's ramp) they fall in.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from _chat_clients import Log

LATENCIES = (
    "send_rtt",
    "agent_send_rtt",
    "c2a",
    "a2c",
    "assign",
    "assign_ramp",
    "start_rtt",
    "typing_rtt",
    "figures_rtt",
    "loop_lag",
)


@dataclass
class StepTimes:
    level: int
    ramp_start: float
    window_start: float = 0.0
    window_end: float = 0.0
    end: float = math.inf  # the next step's ramp start


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile, in milliseconds."""
    if not values:
        return None
    s = sorted(values)
    return 1000.0 * s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def _first_seen(pairs) -> dict:
    seen: dict = {}
    for key, t in pairs:
        if key not in seen or t < seen[key]:
            seen[key] = t
    return seen


def merge(logs: list[Log], steps: list[StepTimes]) -> tuple[list[dict], dict, int]:
    """Per step, the raw figures (lists of seconds and counts); the set-up's errors; chats never assigned."""
    sends = [s for log in logs for s in log.sends]
    replies = [r for log in logs for r in log.replies]
    starts = [s for log in logs for s in log.starts]
    typing = [t for log in logs for t in log.typing]
    figures = [f for log in logs for f in log.figures]
    lag = [x for log in logs for x in log.lag]
    errors = [e for log in logs for e in log.errors]
    drops = [d for log in logs for d in log.drops]
    churned = [c for log in logs for c in log.churned]
    refused = [r for log in logs for r in getattr(log, "refused", [])]
    at_agent = _first_seen(p for log in logs for p in log.reached_agent)
    at_customer = _first_seen(p for log in logs for p in log.reached_customer)
    assigned = _first_seen(p for log in logs for p in log.assigned)
    out = []
    for st in steps:

        def in_window(t: float, st=st) -> bool:
            return st.window_start <= t < st.window_end

        def in_span(t: float, st=st) -> bool:
            return st.ramp_start <= t < st.end

        win_sends = [s for s in sends if in_window(s[1])]
        win_replies = [r for r in replies if in_window(r[1])]
        out.append(
            {
                "customer_sends": len(win_sends),
                "agent_replies": len(win_replies),
                "send_rtt": [a - t for _, t, a in win_sends if a is not None],
                "agent_send_rtt": [a - t for _, t, a in win_replies if a is not None],
                "c2a": [at_agent[c] - t for c, t, _ in win_sends if c in at_agent],
                "a2c": [at_customer[m] - t for m, t, _ in win_replies if m in at_customer],
                # acked (so recorded) but never seen by the other side after the final drain
                "lost_c2a": sum(1 for c, _, a in win_sends if a is not None and c not in at_agent),
                "lost_a2c": sum(1 for m, _, a in win_replies if a is not None and m not in at_customer),
                "assign": [assigned[c] - t for c, t, _ in starts if in_window(t) and c in assigned],
                "assign_ramp": [
                    assigned[c] - t for c, t, _ in starts if st.ramp_start <= t < st.window_start and c in assigned
                ],
                "start_rtt": [a - t for _, t, a in starts if in_span(t)],
                "typing_events": sum(1 for t, _ in typing if in_window(t)),
                "typing_rtt": [a - t for t, a in typing if in_window(t) and a is not None],
                "figures_polls": sum(1 for t, _ in figures if in_window(t)),
                "figures_rtt": [a - t for t, a in figures if in_window(t) and a is not None],
                "loop_lag": [x for t, x in lag if in_window(t)],
                "errors": Counter(k for t, k in errors if in_span(t)),
                "dropped": sum(1 for t in drops if in_span(t)),
                "chats_churned": sum(1 for t in churned if in_span(t)),
                # starts refused at the server's door (queue_full): not errors, the customer was told
                "refused": Counter(reason for t, reason in refused if in_span(t)),
            }
        )
    first = steps[0].ramp_start if steps else math.inf
    setup_errors = dict(Counter(k for t, k in errors if t < first))
    unassigned = sum(1 for c, _, _ in starts if c not in assigned)
    return out, setup_errors, unassigned


def row(level: int, held_now: int, agents: int, raw: dict, meter: dict, window: float) -> dict:
    """One step's printed and stored figures: percentiles of the raw lists, rates, CPU per message."""
    msgs = raw["customer_sends"] + raw["agent_replies"]
    r = {
        "customers": level,
        "conversations": held_now,
        "agents": agents,
        "msgs_per_s": msgs / window,
        "typing_per_s": raw["typing_events"] / window,
        "figures_per_s": raw["figures_polls"] / window,
        **{k: raw[k] for k in ("customer_sends", "agent_replies", "chats_churned", "dropped", "lost_c2a")},
        "lost_a2c": raw["lost_a2c"],
        "errors": dict(raw["errors"]),
        "refused": dict(raw.get("refused") or {}),
    }
    for name in LATENCIES:
        values = raw[name]
        r[name] = {"n": len(values), **{f"p{p}": pct(values, p) for p in (50, 95, 99)}, "max": pct(values, 100)}
    r.update(meter)
    # Server CPU-ms per chat message (starts, leaves, wrap-ups, typing and polls included in the CPU): the figure
    # that survives a loaded machine.
    r["server_cpu_ms_per_msg"] = 10.0 * meter["server_cpu_pct"] / r["msgs_per_s"] if msgs else None
    # ... and per event a client sent (messages, typing changes, desk figure polls): the realistic pace's figure
    events = r["msgs_per_s"] + r["typing_per_s"] + r["figures_per_s"]
    r["server_cpu_ms_per_event"] = 10.0 * meter["server_cpu_pct"] / events if events else None
    return r


def _ms(v) -> str:
    return "-" if v is None else (f"{v:.0f}" if v >= 10 else f"{v:.1f}")


def print_row(r: dict) -> None:
    s, c2a, a2c, asg = r["send_rtt"], r["c2a"], r["a2c"], r["assign"]
    extra = ""
    if r["typing_rtt"]["n"] or r["figures_rtt"]["n"]:
        extra = (
            f"  typing {r['typing_per_s']:.1f}/s p99 {_ms(r['typing_rtt']['p99'])} ms  "
            f"figures {r['figures_per_s']:.1f}/s p99 {_ms(r['figures_rtt']['p99'])} ms"
        )
    print(
        f"  {r['conversations']:>5} conversations  {r['msgs_per_s']:6.1f} msg/s  send RTT p50/p95/p99 "
        f"{_ms(s['p50'])}/{_ms(s['p95'])}/{_ms(s['p99'])} ms (n={s['n']})  c->a p99 {_ms(c2a['p99'])}  "
        f"a->c p99 {_ms(a2c['p99'])}  assign p50/p99 {_ms(asg['p50'])}/{_ms(asg['p99'])} ms (n={asg['n']}), "
        f"in the ramp {_ms(r['assign_ramp']['p50'])}/{_ms(r['assign_ramp']['p99'])} ms{extra}\n"
        f"  server {r['server_cpu_pct']:.0f}% ({_ms(r['server_cpu_ms_per_msg'])} CPU-ms/msg, "
        f"{_ms(r['server_cpu_ms_per_event'])} per event) "
        f"redis {r['redis_cpu_pct']:.0f}% clients {r['client_cpu_pct']:.0f}% "
        f"(busiest process {r['client_cpu_max_pct']:.0f}%) machine {r['machine_busy_pct']:.0f}% "
        f"(others {r['other_cores']:.2f} cores, load {r['load_avg']:.2f})  "
        f"rss {r['server_rss_mb']:.0f} MB  threads {r['server_threads']}  "
        f"loop lag p99 {_ms(r['loop_lag']['p99'])} ms  errors {sum(r['errors'].values())} dropped {r['dropped']}"
        + (f"  refused at the door {r['refused']}" if r.get("refused") else ""),
        flush=True,
    )
    if r["errors"]:
        print(f"  errors: {r['errors']}", flush=True)


def markdown(rows: list[dict]) -> str:
    head = (
        "| customers | held | msg/s | send RTT p50 / p95 / p99 ms | agent send p50 / p99 | c→a p50 / p99 | "
        "a→c p50 / p99 | assign p50 / p99 (n) | assign in ramp p50 / p99 | typing /s, p99 | server CPU | "
        "CPU-ms per msg / event | redis CPU | clients CPU (busiest) | machine busy (others) | server RSS MB | "
        "errors / dropped / lost | refused |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        s, ag, c2a, a2c, asg = r["send_rtt"], r["agent_send_rtt"], r["c2a"], r["a2c"], r["assign"]
        ramp, ty = r["assign_ramp"], r["typing_rtt"]
        lost = r.get("lost_c2a", 0) + r.get("lost_a2c", 0)
        lines.append(
            f"| {r['customers']} | {r['conversations']} | {r['msgs_per_s']:.0f} | "
            f"{_ms(s['p50'])} / {_ms(s['p95'])} / {_ms(s['p99'])} | {_ms(ag['p50'])} / {_ms(ag['p99'])} | "
            f"{_ms(c2a['p50'])} / {_ms(c2a['p99'])} | {_ms(a2c['p50'])} / {_ms(a2c['p99'])} | "
            f"{_ms(asg['p50'])} / {_ms(asg['p99'])} ({asg['n']}) | {_ms(ramp['p50'])} / {_ms(ramp['p99'])} | "
            f"{r['typing_per_s']:.0f}, {_ms(ty['p99'])} | {r['server_cpu_pct']:.0f}% | "
            f"{_ms(r['server_cpu_ms_per_msg'])} / {_ms(r['server_cpu_ms_per_event'])} | {r['redis_cpu_pct']:.0f}% | "
            f"{r['client_cpu_pct']:.0f}% ({r['client_cpu_max_pct']:.0f}%) | "
            f"{r['machine_busy_pct']:.0f}% ({r['other_cores']:.2f}) | {r['server_rss_mb']:.0f} | "
            f"{sum(r['errors'].values())} / {r['dropped']} / {lost} | {sum((r.get('refused') or {}).values())} |"
        )
    return "\n".join(lines)
