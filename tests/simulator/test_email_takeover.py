"""A simulated email customer taken over from its recording (simulator/email_takeover.py), as when its process dies
or a web process hands it to a simulator worker: it goes on in the same mind and thread, reads the replies it never
read, sends the answer it had decided on but not sent, and answers nothing twice. tests/multiprocess/
test_listeners.py does it with real processes and kill -9."""

from __future__ import annotations

import pytest

from contacts.models import Contact

from .test_email_customers import later, mails, reply, states, world  # noqa: F401  (world: a fixture)

pytestmark = pytest.mark.app_config(GRADING_AUTO=False)

BRUSH_OFF = "您好：\n\n没办法，快递的事我们也不知道。\n\n客服中心"
BRUSH_OFF_2 = "您好：\n\n没办法，再等等吧。\n\n客服中心"


def _die(mail, cid: int) -> None:
    """The customer's process is gone: nothing of it is left here (its mailbox, its mind, its due mails)."""
    cust = mail.customers[mail._by_contact[cid]]
    mail._drop_customer(cust)


def _take_over(world, cid: int) -> None:  # noqa: F811
    from extensions import db

    engine = world["engine"]
    record = engine.ownership.record("contact", cid)
    assert record["channel"] == "email" and record["seed"].isdigit()
    assert engine._take_over(db.session.get(Contact, cid), record)


def test_a_reply_sent_while_nobody_drove_the_customer_is_answered_once(app, world):  # noqa: F811
    """The customer complained after a first brush-off; its process dies; a second brush-off is sent meanwhile.
    The customer taken over from the recording reads only the second one and escalates, as the customer that
    never died does (test_email_customers: brush-offs bring complaints, then an escalation)."""
    with app.app_context():
        engine, mail = world["engine"], world["mail"]
        cid = engine.start_customer("zh-email-late-fridge-complaint", seed=3)
        reply(world["agent"], cid, BRUSH_OFF)
        later(world, 4000)
        assert "主管" in mails(cid)[-1].text
        _die(mail, cid)
        reply(world["agent"], cid, BRUSH_OFF_2)  # nobody reads it
        later(world, 4000)
        assert len(mails(cid)) == 2
        _take_over(world, cid)
        later(world, 4000)
        received = mails(cid)
        assert len(received) == 3, [m.text for m in received]
        escalation = received[-1]
        assert escalation.data["centre_address"] == "complaints@kefu.local" and "第三封邮件" in escalation.text
        assert [s["reaction"] for s in states(cid)].count("escalation") == 1
        assert states(cid)[-1]["emotion"] == 3
        later(world, 4000)
        assert len(mails(cid)) == 3  # nothing said twice


def test_an_answer_decided_but_not_sent_goes_out_once(app, world):  # noqa: F811
    """The customer read the reply (its reaction recorded) and its process died before the answer went out: the
    customer taken over sends that answer, once, and does not read the reply again."""
    with app.app_context():
        engine, mail = world["engine"], world["mail"]
        cid = engine.start_customer("zh-email-late-fridge-complaint", seed=3)
        reply(world["agent"], cid, BRUSH_OFF)
        mail.tick()  # read: the reaction is recorded, the answer is due in 600-1800 s
        assert len(states(cid)) == 1 and len(mails(cid)) == 1
        _die(mail, cid)
        _take_over(world, cid)
        later(world, 4000)
        received = mails(cid)
        assert len(received) == 2 and "主管" in received[-1].text
        assert len(states(cid)) == 1  # the reply was not read a second time
        later(world, 4000)
        assert len(mails(cid)) == 2


def test_a_customer_handed_to_a_worker_is_forgotten_here(app, world):  # noqa: F811
    """With a simulator worker alive, the web process sends the opening, names the worker the owner and forgets the
    customer; the worker's take-over finds the opening sent and waits for a reply."""
    with app.app_context():
        engine, mail = world["engine"], world["mail"]
        engine.liveness.beat()
        engine.ownership.register_worker(0)
        try:
            cid = engine.start_customer("en-email-order-status", seed=1)
            record = engine.ownership.record("contact", cid)
            assert record["owner"] == engine.process_id  # the only live "worker" here is this process
            assert not mail.drives(cid)
        finally:
            engine.ownership.unregister_worker()
        assert engine._adopt_contact(cid)
        assert mail.drives(cid)
        later(world, 4000)
        assert len(mails(cid)) == 1  # the opening, not sent again
