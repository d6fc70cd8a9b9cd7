"""Team-lead console: the floor view (agents, states, queues, live contacts) and live transcripts."""


def init_app(app) -> None:
    from extensions import socketio

    from .namespace import FloorNamespace
    from .views import bp

    app.register_blueprint(bp)
    socketio.on_namespace(FloorNamespace("/floor"))
