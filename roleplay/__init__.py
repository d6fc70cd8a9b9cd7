"""Role-play with a scenario: a trainee or lead opens a role-play of a scenario; a person plays its customer from a
link (the customer chat or call page, or an email address), reading the scenario's customer card; the contact carries
the scenario, is routed like any other and is graded when wrapped up."""


def init_app(app) -> None:
    from . import models  # noqa: F401  (so create_all sees the table)
    from .exam import register
    from .views import bp

    app.register_blueprint(bp)
    register(app)  # role-played skill-exam parts
