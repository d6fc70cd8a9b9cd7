"""Group-chat fixtures: the real zh_CN and en packs loaded (the group scenarios' private chats are pack
scenarios), a trainee, and the room's audience driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from extensions import db
from tests import factories

PACKS = Path(__file__).resolve().parents[3] / "scenarios" / "packs"


@pytest.fixture
def packs(app):
    from scenarios.loader import load_pack_into_db

    with app.app_context():
        for lang in ("zh_CN", "en"):
            load_pack_into_db(PACKS / lang)
    return app


@pytest.fixture
def trainee(app):
    with app.app_context():
        return factories.user("grp1", role="trainee", level="L3").id


@pytest.fixture
def driver(app):
    return app.extensions["kefu_group_audience"]


def user(uid):
    from accounts.models import User

    return db.session.get(User, uid)
