"""Grading: rubrics as data, the evaluator registry, the pure ``grade(recording, rubric)``, stored scorecards,
regrading (``flask grading``), practice auto-grading and the scorecard page.

Public API: ``grading.recording.load_recording``, ``grading.scoring.grade`` / ``scorecard_json``,
``grading.actions.do_grade_contact`` / ``select_contacts``, ``grading.regrade.regrade``,
``grading.evaluators.EVALUATORS``.
"""


def init_app(app) -> None:
    from channels.voice.transcripts import on_transcript
    from contacts.views import register_score_reader
    from scenarios.loader import register_rubric_check

    from . import cli, models, views  # noqa: F401  (models: so create_all sees the scorecards table)
    from .actions import regrade_after_transcript
    from .auto import AutoGrader
    from .rubric import rubric_problems

    app.register_blueprint(views.bp)
    register_score_reader(views.list_scores)  # the contact list's score column
    on_transcript(regrade_after_transcript)  # a graded call is graded again once its transcript lands
    register_rubric_check(rubric_problems)  # a pack's rubrics name evaluators that exist, with params they accept
    from . import review

    app.register_blueprint(review.bp)  # the review page and grader panels
    from .exam_views import init_exams

    init_exams(app)  # the "exams" blueprint and its periodic serving tick
    cli.register(app)
    grader = AutoGrader(app)
    app.extensions["kefu_grading"] = grader
    if app.config.get("GRADING_AUTO", True):
        grader.start()
