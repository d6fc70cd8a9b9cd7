"""Fixtures of the grading tests that run a floor: the skill exams' cast, and a chat served through the desk's
actions to its auto-graded scorecard."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from extensions import db

from .. import factories
from .builders import PACKS


@pytest.fixture
def floor(app):
    """The en pack loaded; lead1 leads team (trainees cand L4, other L4); lead2 leads another group; an admin."""
    from scenarios.loader import load_pack_into_db

    with app.app_context():
        load_pack_into_db(PACKS / "en")
        lead = factories.user("lead1", role="lead")
        team = factories.group("team", lead=lead)
        factories.user("cand", role="trainee", level="L4", group=team, locale="en")
        factories.user("other", role="trainee", level="L4", group=team, locale="en")
        factories.group("team2", lead=factories.user("lead2", role="lead"))
        factories.user("admin", role="admin")
    yield app
    app.extensions["kefu_grading"].stop()


def login(app, username: str):
    """A test client signed in as ``username`` (password pass1234, as the factories make users)."""
    http = app.test_client()
    assert http.post("/login", data={"username": username, "password": "pass1234"}).status_code == 302
    return http


def user_id(username: str) -> int | None:
    from accounts.models import User

    return db.session.scalar(select(User.id).where(User.username == username))


def serve_chat(app, agent_name, level, scenario_id, seed, lines, wrap_code, before=None, after=None) -> dict:
    """A trainee ``agent_name`` at ``level`` serves the simulated customer of ``scenario_id`` through the desk's
    actions: each of ``lines`` posted while the chat is still active (the customer answering in between), then a
    wrap-up with ``wrap_code``. ``before(agent, contact)`` runs desk actions once the chat is assigned, and what it
    returns is handed to ``after(agent, contact, it)`` before the wrap-up. Returns the current scorecard's data
    once auto-grading has graded it."""
    from contacts.actions import do_post_message, do_wrap_up_contact
    from contacts.models import Contact
    from grading.models import Scorecard
    from routing.actions import do_set_agent_state

    engine = app.extensions["kefu_simulator"]
    with app.app_context():
        agent = factories.user(agent_name, role="trainee", level=level)
        do_set_agent_state(agent, "available")
        cid = engine.start_customer(scenario_id, seed=seed)
        engine.run_until_idle(30)
        contact = db.session.get(Contact, cid)
        done = before(agent, contact) if before is not None else None
        for line in lines:
            db.session.refresh(contact)
            if contact.status != "active":
                break
            do_post_message(contact, "agent", line, actor_id=agent.id)
            engine.run_until_idle(20)
        if after is not None:
            after(agent, contact, done)
        db.session.refresh(contact)
        do_wrap_up_contact(contact, agent, wrap_code)
        assert app.extensions["kefu_grading"].wait_idle(30)
        row = db.session.scalars(select(Scorecard).where(Scorecard.contact_id == cid, Scorecard.current)).one()
        return row.data
