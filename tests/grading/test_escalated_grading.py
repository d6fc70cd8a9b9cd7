"""The passed-up and senior-care items on a real contact: an L3 trainee serves the simulated VIP of
en-repeat-repair (a complaint an intermediate agent passed up) through the desk's actions, and the scorecard's
items read what they did - the shared reader's acts, the CRM look-up, the ticket they set and their note."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contacts.actions import do_post_message, do_wrap_up_contact
from contacts.models import Contact
from extensions import db
from grading.models import Scorecard
from routing.actions import do_set_agent_state
from scenarios.loader import load_pack_into_db
from tickets.actions import do_add_ticket_note, do_create_ticket, do_update_ticket
from tickets.crm import do_lookup_customers

from .. import factories
from .builders import PACKS

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


def _serve(app, name: str, lines: list[str], desk: bool) -> dict:
    engine = app.extensions["kefu_simulator"]
    with app.app_context():
        agent = factories.user(name, role="trainee", level="L3")
        do_set_agent_state(agent, "available")
        cid = engine.start_customer("en-repeat-repair", seed=3)
        engine.run_until_idle(30)
        contact = db.session.get(Contact, cid)
        if desk:
            do_lookup_customers(agent, "Steven Walsh", contact)
            ticket = do_create_ticket(agent, contact, subject="Third black screen", category="product")
            db.session.commit()
        for line in lines:
            db.session.refresh(contact)
            if contact.status != "active":
                break
            do_post_message(contact, "agent", line, actor_id=agent.id)
            engine.run_until_idle(20)
        if desk:
            do_update_ticket(agent, ticket, contact, category="warranty", priority="high")
            do_add_ticket_note(agent, ticket, contact, "Replacement granted after two repairs; data transfer booked")
            db.session.commit()
        db.session.refresh(contact)
        do_wrap_up_contact(contact, agent, "WARRANTY")
        assert app.extensions["kefu_grading"].wait_idle(30)
        row = db.session.scalars(select(Scorecard).where(Scorecard.contact_id == cid, Scorecard.current)).one()
        return {i["id"]: i for i in row.data["items"]}


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
