"""Bugs schemathesis found on the live server, each now a clear 4xx."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("agent_id", [2**70, -(2**70), 2**63])
def test_roleplay_for_an_agent_id_beyond_any_id_is_refused(app, client, auth, make_user, agent_id):
    """POST /api/roleplays with an agent_id past 64 bits was a 500 (the database driver's overflow)."""
    make_user("boss", role="admin", level=None)
    auth.login("boss")
    r = client.post("/api/roleplays", json={"scenario_id": "en-delivery-status", "agent_id": agent_id})
    assert r.status_code == 400
    assert r.get_json()["error"] == "no such agent"
