"""ACD: queues, agent states and atomic assignment in Redis (Lua), transfers, ACW and queue figures.

Public API: ``routing.actions`` (do_* actions, snapshots, figures, tick, rebuild) and ``routing.ticker``
(``start_ticker``, ``register_periodic``). The app's main starts the ticker; ``init_app`` only binds the ACD.
"""


def init_app(app) -> None:
    from contacts.lifecycle import register_router
    from extensions import redis_store

    from . import models  # noqa: F401  (the AgentStateChange table, for create_all and migrations)
    from .acd import ACD
    from .actions import AcdRouter
    from .liveness import EXT, Liveness
    from .presence import init_presence
    from .rebuild import rebuild_hook

    app.extensions["kefu_acd"] = ACD(redis_store.client, redis_store.key("acd") + ":")
    register_router(AcdRouter())  # contacts' lifecycle asks the ACD through this (contacts.lifecycle.Router)
    liveness = app.extensions[EXT] = Liveness(app)
    liveness.on("rebuild", rebuild_hook)
    init_presence(app)
    _redis_down_page(app)


def _redis_down_page(app) -> None:
    """A request that finds Redis gone (restarting, or being rebuilt) gets a clear 503, not a traceback and a
    500: the page says to try again in a few seconds, which is how long the supervisor takes to bring it back."""
    import redis
    from flask import jsonify, render_template, request
    from flask_babel import gettext as _

    from extensions import db

    def unavailable(e):
        db.session.rollback()
        message = _("The live routing state is being restored. Please try again in a few seconds.")
        app.logger.warning("Redis unavailable on %s: %s", request.path, e)
        if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
            return jsonify(error=message), 503
        return render_template("error.html", code=503, message=message), 503

    for exc in (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
        app.register_error_handler(exc, unavailable)
