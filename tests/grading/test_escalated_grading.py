"""The passed-up and senior-care items on a real contact: an L3 trainee serves the simulated VIP of
en-repeat-repair (a complaint an intermediate agent passed up) through the desk's actions, and the scorecard's
items read what they did - the shared reader's acts, the CRM look-up, the ticket they set and their note."""

from __future__ import annotations

import pytest

from extensions import db
from scenarios.loader import load_pack_into_db
from tickets.actions import do_add_ticket_note, do_create_ticket, do_update_ticket
from tickets.crm import do_lookup_customers

from .builders import PACKS
from .conftest import serve_chat

NEW = ("escalated-enquiry", "transfer-report-back", "owns-escalated-complaint", "within-authority", "extra-help")
GOOD = [
    "Hello Mr Walsh, I'm the senior agent. I'm really sorry this has happened a third time, I understand.",
    "Could you give me the order number?",
    "What exactly is the laptop doing now?",
    "It has been repaired twice under warranty, so we will send you a new laptop as a replacement, and we can "
    "transfer your data for you.",
    "I will call you tomorrow to confirm the delivery before your trip.",
    "Is there anything else I can help with? Goodbye.",
]
POOR = [
    "Hello.",
    "I can't decide that, I'm passing you to someone else.",
]


def _look_up_and_open_a_ticket(agent, contact):
    do_lookup_customers(agent, "Steven Walsh", contact)
    ticket = do_create_ticket(agent, contact, subject="Third black screen", category="product")
    db.session.commit()
    return ticket


def _set_the_ticket_and_note_the_result(agent, contact, ticket):
    do_update_ticket(agent, ticket, contact, category="warranty", priority="high")
    do_add_ticket_note(agent, ticket, contact, "Replacement granted after two repairs; data transfer booked")
    db.session.commit()


def _serve(app, name: str, lines: list[str], desk: bool) -> dict:
    before, after = (_look_up_and_open_a_ticket, _set_the_ticket_and_note_the_result) if desk else (None, None)
    card = serve_chat(app, name, "L3", "en-repeat-repair", 3, lines, "WARRANTY", before, after)
    return {i["id"]: i for i in card["items"]}


@pytest.fixture
def items(app):
    with app.app_context():
        load_pack_into_db(PACKS / "en")
    return _serve(app, "senior", GOOD, desk=True), _serve(app, "passer", POOR, desk=False)


def test_passed_up_items_pass_for_the_trainee_who_does_it_and_fail_for_one_who_does_not(items):
    """The senior who looks the VIP up, soothes, grants the replacement, offers the data transfer, sets the
    ticket and notes the result passes all five; the one who says hello and passes the buck fails all five."""
    good, poor = items
    for item_id in NEW:
        assert good[item_id]["status"] == "pass", (item_id, good[item_id]["note"])
        assert poor[item_id]["status"] == "fail", (item_id, poor[item_id]["note"])
    assert good["risk-recognised"]["status"] == "na"  # the case is medium risk
    assert "missing: answer, follow-up" in poor["owns-escalated-complaint"]["note"]  # words alone pass nothing on
    assert "category" in poor["within-authority"]["note"]  # no ticket was set
