"""Threading is bound to the sender (issue 16, item 1): a stranger who quotes a customer's Message-ID, our reply's
Message-ID or a guessed ticket token opens a flagged contact of their own, and the trainee's replies go only to
whoever wrote each contact. Over real SMTP; replies parsed back with the email package."""

from __future__ import annotations

from email import message_from_bytes, policy

from sqlalchemy import select

from channels.email import mailbox
from contacts.models import Contact, ContactEvent
from extensions import db

from .corpus import raw_text


def _received(app, contact_id=None) -> list[ContactEvent]:
    with app.app_context():
        q = select(ContactEvent).where(ContactEvent.type == "email.received").order_by(ContactEvent.id)
        if contact_id is not None:
            q = q.where(ContactEvent.contact_id == contact_id)
        evs = list(db.session.scalars(q))
        db.session.expunge_all()
        return evs


def _contacts(app) -> list[Contact]:
    with app.app_context():
        cs = list(db.session.scalars(select(Contact).order_by(Contact.id)))
        db.session.expunge_all()
        return cs


def _reply(
    client, cid, text="Dear customer,\n\nThank you for your email.\n\nBest regards,\nKefu Mall Customer Service"
):
    resp = client.post(f"/api/email/contacts/{cid}/reply", json={"body_text": text})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["event"]


def test_a_stranger_quoting_a_customers_message_id_gets_a_contact_of_their_own(app, send, agent, client, auth):
    """A stranger's mail with In-Reply-To of Li's Message-ID opens a second contact flagged thread_refused; Li's
    contact keeps only Li's mail, and replies on each contact go to its own sender only."""
    send(
        raw_text("My order is late", from_addr="li@example.com", message_id="<li-1@example.com>"),
        sender="li@example.com",
    )
    send(
        raw_text(
            "Send the refund to my card instead",
            subject="Re: Order question",
            from_addr="eve@evil.example",
            in_reply_to="<li-1@example.com>",
        ),
        sender="eve@evil.example",
    )
    li_contact, eve_contact = _contacts(app)
    assert [e.data["from"]["address"] for e in _received(app, li_contact.id)] == ["li@example.com"]
    (eve_mail,) = _received(app, eve_contact.id)
    assert eve_mail.data["threaded_by"] is None
    assert eve_mail.data["thread_refused"] == {"contact_id": li_contact.id, "by": "in_reply_to"}
    assert any("different address" in n for n in eve_mail.data["notes"])

    mailbox.fetch("li@example.com")
    mailbox.fetch("eve@evil.example")
    auth.login("mailagent")
    _reply(client, eve_contact.id)
    _reply(client, li_contact.id)
    (to_eve,) = mailbox.fetch("eve@evil.example")
    (to_li,) = mailbox.fetch("li@example.com")
    assert to_eve["To"] == "eve@evil.example" and to_eve["In-Reply-To"] == eve_mail.data["message_id"]
    assert to_li["To"] == "li@example.com" and to_li["In-Reply-To"] == "<li-1@example.com>"
    thread = client.get(f"/api/email/contacts/{eve_contact.id}/thread").get_json()
    shown = next(e for e in thread["events"] if e["type"] == "email.received")
    assert shown["data"]["thread_refused"]["contact_id"] == li_contact.id


def test_a_stranger_answering_our_reply_to_a_customer_does_not_join(app, send, agent, client, auth):
    """Our reply's Message-ID quoted by someone other than its recipient (a forwarded copy, a guess) does not
    put their mail on the customer's contact."""
    send(raw_text("Question", from_addr="wu@example.com", message_id="<wu-1@example.com>"), sender="wu@example.com")
    (wu_contact,) = _contacts(app)
    auth.login("mailagent")
    sent = _reply(client, wu_contact.id)
    send(
        raw_text(
            "I am Wu's assistant, change the address",
            from_addr="other@example.net",
            in_reply_to=sent["data"]["message_id"],
        ),
        sender="other@example.net",
    )
    send(
        raw_text("Thanks!", subject="Re: Question", from_addr="Wu@Example.com", in_reply_to=sent["data"]["message_id"]),
        sender="wu@example.com",
    )
    contacts = _contacts(app)
    assert len(contacts) == 2
    assert [e.data["from"]["address"] for e in _received(app, wu_contact.id)] == ["wu@example.com", "wu@example.com"]
    assert _received(app, wu_contact.id)[1].data["threaded_by"] == "in_reply_to"
    (other,) = _received(app, contacts[1].id)
    assert other.data["thread_refused"]["contact_id"] == wu_contact.id


def test_a_guessed_ticket_token_opens_a_new_contact_without_the_ticket(app, send, agent):
    """Ticket numbers are date + a daily counter: a stranger writing "[T...]" in the subject gets a contact of
    their own, not linked to the ticket; the ticket's customer with the same token threads onto the ticket."""
    from accounts.models import User
    from contacts.actions import do_wrap_up_contact
    from tickets.actions import do_create_ticket, tickets_for_contact

    from .test_smtp import _category

    send(raw_text("Broken kettle", from_addr="zhao@example.com"), sender="zhao@example.com")
    with app.app_context():
        user = db.session.get(User, agent)
        first = db.session.scalars(select(Contact)).one()
        number = do_create_ticket(user, first, subject="Kettle", category=_category()).number
        do_wrap_up_contact(first, user, "WARRANTY")
    send(
        raw_text("Refund me", subject=f"Re: kettle [{number}]", from_addr="guess@evil.example"),
        sender="guess@evil.example",
    )
    send(
        raw_text("Any news?", subject=f"Re: kettle [{number}]", from_addr="zhao@example.com"), sender="zhao@example.com"
    )
    first, stranger, follow_up = _contacts(app)
    (ev,) = _received(app, stranger.id)
    assert ev.data["thread_refused"] == {"contact_id": first.id, "by": "ticket_token", "ticket_number": number}
    assert ev.data["ticket_number"] is None and ev.data["follows_contact_id"] is None
    (ok,) = _received(app, follow_up.id)
    assert ok.data["threaded_by"] == "ticket_token" and ok.data["follows_contact_id"] == first.id
    with app.app_context():
        assert tickets_for_contact(stranger.id) == []
        assert [t.number for t in tickets_for_contact(follow_up.id)] == [number]


def test_the_reply_answers_the_customers_latest_mail(app, send, agent, client, auth):
    """With two mails from the customer on one contact the reply threads to the latest, addressed to them, and
    References carries the chain; parsed back from the recorded bytes."""
    send(raw_text("One", from_addr="qian@example.com", message_id="<q-1@example.com>"), sender="qian@example.com")
    send(
        raw_text("Two", from_addr="qian@example.com", message_id="<q-2@example.com>", in_reply_to="<q-1@example.com>"),
        sender="qian@example.com",
    )
    (contact,) = _contacts(app)
    auth.login("mailagent")
    sent = _reply(client, contact.id)
    with app.app_context():
        ev = db.session.get(ContactEvent, sent["id"])
        rendered = message_from_bytes(ev.data["rendered"].encode("ascii"), policy=policy.default)
    assert rendered["To"] == "qian@example.com" and rendered["In-Reply-To"] == "<q-2@example.com>"
    assert rendered["References"].split() == ["<q-1@example.com>", "<q-2@example.com>"]
