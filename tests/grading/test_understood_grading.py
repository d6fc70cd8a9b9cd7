"""Grading credits what the trainee's words do, not the words: a chat of pasted stock phrases that never solves
the problem fails its step and outcome items and the unanswered-enquiry gate (so the scorecard fails, though its
timing and courtesy items score), and the same case solved in natural words passes every one of them and scores
20+ points more."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contacts.actions import do_post_message, do_wrap_up_contact
from contacts.models import Contact
from extensions import db
from grading.models import Scorecard
from routing.actions import do_set_agent_state
from scenarios.loader import load_pack_into_db

from .. import factories
from .builders import PACKS

STUFFED = [
    "Hello, welcome to Kefu Mall, happy to help!",
    "I'm so sorry, I completely understand how frustrating this must be.",
    "Thank you for your patience, please hold while I check.",
    "I'm sorry for the wait, I understand.",
    "Is there anything else I can help with? Have a great day!",
]
NATURAL = [
    "Hi there, Sam here - could you send over the number on your order confirmation?",
    "Found it: your watch is at the Columbus sorting hub and should reach you on June 1.",
    "Anything else I can sort out for you today?",
]


def _handle(app, lines: list[str], name: str) -> dict:
    engine = app.extensions["kefu_simulator"]
    with app.app_context():
        agent = factories.user(name, role="trainee", level="L5")
        do_set_agent_state(agent, "available")
        cid = engine.start_customer("en-delivery-status", seed=1)
        engine.run_until_idle(30)
        contact = db.session.get(Contact, cid)
        for line in lines:
            db.session.refresh(contact)
            if contact.status != "active":
                break
            do_post_message(contact, "agent", line, actor_id=agent.id)
            engine.run_until_idle(20)
        db.session.refresh(contact)
        do_wrap_up_contact(contact, agent, "ENQ_DELIVERY")
        assert app.extensions["kefu_grading"].wait_idle(30)
        row = db.session.scalars(select(Scorecard).where(Scorecard.contact_id == cid, Scorecard.current)).one()
        return row.data


@pytest.fixture
def cards(app):
    with app.app_context():
        load_pack_into_db(PACKS / "en")
    yield _handle(app, STUFFED, "stuffer"), _handle(app, NATURAL, "natural")
    app.extensions["kefu_grading"].stop()


def test_stuffed_chat_fails_its_steps_and_natural_chat_passes(cards):
    """Stock phrases without the answer: the step-order and outcome items fail; the natural, correct chat passes
    its greeting, step-order, closing and outcome items and passes, 20+ points higher."""
    stuffed, natural = cards
    s_items = {i["id"]: i for i in stuffed["items"]}
    n_items = {i["id"]: i for i in natural["items"]}
    assert s_items["step-order"]["status"] == "fail"
    assert s_items["customer-outcome"]["status"] == "fail"
    assert s_items["problem-addressed"]["status"] == "fail"
    assert not stuffed["passed"] and stuffed["total"] < 60
    for item in ("greeting", "step-order", "closing", "customer-outcome", "problem-addressed"):
        assert n_items[item]["status"] == "pass", (item, n_items[item])
    assert natural["total"] >= 60
    assert natural["total"] - stuffed["total"] >= 20
