"""Callbacks turning due on the sandbox clock, and CSAT invitations and answers."""

from __future__ import annotations

import pytest

from accounts.models import User
from clock import clock
from contacts.actions import do_end_contact
from contacts.models import Contact
from extensions import db
from tickets.actions import (
    do_complete_callback,
    do_create_ticket,
    do_invite_csat,
    do_record_csat,
    do_schedule_callback,
    due_callbacks,
    tick_callbacks,
)
from tickets.models import Callback, CsatSurvey
from tickets.policy import AccessDenied, TicketError

from .helpers import events_of


@pytest.fixture
def desk(people, crm, ctx):
    return db.session.get(User, people.t1), db.session.get(Contact, people.c1), crm


def test_callback_scheduled_then_turned_due_after_the_clock_moves(desk, published):
    """A callback an hour ahead is not due; after clock.advance(3601) tick_callbacks turns it due once and
    tells the agent's desk room."""
    agent, contact, crm = desk
    ticket = do_create_ticket(agent, contact, subject="退款进度", category="returns", customer_id=crm.wang)
    cb = do_schedule_callback(agent, ticket, None, clock.timestamp() + 3600, "回访退款结果", contact=contact)
    assert cb.status == "scheduled" and cb.customer_id == crm.wang and cb.assignee_id == agent.id
    (ev,) = events_of(contact.id, "callback.scheduled")
    assert ev.data["callback_id"] == cb.id and ev.data["ticket_number"] == ticket.number and ev.text == "回访退款结果"

    assert tick_callbacks() == [] and due_callbacks() == []
    clock.advance(3601)
    published.clear()
    turned = tick_callbacks()
    assert [c["id"] for c in turned] == [cb.id]
    assert db.session.get(Callback, cb.id).status == "due"
    assert [c.id for c in due_callbacks()] == [cb.id]
    due_events = [p for p in published if p["type"] == "callback_due"]
    assert len(due_events) == 1 and due_events[0]["callback"]["id"] == cb.id
    assert tick_callbacks() == []  # announced once


def test_complete_callback_records_outcome_once(desk, people):
    """The assignee completes a due callback with an outcome; completing again or by another trainee is refused."""
    agent, contact, crm = desk
    cb = do_schedule_callback(agent, None, crm.li, clock.timestamp() + 60, None, contact=contact)
    with pytest.raises(AccessDenied):
        do_complete_callback(db.session.get(User, people.t2), cb, "done")
    with pytest.raises(TicketError) as e:
        do_complete_callback(agent, cb, "  ")
    assert e.value.field == "outcome"
    done = do_complete_callback(agent, cb, "客户确认已收到退款")
    assert done.status == "done" and done.outcome == "客户确认已收到退款" and done.completed_at
    (ev,) = events_of(contact.id, "callback.completed")
    assert ev.data["callback_id"] == cb.id
    with pytest.raises(TicketError):
        do_complete_callback(agent, cb, "again")


def test_schedule_refuses_past_times_and_unknown_customers(desk):
    """due_at in the past, over 90 days ahead, or for an unknown customer is refused."""
    agent, contact, crm = desk
    now = clock.timestamp()
    for due, cust, field in (
        (now - 5, crm.li, "due_at"),
        (now + 91 * 86400, crm.li, "due_at"),
        (now + 60, 999, "customer_id"),
    ):
        with pytest.raises(TicketError) as e:
            do_schedule_callback(agent, None, cust, due, "x", contact=contact)
        assert e.value.field == field
    with pytest.raises(TicketError) as e:
        do_schedule_callback(agent, None, None, now + 60, "x", contact=contact)  # no customer, no ticket
    assert e.value.field == "customer_id"
    assert db.session.query(Callback).count() == 0


def test_csat_invite_is_idempotent(desk, published):
    """Inviting twice keeps one survey and one csat.invited event, which the customer's room receives."""
    _, contact, _ = desk
    first = do_invite_csat(contact)
    second = do_invite_csat(contact)
    assert first.id == second.id
    assert db.session.query(CsatSurvey).count() == 1
    (ev,) = events_of(contact.id, "csat.invited")
    assert ev.actor == "system"
    assert sum(1 for p in published if p.get("event", {}).get("type") == "csat.invited") == 1


def test_ending_a_contact_invites_csat(desk):
    """contacts.do_end_contact calls tickets.actions.do_invite_csat: the survey exists after the contact ends."""
    agent, contact, _ = desk
    do_end_contact(contact, "agent", actor_id=agent.id)
    assert db.session.query(CsatSurvey).filter_by(contact_id=contact.id).one()


def test_csat_score_validation_and_once_only(desk):
    """Scores outside 1-5, non-numbers and booleans are refused clearly; the first valid answer is final."""
    _, contact, _ = desk
    with pytest.raises(TicketError, match="no CSAT survey"):
        do_record_csat(contact, 5)
    do_invite_csat(contact)
    for bad in (0, 6, 4.5, "great", True, None):
        with pytest.raises(ValueError, match="whole number from 1 to 5"):
            do_record_csat(contact, bad)
    survey = do_record_csat(contact, "4", comment="回复很快")
    assert survey.score == 4 and survey.comment == "回复很快" and survey.answered_at
    assert db.session.get(Contact, contact.id).csat == 4
    (ev,) = events_of(contact.id, "csat.answered")
    assert ev.actor == "customer" and ev.data["score"] == 4
    with pytest.raises(TicketError, match="already answered"):
        do_record_csat(contact, 5)
    assert db.session.get(Contact, contact.id).csat == 4
