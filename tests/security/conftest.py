"""Security test fixtures: the shared world (tests/security/world.py) on the per-test app."""

from __future__ import annotations

import pytest

from .world import build_world


@pytest.fixture
def world(app, tmp_path):
    app.config["EMAIL_STORAGE_DIR"] = str(tmp_path / "email")
    app.config["RECORDINGS_DIR"] = str(tmp_path / "recordings")
    return build_world(app)
