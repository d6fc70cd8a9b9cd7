"""Contacts, their append-only event log (the recording), do_* actions and event publishing."""


def init_app(app) -> None:
    from . import views

    app.register_blueprint(views.bp)
