"""Operations work: a staffing plan for a forecast day, whose service level is computed with Erlang C
(L3/5.2.2), and a callback plan that must keep the promised times, VIPs first (L3/5.2.1, 2.1.1, 2.4.1)."""

from __future__ import annotations

import math
import random

from pydantic import Field

from .. import datagen
from . import BaseTaskKind, CheckResult, StrictParams, TaskError


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call waits (Erlang C) with ``agents`` agents and ``traffic`` Erlangs offered."""
    if agents <= traffic:
        return 1.0
    term, total = 1.0, 1.0  # iterative A^k/k! keeps large numbers out
    for k in range(1, agents):
        term *= traffic / k
        total += term
    term *= traffic / agents
    top = term * agents / (agents - traffic)
    return top / (total + top)


def service_level(agents: int, calls: int, aht: float, interval_s: float, answer_s: float) -> float:
    """Share of calls answered within ``answer_s`` seconds: 1 - P(wait) * exp(-(N - A) * T / AHT)."""
    if calls <= 0:
        return 1.0
    traffic = calls * aht / interval_s
    if agents <= traffic:
        return 0.0
    return 1.0 - erlang_c(agents, traffic) * math.exp(-(agents - traffic) * answer_s / aht)


class StaffingParams(StrictParams):
    intervals: int = Field(16, ge=4, le=48)  # half hours from 09:00
    peak_calls: int = Field(120, ge=10, le=2000)
    aht_seconds: int = Field(240, ge=30, le=3600)
    target_sl: float = Field(0.8, gt=0, lt=1)
    target_seconds: int = Field(20, ge=1, le=600)
    shrinkage: float = Field(0.2, ge=0, lt=0.6)  # breaks, meetings: the share of scheduled agents off the phones
    slack: float = Field(0.15, ge=0, le=1)  # how far above the least staff hours a plan may go


class NoParams(StrictParams):
    pass


class StaffingPlan(BaseTaskKind):
    """Schedule agents per half hour for the forecast; the plan's service level per interval is computed
    (agents on the phones = scheduled x (1 - shrinkage), rounded down) and compared with the target."""

    key = "staffing_plan"
    Params = StaffingParams
    checks = {"service_level": NoParams, "efficiency": NoParams}

    def _present(self, params, scheduled: int) -> int:
        return math.floor(scheduled * (1 - params.shrinkage) + 1e-9)

    def _sl(self, params, scheduled: int, calls: int) -> float:
        return service_level(self._present(params, scheduled), calls, params.aht_seconds, 1800, params.target_seconds)

    def generate(self, params, seed, lang):
        rng = random.Random(f"staffing:{seed}")
        rows, need = [], []
        for i in range(params.intervals):
            x = i / max(1, params.intervals - 1)
            shape = 0.45 + 0.55 * max(math.exp(-((x - 0.25) ** 2) / 0.02), 0.85 * math.exp(-((x - 0.7) ** 2) / 0.03))
            calls = max(1, round(params.peak_calls * shape * rng.uniform(0.9, 1.1)))
            h, m = divmod(9 * 60 + 30 * i, 60)
            rows.append({"id": f"{h:02d}:{m:02d}", "forecast_calls": calls})
            n = 1
            while self._sl(params, n, calls) < params.target_sl:
                n += 1
            need.append(n)
        return {"rows": rows, "aht_seconds": params.aht_seconds}, {"least": need}

    def clean_submission(self, params, data, body):
        plan = body.get("agents")
        if not isinstance(plan, list) or len(plan) != len(data["rows"]):
            raise TaskError(f"send agents as a list of {len(data['rows'])} whole numbers, one per interval")
        try:
            agents = [int(a) if a not in (None, "") else 0 for a in plan]
        except (TypeError, ValueError) as e:
            raise TaskError("agents per interval are whole numbers") from e
        if any(not 0 <= a <= 2000 for a in agents):
            raise TaskError("agents per interval are from 0 to 2000")
        return {"agents": agents, "note": str(body.get("note") or "")[:4000]}

    def result_view(self, params, data, truth, sub):
        if not sub:
            return {}
        sl = [
            round(self._sl(params, a, r["forecast_calls"]), 4) for a, r in zip(sub["agents"], data["rows"], strict=True)
        ]
        return {"service_levels": sl, "least": truth["least"]}

    def run_check(self, check, cparams, params, data, truth, sub, files):
        agents = sub.get("agents") or [0] * len(data["rows"])
        if check == "service_level":
            ev, met = [], 0
            for a, r in zip(agents, data["rows"], strict=True):
                sl = self._sl(params, a, r["forecast_calls"])
                met += sl >= params.target_sl
                if sl < params.target_sl:
                    ev.append({"quote": str(a), "note": f"{r['id']}: service level {sl:.0%}"})
            n = len(agents)
            return CheckResult(
                met / n, f"{met} of {n} intervals reach {params.target_sl:.0%} in {params.target_seconds}s", ev
            )
        least, planned = sum(truth["least"]), sum(agents)
        limit = least * (1 + params.slack)
        frac = 0.0 if planned == 0 else min(1.0, limit / planned)
        return CheckResult(frac, f"{planned} agent half-hours planned; the least that meets the target is {least}")


class CallbackParams(StrictParams):
    rows: int = Field(10, ge=3, le=40)
    start: str = "09:00"


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def most_on_time(jobs: list[tuple[int, int]]) -> int:
    """Moore-Hodgson: the most jobs (duration, latest completion) one agent can finish on time, from t = 0."""
    import heapq

    t, heap = 0, []
    for dur, due in sorted(jobs, key=lambda j: j[1]):
        heapq.heappush(heap, -dur)
        t += dur
        if t > due:
            t += heapq.heappop(heap)  # drop the longest so far
    return len(heap)


class CallbackPlan(BaseTaskKind):
    """Order the day's callbacks for one agent: a callback is on time when it starts by the promised time.
    Graded against the most that any order could keep (Moore-Hodgson), and all VIPs kept."""

    key = "callback_plan"
    Params = CallbackParams
    checks = {"on_time": NoParams, "vip_on_time": NoParams}

    def generate(self, params, seed, lang):
        rows = datagen.dataset("callbacks", seed, params.rows, lang)
        start = _minutes(params.start)
        jobs = [(r["minutes"], _minutes(r["promised_by"]) - start + r["minutes"]) for r in rows]
        vip = [j for j, r in zip(jobs, rows, strict=True) if r["vip"]]
        return {"rows": rows, "start": params.start}, {"best": most_on_time(jobs), "best_vip": most_on_time(vip)}

    def clean_submission(self, params, data, body):
        order = body.get("order")
        ids = [r["id"] for r in data["rows"]]
        if not isinstance(order, list) or sorted(map(str, order)) != sorted(ids):
            raise TaskError("the order must list every callback exactly once")
        return {"order": [str(o) for o in order], "notes": str(body.get("notes") or "")[:8000]}

    def timeline(self, params, data, order: list[str]) -> list[dict]:
        by_id = {r["id"]: r for r in data["rows"]}
        t, out = _minutes(params.start), []
        for oid in order:
            r = by_id[oid]
            ok = t <= _minutes(r["promised_by"])
            h, m = divmod(t, 60)
            out.append({"id": oid, "starts": f"{h:02d}:{m:02d}", "on_time": ok, "vip": r["vip"]})
            t += r["minutes"]
        return out

    def result_view(self, params, data, truth, sub):
        return {"timeline": self.timeline(params, data, sub["order"])} if sub and sub.get("order") else {}

    def run_check(self, check, cparams, params, data, truth, sub, files):
        order = sub.get("order") or []
        if not order:
            return CheckResult(0.0, "no order given")
        tl = self.timeline(params, data, order)
        late = [{"quote": s["starts"], "note": f"{s['id']} late"} for s in tl if not s["on_time"]]
        if check == "on_time":
            met = sum(s["on_time"] for s in tl)
            return CheckResult(min(1.0, met / truth["best"]) if truth["best"] else 1.0,
                               f"{met} on time; the best order keeps {truth['best']}", late)  # fmt: skip
        vips = [s for s in tl if s["vip"]]
        if not vips:
            return CheckResult(0.0, "no VIP callbacks today", na=True)
        met = sum(s["on_time"] for s in vips)
        frac = 1.0 if met >= truth["best_vip"] else 0.0
        return CheckResult(frac, f"{met} of {len(vips)} VIP callbacks on time (best possible {truth['best_vip']})",
                           [e for e in late if any(v["id"] in e["note"] for v in vips)])  # fmt: skip
