"""Simulated email customers on the shared event log (simulator/email_stream.py): a reply recorded by another
process reaches the customer's mailbox from its ``email.sent`` event, read and answered once however many times
the event is delivered; a wrap-up from the log closes the case; the owner record says the contact is an email
customer's, and only such contacts are routed to an owner. tests/multiprocess/test_listeners.py does it with real
processes."""

from __future__ import annotations

import pytest

from accounts.models import User
from channels.email import mailbox
from contacts.actions import do_wrap_up_contact
from contacts.models import Contact, ContactEvent, event_dict
from extensions import db

from .test_email_customers import later, mails, reply, states, world  # noqa: F401  (world: a fixture)

pytestmark = pytest.mark.app_config(GRADING_AUTO=False, EMAIL_CUSTOMER_PACE=0.01)

ANSWER = (
    "Dear Ms Lopez,\n\nThank you for your email. I checked your order US2506270170: the latest scan shows it is on "
    "its way with SwiftPost and it is expected to arrive on Friday.\n\nKind regards,\nKefu Mall Customer Service"
)


def _payload(cid: int, type_: str) -> dict:
    db.session.expire_all()
    ev = db.session.scalars(
        db.select(ContactEvent).where(ContactEvent.contact_id == cid, ContactEvent.type == type_)
    ).all()[-1]
    return {"type": "contact_event", "event": event_dict(ev)}


def test_a_reply_from_the_log_is_read_and_answered_once(app, world):  # noqa: F811
    """The reply is recorded, but this process's mailbox never got it (as when the desk is on another process):
    the ``email.sent`` event delivered twice from the log puts it in the mailbox once; the customer answers once.
    The wrap-up from the log closes the case (the customer is forgotten)."""
    mail = world["mail"]
    with app.app_context():
        cid = world["engine"].start_customer("en-email-order-status", seed=1)
        record = world["engine"].ownership.record("contact", cid)
        assert record == {
            "owner": world["engine"].process_id,
            "channel": "email",
            "seed": "1",
            "exercise_id": "",
            "started_by": "",
            "reserve_for": "",
        }
        assert mail._owner_of({"event": {"contact_id": cid}}) == world["engine"].process_id
        cust = mail.customers[mail._by_contact[cid]]
        reply(world["agent"], cid, ANSWER)
        mailbox.fetch(cust.address)  # emptied: the reply went to another process's mailbox
        mail._inbox.clear()
        sent = _payload(cid, "email.sent")
        mail.on_stream(sent)
        mail.on_stream(sent)  # at least once: a second delivery of the same entry
        assert len(mailbox.fetch(cust.address, keep=True)) == 1
        later(world, 3600)
        answers = mails(cid)
        assert len(answers) == 2, [m.text for m in answers]
        assert "Thanks for the quick and clear answer" in answers[1].text
        assert [s["end"] for s in states(cid)].count("satisfied") == 1
        mail.on_stream(sent)  # read already: not delivered again
        assert mailbox.fetch(cust.address, keep=True) == []
        do_wrap_up_contact(db.session.get(Contact, cid), db.session.get(User, world["agent"]), "ENQ_DELIVERY")
        mail._inbox.clear()  # as if recorded elsewhere
        assert cust.wrapped_at is None
        mail.on_stream(_payload(cid, "wrap_up"))
        mail.tick()
        assert cust.wrapped_at is not None and cust.done
        assert cust.key not in mail.customers  # nothing more to write: forgotten


def test_only_an_email_customers_contact_has_an_email_owner(app, world):  # noqa: F811
    """A chat customer's owner record carries no channel: its events are not routed to email customers."""
    with app.app_context():
        engine = world["engine"]
        engine.ownership.claim("contact", 999_001)
        assert world["mail"]._owner_of({"event": {"contact_id": 999_001}}) is None
        engine.ownership.claim("contact", 999_002, channel="email")
        assert world["mail"]._owner_of({"event": {"contact_id": 999_002}}) == engine.process_id


def test_a_reply_whose_log_entry_redis_lost_is_read_once_after_the_reannounce(app, world):  # noqa: F811
    """Redis was flushed: the shared log's groups and the owner records went with it, so a reply recorded just then
    never reached the customer (its entry lost, or skipped while no record named an owner), and neither did the
    wrap-up that followed. When this process puts its owner records back (the liveness ``reannounce`` hook), its
    email customers catch up from the recording: the reply is read once, the answer sent once, and a second
    catch-up changes nothing; the wrap-up then closes the case. (Before, the customer never read the reply.)"""
    mail, engine = world["mail"], world["engine"]
    with app.app_context():
        cid = engine.start_customer("en-email-order-status", seed=1)
        cust = mail.customers[mail._by_contact[cid]]
        reply(world["agent"], cid, ANSWER)
        mailbox.fetch(cust.address)  # the entry that would have put it in this process's mailbox is gone
        mail._inbox.clear()
        later(world, 30)  # an answer would take 6-18 s here (a chaser 72 s)
        assert states(cid) == [] and len(mails(cid)) == 1  # nobody told the customer
        engine.reannounce()
        engine.reannounce()  # twice (a second loss, or the log's regrouping too): still read once
        later(world, 30)
        answers = mails(cid)
        assert len(answers) == 2 and "Thanks for the quick and clear answer" in answers[1].text, answers
        assert len(states(cid)) == 1
        do_wrap_up_contact(db.session.get(Contact, cid), db.session.get(User, world["agent"]), "ENQ_DELIVERY")
        mail._inbox.clear()  # its entry lost too
        engine.reannounce()
        mail.tick()
        assert cust.wrapped_at is not None and cust.key not in mail.customers


def test_a_reply_that_went_to_a_stale_records_process_is_read_once_the_record_is_claimed_back(app, world):  # noqa: F811
    """While a stale owner record named a stalled process (its re-announce after a Redis loss), the agent's reply
    was delivered there, not here. This process, whose lease the customer still is, claims the record back and its
    email customers catch up from the recording: the reply is read and answered once (before: the customer was
    let go; with the record claimed back alone, never read)."""
    mail, engine = world["mail"], world["engine"]
    with app.app_context():
        cid = engine.start_customer("en-email-order-status", seed=1)
        cust = mail.customers[mail._by_contact[cid]]
        engine.ownership.client.hset(engine.ownership.key("contact", cid), "owner", "host-9-stalled")
        reply(world["agent"], cid, ANSWER)
        mailbox.fetch(cust.address)  # delivered to the stalled process, which dropped it
        mail._inbox.clear()
        engine._lease_check_at = 0.0  # the once-a-second check is due
        assert engine.check_leases() == []
        assert engine.ownership.record("contact", cid)["owner"] == engine.process_id
        later(world, 30)  # an answer would take 6-18 s here (a chaser 72 s)
        answers = mails(cid)
        assert len(answers) == 2 and "Thanks for the quick and clear answer" in answers[1].text, answers
        assert len(states(cid)) == 1
