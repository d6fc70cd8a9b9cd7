"""Typed events: every type has a schema checked on append, and docs/events.md is current with the schemas."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from contacts.catalogue import DOC_PATH, render_catalogue
from contacts.event_types import EventSchemaError, registered
from contacts.events import append_event
from contacts.models import ContactEvent
from extensions import db


def test_docs_events_md_is_current(app):
    """docs/events.md is what `flask events catalogue` writes from the schemas today."""
    with app.app_context():
        assert DOC_PATH.read_text(encoding="utf-8") == render_catalogue(), (
            "docs/events.md is stale: run .venv/bin/flask --app app events catalogue"
        )


def test_every_contact_event_type_in_the_code_has_a_schema(app):
    """The lifecycle, ticket, call and channel types the desk and grading rely on are all declared."""
    with app.app_context():
        names = set(registered())
    for name in ("contact.created", "assignment", "transfer", "contact.ended", "contact.abandoned", "wrap_up",
                 "message", "typing", "csat.invited", "ticket.created", "crm.verify", "kb.send", "call.ended",
                 "call.transcript", "email.received", "group.opened", "livestream.comment", "monitor.takeover",
                 "video.id_verification", "customer.state"):  # fmt: skip
        assert name in names, name


@pytest.mark.bad_events
@pytest.mark.parametrize(
    ("type_", "actor", "text", "data", "why"),
    [
        ("contact.finished", "system", None, {}, "unknown event type"),
        ("wrap_up", "agent", None, {}, "code"),  # a required field missing
        ("wrap_up", "agent", None, {"code": "X", "cod": "typo"}, "cod"),  # a key nobody declared
        ("typing", "agent", None, {"typing": "maybe"}, "typing"),  # a wrong type
        ("message", "agent", None, {}, "needs its text"),
        ("assignment", "customer", None, {"agent_id": 1, "agent_name": "a", "wait_seconds": 0}, "actor"),
        ("note", "system", "a note", {"extra": 1}, "extra"),
    ],
)
def test_a_bad_event_is_refused_and_nothing_is_written(app, type_, actor, text, data, why):
    """Appending an unknown type, or a payload its schema refuses, raises and records nothing."""
    from contacts.actions import do_create_contact

    with app.app_context():
        contact = do_create_contact("chat", "chat.general", lang="en", customer_name="Li")
        count = db.session.scalar(select(func.count()).select_from(ContactEvent))
        with pytest.raises(EventSchemaError, match=why):
            append_event(contact, type_, actor, text=text, data=data)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(ContactEvent)) == count
