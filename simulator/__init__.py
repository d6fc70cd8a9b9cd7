"""Simulated customers: move recognition (moves), the persona state machine (persona), arrival plans
(arrivals) and the engine that drives live customers through the chat channel's customer side (engine).

``init_app`` creates the engine (``app.extensions["kefu_simulator"]``) and the JSON API blueprint. No thread
starts here: with ``SIMULATOR_ENABLED`` the engine's ``tick`` is registered on the app's periodic ticker and
the engine starts its worker (and recovers from a restart) on its first tick or first request, so CLI commands
that build the app never touch live simulated contacts. Tests set ``SIMULATOR_ENABLED`` False and drive the
engine with ``tick`` / ``run_until_idle``.
"""


def init_app(app) -> None:
    from . import models  # noqa: F401  (the Exercise table, for create_all and migrations)
    from .channel_hooks import install as install_channel_hooks
    from .cli import simulator_cli
    from .email_customers import EXT as EMAIL_EXT
    from .email_customers import EmailCustomers
    from .engine import SimulatorEngine
    from .views import bp

    install_channel_hooks(app)  # the simulated caller, group audience and private chats, into the channels
    app.cli.add_command(simulator_cli)
    engine = SimulatorEngine(app)
    app.extensions["kefu_simulator"] = engine
    # Email scenarios' customers write through the SMTP endpoint; the engine hands them their scenarios.
    engine.email_customers = app.extensions[EMAIL_EXT] = EmailCustomers(app, engine.content)
    app.register_blueprint(bp)
    if app.config.get("SIMULATOR_ENABLED"):
        from routing.ticker import register_periodic

        register_periodic(app, engine.tick)
        register_periodic(app, engine.email_customers.tick)
        from routing.liveness import get_liveness

        liveness = get_liveness(app)
        liveness.on("reannounce", engine.reannounce)  # Redis lost the owner records: put ours back
        liveness.on("reannounce", engine.catch_up)  # ... and the log entries in flight: hear them from the recording
        liveness.on("dead", engine.adopt_from)  # a process stopped: adopt its customers and exercises

        @app.before_request
        def _start_simulator() -> None:
            engine.ensure_started()


def stop(app) -> None:
    """Stop driving simulated customers in this process (its exit, ``app._stop_simulator_at_exit``): the engine's
    worker thread and its consumers of the shared log (its own and its email customers'), and the group rooms'
    audience's consumer. What they drove stays recorded under this process's name, for the process that adopts it
    once this one's heartbeat is gone."""
    engine = app.extensions.get("kefu_simulator")
    if engine is not None:
        engine.stop()
    rooms = app.extensions.get("kefu_group_audience")
    if rooms is not None:
        rooms.stop()
