"""Live updates for the email workspace over Socket.IO (/desk): an agent's socket hears new mail on their
contacts and their new assignments; other agents do not, and roles without a desk cannot connect."""

from __future__ import annotations

from sqlalchemy import select

from contacts.models import Contact
from extensions import db

from .corpus import raw_text


def _events(sc) -> list[dict]:
    return [
        a["args"][0]["event"]
        for a in sc.get_received("/desk")
        if a["name"] == "event" and a["args"][0].get("type") == "contact_event"
    ]


def test_new_mail_and_assignments_reach_the_agents_socket_only(
    app, client, auth, send, agent, make_user, socket_client
):
    """The assignment of a new email contact reaches the agent's room; a follow-up mail on that contact reaches
    the agent's socket (joined to the contact's room) and not another agent's."""
    auth.login("mailagent")
    mine = socket_client("/desk")
    assert mine.is_connected("/desk")
    mine.get_received("/desk")
    send(raw_text("First mail", message_id="<live1@example.com>"))
    got = _events(mine)
    assert any(e["type"] == "assignment" and e["data"]["agent_id"] == agent for e in got)
    with app.app_context():
        cid = db.session.scalars(select(Contact)).one().id
    assert mine.emit("join_contact", {"contact_id": cid}, namespace="/desk", callback=True)["ok"]

    other_client = app.test_client()
    make_user("other", role="trainee")
    other_client.post("/login", data={"username": "other", "password": "pass1234"})
    theirs = socket_client("/desk", http_client=other_client)
    assert theirs.is_connected("/desk")
    theirs.get_received("/desk")
    mine.get_received("/desk")

    send(raw_text("Second mail", subject="Re: Order question", in_reply_to="<live1@example.com>"))
    live = [e for e in _events(mine) if e["type"] == "email.received"]
    assert len(live) == 1 and live[0]["contact_id"] == cid and live[0]["text"].strip() == "Second mail"
    assert not [e for e in _events(theirs) if e["contact_id"] == cid]


def test_roles_without_a_desk_cannot_connect(app, client, auth, make_user, socket_client):
    """A grader's socket is refused on /desk, so no mail reaches it."""
    make_user("gina", role="grader")
    auth.login("gina")
    sc = socket_client("/desk")
    assert not sc.is_connected("/desk")
