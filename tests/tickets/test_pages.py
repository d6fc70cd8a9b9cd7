"""Ticket pages for every staff role, and CSRF on the desk API."""

from __future__ import annotations

import re

import pytest

from accounts.models import User
from contacts.models import Contact
from extensions import db
from tickets.actions import do_add_ticket_note, do_create_ticket, do_update_ticket


@pytest.fixture
def ticket_number(app, people, crm):
    with app.app_context():
        agent, contact = db.session.get(User, people.t1), db.session.get(Contact, people.c1)
        t = do_create_ticket(agent, contact, subject="发票抬头错误", category="billing", customer_id=crm.wang)
        do_update_ticket(agent, t, contact, status="pending", risk_level="low")
        do_add_ticket_note(agent, t, contact, "等待财务重开发票")
        do_create_ticket(agent, contact, subject="另一张工单", category="other", priority="urgent")
        return t.number


def test_grader_sees_ticket_page_with_notes_and_history(client, auth, ticket_number):
    """A grader opens a ticket page showing its fields, notes and field history."""
    auth.login("grader1")
    r = client.get(f"/tickets/{ticket_number}?lang=en")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert ticket_number in html and "发票抬头错误" in html and "等待财务重开发票" in html
    assert re.search(r"<td>Status</td><td>new</td><td>pending</td>", html)  # the field by its label
    assert "王小明" in html
    assert client.get("/tickets/T19990101-9999").status_code == 404


def test_ticket_list_filters(client, auth, ticket_number):
    """The list shows every ticket and narrows by status, priority and search text."""
    auth.login("t1")
    html = client.get("/tickets?lang=en").get_data(as_text=True)
    assert ticket_number in html and "另一张工单" in html
    html = client.get("/tickets?status=pending").get_data(as_text=True)
    assert ticket_number in html and "另一张工单" not in html
    html = client.get("/tickets?priority=urgent").get_data(as_text=True)
    assert ticket_number not in html and "另一张工单" in html
    html = client.get("/tickets?q=C0001").get_data(as_text=True)
    assert ticket_number in html and "另一张工单" not in html
    html = client.get("/tickets?q=%25&status=bogus&page=x").get_data(as_text=True)  # odd input is harmless
    assert "另一张工单" not in html


def test_pages_need_login(client, ticket_number):
    """Logged-out visitors are sent to the login page."""
    r = client.get(f"/tickets/{ticket_number}")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_desk_api_requires_the_csrf_header(client, people):
    """With CSRF on, a POST without X-CSRFToken is a 400 JSON error; with the page's token it succeeds."""
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "t1", "password": "pass1234", "csrf_token": token})
    body = {"contact_id": people.c1, "subject": "s", "category": "other"}
    r = client.post("/api/tickets", json=body)
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]
    page = client.get("/tickets").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    r = client.post("/api/tickets", json=body, headers={"X-CSRFToken": token})
    assert r.status_code == 201
