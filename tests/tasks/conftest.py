"""Fixtures for work items: the shipped task specs loaded through the pack hook (fast: no scenarios, no model),
a lead with a group of trainees, and JSON helpers for the work page's API."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from extensions import db

from .. import factories

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"


def load_specs() -> None:
    """Upsert both languages' task specs the way `flask content load` does (the tasks pack hook)."""
    from tasks.content import pack_hook

    for lang in ("zh_CN", "en"):
        pack_hook(SimpleNamespace(path=PACKS / lang, lang=lang), write=True)
    db.session.commit()


@pytest.fixture
def team(app):
    """Specs loaded; lead1 leads team with trainees t3 (L3, en) and t3b (L3); lead2 leads another group;
    a grader."""
    with app.app_context():
        load_specs()
        lead = factories.user("lead1", role="lead")
        team = factories.group("team", lead=lead)
        factories.user("t3", role="trainee", level="L3", group=team, locale="en")
        factories.user("t3b", role="trainee", level="L3", group=team, locale="en")
        factories.user("t5", role="trainee", level="L5", group=team)
        lead2 = factories.user("lead2", role="lead")
        factories.group("team2", lead=lead2)
        factories.user("grader1", role="grader")
    return app


@pytest.fixture
def exam_candidate(app):
    """The en pack and the task specs loaded; lead1 leads team with the L3 candidate cand (en): a skill exam's
    cast."""
    from scenarios.loader import load_pack_into_db

    with app.app_context():
        load_pack_into_db(PACKS / "en")
        load_specs()
        lead = factories.user("lead1", role="lead")
        team = factories.group("team", lead=lead)
        factories.user("cand", role="trainee", level="L3", group=team, locale="en")
    return app


def user(name):
    from accounts.models import User

    return db.session.scalar(db.select(User).where(User.username == name))


def assign(app, client, auth, spec_id, trainee="t3", seed=None):
    """The lead assigns through the page's form; returns the new work item's id."""
    from tasks.models import WorkItem

    auth.login("lead1")
    with app.app_context():
        tid = user(trainee).id
    form = {"spec_id": spec_id, "trainee_id": tid, **({"seed": seed} if seed else {})}
    r = client.post("/tasks/assign", data=form)
    assert r.status_code == 302, r.data
    auth.logout()
    with app.app_context():
        item = db.session.scalars(db.select(WorkItem).order_by(WorkItem.id.desc())).first()
        return item.id


def item(app, item_id):
    from tasks.models import WorkItem

    with app.app_context():
        it = db.session.get(WorkItem, item_id)
        db.session.expunge(it)
        return it


def open_page(client, item_id):
    r = client.get(f"/tasks/{item_id}")
    assert r.status_code == 200, r.data[:500]
    return r.get_data(as_text=True)


def submit(client, item_id, body):
    return client.post(f"/api/tasks/{item_id}/submit", json=body)
