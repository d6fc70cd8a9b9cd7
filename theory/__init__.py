"""Theory exams (§1.9): the question bank per §4.1 knowledge area, exams drawn by the level's weights,
autosaved answers, auto-scoring and auto-submit at the due time; `flask theory load|check`."""


def init_app(app) -> None:
    from accounts.demo import register_demo_content
    from routing.ticker import register_periodic

    from . import cli, models  # noqa: F401  (models: so create_all sees the theory tables)
    from .actions import submit_overdue_exams
    from .loader import demo_banks
    from .views import bp

    app.register_blueprint(bp)
    cli.register(app)
    register_demo_content("theory", demo_banks)  # `flask demo seed` loads the banks too
    register_periodic(app, submit_overdue_exams)
