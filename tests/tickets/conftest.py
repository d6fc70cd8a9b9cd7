"""Fixtures for the tickets/CRM tests: CRM customers and orders, agents, and contacts already on a desk."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from contacts.events import subscribe, unsubscribe
from extensions import db

from .helpers import build_crm, make_contact


@pytest.fixture
def crm(app):
    with app.app_context():
        return SimpleNamespace(**build_crm())


@pytest.fixture
def people(app, make_user):
    """Three trainees (L4, L5, L3) in the group of a lead, and a grader; c1 is on t1's desk, c2 on t2's."""
    ns = SimpleNamespace(
        t1=make_user("t1", level="L4"),
        t2=make_user("t2", level="L5"),
        t3=make_user("t3", level="L3"),
        lead=make_user("lead1", role="lead"),
        grader=make_user("grader1", role="grader"),
    )
    with app.app_context():
        # lead1 leads the trainees' group: leads act on their own groups' contacts only (accounts/scope.py)
        from accounts.models import Group, User

        team = Group(name="tickets-team", lead_id=ns.lead)
        db.session.add(team)
        db.session.flush()
        for uid in (ns.t1, ns.t2, ns.t3):
            db.session.get(User, uid).group_id = team.id
        db.session.commit()
        ns.c1 = make_contact(ns.t1).id
        ns.c2 = make_contact(ns.t2).id
        ns.c3 = make_contact(ns.t3).id
    return ns


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def published():
    """Every event published through contacts.events.send_event while the test runs."""
    seen: list[dict] = []
    subscribe(seen.append)
    yield seen
    unsubscribe(seen.append)
