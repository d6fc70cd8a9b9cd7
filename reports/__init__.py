"""Reports: per trainee (scores over time, weakest skill codes, recordings to review), per group
(distribution, pass rate, item difficulty) and per grader (panel agreement, deviation); inline SVG charts;
XLSX and PDF export."""


def init_app(app) -> None:
    from .views import bp

    app.register_blueprint(bp)
