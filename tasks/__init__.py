"""Work items beside contacts (issue 17): back-office tasks - data, error spotting, QA evaluation and
coaching, knowledge-base maintenance, scripts, reports and slides, staffing and callback plans - generated from
a seed, worked on their own pages, recorded event by event, graded, and part of skill exams."""


def init_app(app) -> None:
    from grading.exam_results import add_exam_part_provider
    from scenarios.loader import add_pack_hook

    from . import cli, exam_channels, models  # noqa: F401  (models: so create_all sees the task tables)
    from .content import pack_hook
    from .exam import open_for_exam, rows_for_exam
    from .views import bp

    app.register_blueprint(bp)
    cli.register(app)
    add_pack_hook(app, pack_hook)
    add_exam_part_provider(app, rows_for_exam, open_for_exam)
    exam_channels.register(app)
