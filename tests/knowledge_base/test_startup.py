"""Start-up: jieba is loaded and the index built while the app is created, not on the first query."""

from __future__ import annotations

from app import create_app
from config import TestingConfig
from extensions import db
from knowledge_base import search as kb
from knowledge_base import text

from . import factories as f


def test_index_is_built_at_start_when_the_tables_exist(app):
    """A second app on the same database builds its index in create_app; its first search needs no build."""
    with app.app_context():
        f.standard_kb()
        db.session.remove()
    again = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_PREFIX=app.config["REDIS_PREFIX"],
        REDIS_EMBEDDED_PATH=app.config["REDIS_EMBEDDED_PATH"],
        SIMULATOR_ENABLED=False,
        KB_BUILD_AT_START=True,
    )
    assert text._ready  # jieba's dictionary is loaded
    with again.app_context():
        service = kb.get_search()
        assert service.builds == 1 and service.indexes["zh_CN"].size() == 6
        assert kb.search("退货运费谁出", "zh_CN")[0]["slug"] == "return-shipping"
        assert service.builds == 1
        db.session.remove()
        db.engine.dispose()


def test_index_is_built_lazily_under_testing(app):
    """Under testing the tables come after the app, so the index is built by the first query."""
    with app.app_context():
        service = kb.get_search()
        assert service.builds == 0
        f.standard_kb()
        assert kb.search("refund", "en")[0]["slug"] == "refund-time"
        assert service.builds == 1
