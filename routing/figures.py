"""Queue figures: waiting, longest wait, offered, answered, abandoned, service level, ASA, abandon rate.

The counters live in Redis (``<prefix>acd:fig:<queue>``), so they survive a web restart; they count from the
first contact a queue ever saw (or since live state was last wiped).
"""

from __future__ import annotations

import time

from flask import current_app

from clock import clock

SHARED_KEY = "kefu_queue_figures_shared"


def queue_figures(queues: list[str] | None = None) -> dict[str, dict]:
    """Figures per queue (default: every queue the ACD has seen), computed as follows:

    - ``waiting``: contacts in the queue now; ``longest_wait``: seconds the oldest of them has waited;
    - ``offered``: contacts that entered the queue (arrivals and transfers in; ``transferred_in`` counts the
      latter), ``answered``, ``abandoned``;
    - ``service_level`` = answered within T / (answered + abandoned after T), T = SERVICE_LEVEL_SECONDS (20 s).
      Customers who gave up within T are left out of both sides (the usual "short abandons excluded" formula);
    - ``asa`` (average speed of answer) = total wait of answered contacts / answered, in seconds;
    - ``abandon_rate`` = abandoned / (answered + abandoned): the share of customers who left before an agent
      answered, among those whose wait has ended.

    Ratios are None until there is something to divide by.
    """
    acd = current_app.extensions["kefu_acd"]
    names = sorted(set(queues)) if queues is not None else acd.queue_names()
    threshold = current_app.config["SERVICE_LEVEL_SECONDS"]
    out = {}
    for q, raw in acd.figures(names, clock.timestamp()).items():
        answered = int(raw.get("answered", 0))
        abandoned = int(raw.get("abandoned", 0))
        sl_base = answered + int(raw.get("abandoned_after_sl", 0))
        out[q] = {
            "queue": q,
            "waiting": int(raw["waiting"]),
            "longest_wait": round(raw["longest_wait"], 3),
            "offered": int(raw.get("offered", 0)),
            "transferred_in": int(raw.get("transferred_in", 0)),
            "answered": answered,
            "answered_in_sl": int(raw.get("answered_in_sl", 0)),
            "abandoned": abandoned,
            "abandoned_after_sl": int(raw.get("abandoned_after_sl", 0)),
            "service_level_seconds": threshold,
            "service_level": round(raw.get("answered_in_sl", 0) / sl_base, 4) if sl_base else None,
            "asa": round(raw.get("answer_wait_sum", 0.0) / answered, 3) if answered else None,
            "abandon_rate": round(abandoned / (answered + abandoned), 4) if answered + abandoned else None,
        }
    return out


def shared_queue_figures(max_age: float = 1.0) -> dict[str, dict]:
    """Every queue's figures as ``queue_figures()`` computed them at most ``max_age`` seconds ago in this process.
    Each open desk polls the figures every 5 s (static/js/desk.js): with hundreds of desks that was hundreds of
    identical reads a second; now one per ``max_age`` serves them all."""
    cached = current_app.extensions.get(SHARED_KEY)
    now = time.monotonic()
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    figures = queue_figures()
    current_app.extensions[SHARED_KEY] = (now, figures)
    return figures
