"""Contacts, their append-only event log (the recording), do_* actions and event publishing."""


def init_app(app) -> None:
    from . import views
    from .catalogue import events_cli
    from .event_types import load_event_type_modules
    from .events import close_event_connection
    from .transaction import install_guards

    app.register_blueprint(views.bp)
    app.teardown_appcontext(close_event_connection)
    install_guards()
    load_event_type_modules(app.config["EVENT_SCHEMA_MODULES"])
    app.cli.add_command(events_cli)
