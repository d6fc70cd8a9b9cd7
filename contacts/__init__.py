"""Contacts, their append-only event log (the recording), do_* actions and event publishing."""


def init_app(app) -> None:
    from . import views
    from .events import close_event_connection

    app.register_blueprint(views.bp)
    app.teardown_appcontext(close_event_connection)
