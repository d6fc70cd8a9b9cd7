"""Call monitoring legs for the lead's console: listen, whisper, barge — as routes of a CallSession's mixer.

A lead joins a call as an extra leg named ``lead:<user id>`` (answered by the worker's ``offer`` op like any
leg), then the ``monitor`` op sets its mode and the worker re-routes the mixer:

=========  ===============================  ==================================
mode       the lead hears                   who hears the lead
=========  ===============================  ==================================
listen     agent + customer                 nobody (silent monitoring)
whisper    agent + customer                 the agent only (coaching)
barge      agent + customer                 agent and customer (three-way)
=========  ===============================  ==================================

The agent always hears the customer and the customer the agent, as the call's own routes say; monitoring only
adds lead legs to them, so several leads may monitor one call in different modes. ``stop`` takes the lead's
leg out (its peer closed) and restores the routes without it. Every lead leg is in the call's recording like
any other leg, so a whisper can be reviewed.

Lives on the media loop only (an op of ``media.worker.MediaWorker``, added by ``install``).
"""

from __future__ import annotations

from .worker import MediaRequestError, MediaWorker

MODES = ("listen", "whisper", "barge")
LEAD_PREFIX = "lead:"


def monitor_routes(monitors: dict[str, str], base: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """The mixer routes for a call with these monitoring legs (``{leg: mode}``) on top of the call's own
    routes ``base`` (default: agent and customer hear each other). Pure: the unit tests read it as a table."""
    base = base or {"agent": ["customer"], "customer": ["agent"]}
    agent = [s for s in base.get("agent", ["customer"]) if not s.startswith(LEAD_PREFIX)]
    customer = [s for s in base.get("customer", ["agent"]) if not s.startswith(LEAD_PREFIX)]
    routes = {
        "agent": agent + [leg for leg, mode in monitors.items() if mode in ("whisper", "barge")],
        "customer": customer + [leg for leg, mode in monitors.items() if mode == "barge"],
    }
    for leg in monitors:
        routes[leg] = ["agent", "customer"]
    return routes


def _monitors(worker: MediaWorker, call_id: str) -> dict[str, str]:
    return worker.meta.setdefault(call_id, {}).setdefault("monitors", {})


def _apply(worker: MediaWorker, session) -> dict[str, list[str]]:
    monitors = _monitors(worker, session.call_id)
    base = {"agent": session.route_of("agent") or ["customer"], "customer": session.route_of("customer") or ["agent"]}
    routes = monitor_routes(monitors, base)
    for dest, sources in routes.items():
        session.set_route(dest, sources)
    return routes


async def op_monitor(worker: MediaWorker, req: dict) -> dict:
    """``{"op": "monitor", "call_id", "leg": "lead:<id>", "mode": listen|whisper|barge|stop}``.

    The leg must have joined with an ``offer`` first (except for ``stop``, which is safe to repeat). Replies
    with the routes now in force."""
    session = worker.call(req)
    leg, mode = str(req.get("leg") or ""), str(req.get("mode") or "")
    if not leg.startswith(LEAD_PREFIX) or not leg[len(LEAD_PREFIX) :].isdigit():
        raise MediaRequestError(f"a monitoring leg is named lead:<id>, not {leg!r}")
    monitors = _monitors(worker, session.call_id)
    if mode == "stop":
        monitors.pop(leg, None)
        session.remove_leg(leg)
        await worker.peers.close(session.call_id, leg)
        routes = _apply(worker, session)
        return {"leg": leg, "mode": "stop", "routes": routes}
    if mode not in MODES:
        raise MediaRequestError("monitoring mode must be listen, whisper, barge or stop")
    if leg not in session.legs:
        raise MediaRequestError(f"{leg} has not joined call {session.call_id} (send its offer first)")
    monitors[leg] = mode
    routes = _apply(worker, session)
    return {"leg": leg, "mode": mode, "routes": routes}


def install(worker: MediaWorker) -> MediaWorker:
    """Give a media worker the ``monitor`` op (the voice channel's worker factory calls this)."""
    worker.register_op("monitor", op_monitor)
    return worker
