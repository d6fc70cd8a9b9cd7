"""Calibration of the automatic grading against examiners' verdicts: graded sessions are replayed through a
throwaway sandbox's real endpoints (a role-play of the session's scenario: the customer socket, the desk socket
and the desk APIs), graded with the centre's rubric, and compared (`flask grading calibrate PATH`, and a page
for leads)."""


def init_app(app) -> None:
    from .cli import calibrate_cmd
    from .views import bp

    app.register_blueprint(bp)
    # The command belongs with the other grading commands; grading is registered before this package.
    app.cli.commands["grading"].add_command(calibrate_cmd)
