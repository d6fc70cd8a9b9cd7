"""Email fixtures: the SMTP endpoint on the media loop (a free loopback port), and an available agent."""

from __future__ import annotations

import smtplib

import pytest


@pytest.fixture(autouse=True)
def email_files(app, tmp_path):
    """Raw mail and attachments go to the test's own folder, not the instance folder."""
    app.config["EMAIL_STORAGE_DIR"] = str(tmp_path / "email")
    return tmp_path / "email"


@pytest.fixture
def smtp_endpoint(app):
    """The app's SMTP server, started on the media loop and stopped after the test."""
    from channels.email.smtp import start_smtp, stop_smtp

    endpoint = start_smtp(app)
    assert endpoint is not None and endpoint.port > 0
    yield endpoint
    stop_smtp(app)


@pytest.fixture
def send(smtp_endpoint):
    """send(raw, to=..., sender=...) over real SMTP (smtplib); returns smtplib's refused-recipients dict."""

    def _send(raw: bytes, *, to=("service@kefu.local",), sender="customer@example.com"):
        with smtplib.SMTP(smtp_endpoint.host, smtp_endpoint.port, timeout=10) as smtp:
            return smtp.sendmail(sender, list(to), raw)

    return _send


@pytest.fixture
def agent(app, make_user):
    """An available trainee serving every email queue; returns the user's id."""
    uid = make_user("mailagent", role="trainee", level="L4")
    from accounts.models import User
    from extensions import db
    from routing.actions import do_set_agent_state

    with app.app_context():
        do_set_agent_state(db.session.get(User, uid), "available")
        db.session.commit()
    return uid
