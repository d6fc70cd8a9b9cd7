"""Recordings built in tests from the shipped packs (no database): events from short tuples."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from grading.recording import Event, Recording, TicketState
from scenarios.loader import load_pack

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"


@lru_cache(maxsize=2)
def pack(lang: str = "en"):
    return load_pack(PACKS / lang)


def scenario(sid: str, lang: str = "en"):
    return next(s for s in pack(lang).scenarios if s.id == sid)


def rubric(lang: str = "en"):
    return next(r for r in pack(lang).rubrics if r.channel == "chat")


def ev(type_, actor="system", text=None, data=None, ts=0.0):
    return (type_, actor, text, data or {}, ts)


def msg(actor, text, ts):
    return ev("message", actor, text, ts=ts)


def build(events, sid=None, lang="en", level="L4", tickets=(), channel="chat", agent_id=7) -> Recording:
    """A Recording of ``events`` (tuples from ``ev``/``msg``): ids are 100 + seq, seq counts from 1."""
    built = tuple(
        Event(id=100 + i, seq=i, ts=float(ts), type=t, actor=a, text=x, data=d)
        for i, (t, a, x, d, ts) in enumerate(events, start=1)
    )
    return Recording(
        contact_id=1,
        channel=channel,
        lang=lang,
        events=built,
        pack=pack(lang).info,
        scenario=scenario(sid, lang) if sid else None,
        level=level,
        scenario_id=sid,
        agent_id=agent_id,
        simulated=True,
        tickets=tuple(tickets),
    )


def ticket(**kw) -> TicketState:
    base = {"id": 1, "number": "T1", "category": None, "priority": "normal", "status": "new", "risk_level": "none"}
    base.update(kw)
    return TicketState(**base)


def assigned(ts=0.0):
    return ev("assignment", data={"agent_id": 7}, ts=ts)
