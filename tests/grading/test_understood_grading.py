"""Grading credits what the trainee's words do, not the words: a chat of pasted stock phrases that never solves
the problem fails its step and outcome items and the unanswered-enquiry gate (so the scorecard fails, though its
timing and courtesy items score), and the same case solved in natural words passes every one of them and scores
20+ points more."""

from __future__ import annotations

import pytest

from scenarios.loader import load_pack_into_db

from .builders import PACKS
from .conftest import serve_chat

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
    return serve_chat(app, name, "L5", "en-delivery-status", 1, lines, "ENQ_DELIVERY")


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
