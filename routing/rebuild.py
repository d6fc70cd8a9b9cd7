"""The ACD's live state rebuilt from the database after Redis lost it (flushed, or restarted from an older
snapshot), without restarting any process. Run by one process at a time (routing/liveness.py holds the lock):

- waiting queues: every ``queued`` contact back in its queue, in its original order (``rebuild_live_state``),
  so a customer who was waiting before the loss is still served before one who arrived after it;
- agent states: each agent's last recorded state (``AgentStateChange``) with the contacts it holds as seats; an
  agent in ACW gets the rest of its after-call work. Agents Redis still knows keep their live state, unless Redis
  came back from an older snapshot (``replace``): then the database's record wins;
- desk presence: cleared; every live process re-announces its own desk sockets, and after that an available
  agent with no desk anywhere is set away (``presence.audit_presence``).

Queue figures (answered, abandoned, service level) are counters of the day kept only in Redis: after a flush
they start again from zero.

What else Redis held, and how it comes back (issue 18; the rebuild itself is only the ACD's part):

- which process drives a simulated customer, group room's audience, livestream audience or exercise (the owner
  records ``sim:*``, with a chat or email customer's seed, exercise and starter): put back by each live owner from
  its memory (the ``reannounce`` hooks). What no live process re-announces (a customer or exercise handed to a
  simulator worker whose ``adopt`` message went with the flush; the work of a process that died before
  re-announcing) is adopted by the simulator's ``recover`` once the state is settled (simulator/engine.py): a chat
  customer with the seed recorded in the database at its start (``simulated_customers``, simulator/seeds.py), an
  email customer with the one recorded when its contact opened, so one that had already spoken goes on as itself;
  one with no recorded seed (started before that table) only if it had said nothing yet, with a seed derived from
  its contact. Lost for good: the arrivals an exercise handed over in that moment had due before its adoption;
- which agent a transferred contact is being handed to (or kept from): read back from its last ``transfer`` event
  here, a reserved practice customer's trainee from the contact row;
- which media worker holds a call (``media:call:<id>:worker`` and the worker's call list): put back by the worker
  on its next beat (media/interface.py ``announce_calls``); where a livestream is (``media:live:<id>:*``: the
  worker holding its presenter and its relay, the workers serving it, each viewer's worker and their counts): put
  back by each media worker on its next beat (livestream/worker_ops.py ``announce``). Viewers already watching
  are not touched (their media never passes through Redis); new ones are refused until that beat;
- contact events in flight on the shared log and the processes' inboxes: live chat customers catch up from the
  recording (``SimulatorWorkers.catch_up``); done markers and ``grading:graded`` go (the grader's lock in the
  database keeps one scorecard);
- desk presence: re-announced by every process (above); sign-ins: kept in the database, Redis only caches them
  (accounts/sessions.py): the next request of each reads its row back, nobody signs in again.
"""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import func, select

from accounts.models import LEVEL_RANK, User
from extensions import db

from .models import AgentStateChange

log = logging.getLogger(__name__)


def restore_agent_states(*, replace: bool = False) -> int:
    """Register every agent the database has a state for and Redis does not (all of them with ``replace``),
    in its last recorded state. Returns how many were restored."""
    from .actions import _publish_agent, _seats_from_db, agent_level, channel_capacities, get_acd

    acd = get_acd()
    last = (
        select(AgentStateChange.agent_id, func.max(AgentStateChange.id).label("last_id"))
        .group_by(AgentStateChange.agent_id)
        .subquery()
    )
    rows = db.session.scalars(select(AgentStateChange).join(last, AgentStateChange.id == last.c.last_id)).all()
    acw_seconds = current_app.config["ACW_SECONDS"]
    default_queues = [f"{ch}.*" for ch in current_app.config["ENABLED_CHANNELS"]]
    capacities = channel_capacities()
    restored = []
    for row in rows:
        if not replace and acd.agent_exists(row.agent_id):
            continue
        user = db.session.get(User, row.agent_id)
        if user is None or not user.active:
            continue
        level = agent_level(user)
        acd.set_agent(
            user.id,
            row.state,
            now=row.ts,
            rank=LEVEL_RANK[level],
            level=level,
            name=user.display_name,
            capacities=capacities,
            default_queues=default_queues,
            reason=row.reason,
            acw_until=row.ts + acw_seconds if row.state == "acw" else None,
            seats=_seats_from_db(user.id),
        )
        restored.append(user.id)
    for agent_id in restored:
        _publish_agent(agent_id)
    return len(restored)


def rebuild_after_loss(*, replace: bool = False) -> dict:
    """The whole rebuild (the liveness ``rebuild`` hook): presence cleared, agents restored, queues rebuilt
    in order and seats recounted. Returns what was rebuilt."""
    from .actions import get_acd, rebuild_live_state
    from .presence import get_presence

    get_presence().clear()
    if replace:
        get_acd().clear_agents()
    agents = restore_agent_states(replace=replace)
    done = rebuild_live_state()
    done["agents_restored"] = agents
    log.warning("live state rebuilt: %s", done)
    return done


def rebuild_hook() -> None:
    from .liveness import get_liveness

    rebuild_after_loss(replace=getattr(get_liveness(), "stale_rebuild", False))
