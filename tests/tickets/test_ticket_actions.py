"""Ticket actions: numbering, SLA, history rows, events, escalation and the compensation limit."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select

from accounts.models import User
from clock import clock
from contacts.models import Contact
from extensions import db
from tickets.actions import (
    do_add_ticket_note,
    do_create_ticket,
    do_link_contact,
    do_update_ticket,
    get_ticket,
    tickets_for_contact,
)
from tickets.models import Ticket, TicketChange, TicketContactLink
from tickets.policy import AccessDenied, TicketError

from .helpers import events_of, make_contact


def _new(people, *, agent="t1", contact="c1", **kw):
    agent = db.session.get(User, getattr(people, agent))
    contact = db.session.get(Contact, getattr(people, contact))
    fields = {"subject": "耳机无法充电", "category": "product", **kw}
    return agent, contact, do_create_ticket(agent, contact, **fields)


def test_create_ticket_numbers_sla_link_history_and_event(app, people, crm, ctx, published):
    """A new ticket gets a dated number, a 24 h SLA at normal priority, the contact linked and history rows."""
    agent, contact, ticket = _new(people, customer_id=crm.wang)
    day = clock.now().strftime("%Y%m%d")
    assert re.fullmatch(rf"T{day}\d{{4}}", ticket.number)
    assert ticket.sla_due_at == pytest.approx(ticket.created_at + 24 * 3600)
    assert ticket.status == "new" and ticket.assignee_id == agent.id and ticket.customer_id == crm.wang
    assert (
        db.session.scalar(select(TicketContactLink).where(TicketContactLink.ticket_id == ticket.id)).contact_id
        == contact.id
    )
    fields = {c.field for c in db.session.scalars(select(TicketChange).where(TicketChange.ticket_id == ticket.id))}
    assert {"subject", "category", "priority", "risk_level", "status", "customer_id"} <= fields
    (ev,) = events_of(contact.id, "ticket.created")
    assert ev.actor == "agent" and ev.actor_id == agent.id
    assert ev.data["number"] == ticket.number and ev.data["customer_id"] == crm.wang
    assert ev.data["category"] == "product" and ev.data["priority"] == "normal" and ev.data["risk_level"] == "none"
    assert any(p["type"] == "contact_event" and p["event"]["type"] == "ticket.created" for p in published)


def test_numbers_are_sequential_and_unique_per_day(people, ctx):
    """Two tickets on the same day get consecutive sequence numbers."""
    _, _, first = _new(people)
    _, _, second = _new(people)
    assert int(second.number[-4:]) == int(first.number[-4:]) + 1


def test_concurrent_creators_never_share_a_number(app, people):
    """Eight threads creating tickets at once all get different numbers."""
    numbers, errors = [], []

    def work():
        try:
            with app.app_context():
                for _ in range(3):
                    _, _, t = _new(people)
                    numbers.append(t.number)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(numbers) == 24 and len(set(numbers)) == 24


def test_sla_by_priority_and_from_config(app, people, ctx):
    """Urgent tickets are due in 2 h; TICKET_SLA_HOURS overrides the table."""
    _, _, urgent = _new(people, priority="urgent")
    assert urgent.sla_due_at - urgent.created_at == pytest.approx(2 * 3600)
    app.config["TICKET_SLA_HOURS"] = {"low": 5}
    _, _, low = _new(people, priority="low")
    assert low.sla_due_at - low.created_at == pytest.approx(5 * 3600)


def test_create_refuses_bad_values_naming_the_field(people, ctx):
    """Unknown category or priority, an empty or over-long subject are refused with the field named."""
    for kw, field in (
        ({"category": "nonsense"}, "category"),
        ({"priority": "asap"}, "priority"),
        ({"risk_level": "extreme"}, "risk_level"),
        ({"subject": "  "}, "subject"),
        ({"subject": "x" * 201}, "subject"),
        ({"customer_id": 99999}, "customer_id"),
    ):
        with pytest.raises(TicketError) as e:
            _new(people, **kw)
        assert e.value.field == field
    assert db.session.scalar(select(Ticket)) is None


def test_kb_category_codes_are_accepted(people, ctx):
    """A knowledge-base category code not in the default list is a valid ticket category."""
    from knowledge_base.models import Category

    db.session.add(Category(code="warranty", name_zh="保修", name_en="Warranty"))
    db.session.commit()
    _, _, ticket = _new(people, category="warranty")
    assert ticket.category == "warranty"


def test_update_records_changes_history_and_one_event(people, ctx):
    """An update records {field: [old, new]} in one event and one history row per changed field."""
    agent, contact, ticket = _new(people)
    do_update_ticket(agent, ticket, contact, status="open", priority="high", subject="耳机无法充电")
    (ev,) = events_of(contact.id, "ticket.updated")
    assert ev.data["changes"]["status"] == ["new", "open"]
    assert ev.data["changes"]["priority"] == ["normal", "high"]
    assert "subject" not in ev.data["changes"]  # unchanged fields are not recorded
    assert ticket.sla_due_at == pytest.approx(ticket.created_at + 8 * 3600)
    rows = db.session.scalars(
        select(TicketChange).where(TicketChange.ticket_id == ticket.id, TicketChange.old.is_not(None))
    ).all()
    assert {(r.field, r.old, r.new) for r in rows} >= {("status", "new", "open"), ("priority", "normal", "high")}
    assert events_of(contact.id, "ticket.escalated") == []


def test_escalation_records_target_and_reason(people, ctx):
    """Setting status escalated with a target also records ticket.escalated with target and reason."""
    agent, contact, ticket = _new(people)
    do_update_ticket(
        agent, ticket, contact, status="escalated", escalation_target="L3", risk_level="high", reason="客户威胁投诉媒体"
    )
    (ev,) = events_of(contact.id, "ticket.escalated")
    assert ev.data["target"] == "L3" and ev.data["reason"] == "客户威胁投诉媒体" and ev.data["risk_level"] == "high"
    assert get_ticket(ticket.number).status == "escalated"


def test_compensation_over_limit_is_recorded_not_refused(app, people, ctx):
    """An L4 agent offering 80 (limit 50) succeeds, and the event says over_limit with the limit."""
    agent, contact, ticket = _new(people)
    do_update_ticket(agent, ticket, contact, compensation_amount=80)
    assert float(get_ticket(ticket.number).compensation_amount) == 80.0
    (ev,) = events_of(contact.id, "ticket.updated")
    assert ev.data["over_limit"] is True and ev.data["limit"] == 50.0
    assert ev.data["changes"]["compensation_amount"] == [None, 80.0]

    do_update_ticket(agent, ticket, contact, compensation_amount="30.5")
    last = events_of(contact.id, "ticket.updated")[-1]
    assert last.data["over_limit"] is False

    app.config["COMPENSATION_LIMITS"] = {"L4": 10}
    do_update_ticket(agent, ticket, contact, compensation_amount=20)
    data = events_of(contact.id, "ticket.updated")[-1].data
    assert data["over_limit"] is True and data["limit"] == 10.0


def test_l5_limit_is_zero_and_l3_is_200(people, ctx):
    """Any compensation from an L5 agent is over their limit; 150 from an L3 agent is within theirs."""
    a5, c5, t5 = _new(people, agent="t2", contact="c2")
    do_update_ticket(a5, t5, c5, compensation_amount=1)
    assert events_of(c5.id, "ticket.updated")[-1].data["over_limit"] is True
    a3, c3, t3 = _new(people, agent="t3", contact="c3")
    do_update_ticket(a3, t3, c3, compensation_amount=150)
    assert events_of(c3.id, "ticket.updated")[-1].data["over_limit"] is False


def test_update_refuses_bad_values(people, ctx):
    """Negative compensation, unknown status, unknown fields and unknown assignees are refused."""
    agent, contact, ticket = _new(people)
    for kw, field in (
        ({"compensation_amount": -1}, "compensation_amount"),
        ({"compensation_amount": "abc"}, "compensation_amount"),
        ({"status": "done"}, "status"),
        ({"number": "T1"}, "number"),
        ({"assignee_id": 424242}, "assignee_id"),
    ):
        with pytest.raises(TicketError) as e:
            do_update_ticket(agent, ticket, contact, **kw)
        assert e.value.field == field
    assert events_of(contact.id, "ticket.updated") == []


def test_trainee_cannot_touch_another_trainees_contact_but_lead_can(people, ctx):
    """t2 may not open or change a ticket from t1's contact; a lead may, recorded as actor lead."""
    t2 = db.session.get(User, people.t2)
    c1 = db.session.get(Contact, people.c1)
    with pytest.raises(AccessDenied):
        do_create_ticket(t2, c1, subject="x", category="other")
    _, _, ticket = _new(people)
    with pytest.raises(AccessDenied):
        do_update_ticket(t2, ticket, c1, status="open")
    lead = db.session.get(User, people.lead)
    do_update_ticket(lead, ticket, c1, status="pending")
    assert events_of(c1.id, "ticket.updated")[-1].actor == "lead"
    grader = db.session.get(User, people.grader)
    with pytest.raises(AccessDenied):
        do_create_ticket(grader, c1, subject="x", category="other")


def test_notes_and_follow_up_contacts_are_linked(people, ctx):
    """A note from a follow-up contact links it to the ticket; do_link_contact is idempotent."""
    agent, contact, ticket = _new(people)
    follow_up = make_contact(agent.id)
    note = do_add_ticket_note(agent, ticket, follow_up, "客户再次来电确认进度")
    assert note.id and note.author_id == agent.id
    (ev,) = events_of(follow_up.id, "ticket.note")
    assert ev.text == "客户再次来电确认进度" and ev.data["linked"] is True
    assert {t.id for t in tickets_for_contact(follow_up.id)} == {ticket.id}
    with pytest.raises(TicketError) as e:
        do_add_ticket_note(agent, ticket, contact, "x" * 2001)
    assert e.value.field == "body"

    later = make_contact(agent.id)
    assert do_link_contact(ticket, later) is True
    assert do_link_contact(ticket, later) is False
    assert len(events_of(later.id, "ticket.linked")) == 1
