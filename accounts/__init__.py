"""Users, roles (trainee, lead, grader, admin), groups, login and the user CLI."""


def init_app(app) -> None:
    from . import cli, views
    from .models import load_user  # noqa: F401  (registers the user loader)
    from .throttle import init_throttle

    init_throttle(app)
    app.register_blueprint(views.bp)
    cli.register(app)
