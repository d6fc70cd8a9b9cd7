"""ACD: queues, agent states and atomic assignment in Redis (Lua), transfers, ACW and queue figures.

Public API: ``routing.actions`` (do_* actions, snapshots, figures, tick, rebuild) and ``routing.ticker``
(``start_ticker``, ``register_periodic``). The app's main starts the ticker; ``init_app`` only binds the ACD.
"""


def init_app(app) -> None:
    from extensions import redis_store

    from . import models  # noqa: F401  (the AgentStateChange table, for create_all and migrations)
    from .acd import ACD

    app.extensions["kefu_acd"] = ACD(redis_store.client, redis_store.key("acd") + ":")
