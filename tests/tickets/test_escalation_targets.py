"""Escalation targets are the pack's codes: an unknown one is refused before anything is recorded (graded by code)."""

from __future__ import annotations

from pathlib import Path

from extensions import db
from scenarios.loader import load_pack_into_db

from .test_api import _ticket

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"


def test_an_unknown_escalation_target_is_refused_and_a_pack_code_accepted(client, people, crm, auth, app):
    with app.app_context():
        load_pack_into_db(PACKS / "zh_CN")
    auth.login("t1")
    number = _ticket(client, people.c1).get_json()["number"]
    r = client.patch(f"/api/tickets/{number}", json={"contact_id": people.c1, "escalation_target": "product_safety"})
    assert r.status_code == 400 and "crisis_team" in r.get_json()["error"]
    with app.app_context():
        from tickets.models import Ticket

        assert db.session.scalar(db.select(Ticket).where(Ticket.number == number)).escalation_target is None
    ok = client.patch(
        f"/api/tickets/{number}",
        json={"contact_id": people.c1, "status": "escalated", "escalation_target": "crisis_team"},
    )
    assert ok.status_code == 200 and ok.get_json()["escalation_target"] == "crisis_team"
