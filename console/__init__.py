"""Team-lead console: the floor view (agents, states, queues, live contacts, alerts) and monitoring."""


def init_app(app) -> None:
    from extensions import socketio

    from . import sessions  # noqa: F401  (its routes join the console blueprint)
    from .alerts import init_alerts
    from .namespace import FloorNamespace
    from .pushes import init_pushes
    from .views import bp

    app.register_blueprint(bp)
    socketio.on_namespace(FloorNamespace("/floor"))
    init_alerts(app)
    init_pushes(app)
