"""A simulated email customer taken over from its recording (simulator/email_takeover.py), as when its process dies
or a web process hands it to a simulator worker: it goes on in the same mind and thread, reads the replies it never
read, sends the answer it had decided on but not sent, and answers nothing twice. tests/multiprocess/
test_listeners.py does it with real processes and kill -9."""

from __future__ import annotations

import pytest

from contacts.models import Contact

from .builders import lease_fails_once
from .test_email_customers import later, mails, reply, states, ticket_for, world  # noqa: F401  (world: a fixture)

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


def test_an_answer_sent_by_the_old_driver_and_the_taker_is_recorded_once(app, world):  # noqa: F811
    """The customer read the reply and its answer is due when another process takes it over from the recording
    (its process was taken for dead on a stalled machine, or sent the answer just as it died): the old driver and
    the taker both send the answer to that reply. The endpoint records it once: an answer's Message-ID is made
    from the reply it answers, the same in both (it was random: recorded twice, tests/multiprocess/test_listeners.py
    saw four mails instead of three)."""
    import heapq

    with app.app_context():
        engine, mail = world["engine"], world["mail"]
        cid = engine.start_customer("zh-email-late-fridge-complaint", seed=3)
        reply(world["agent"], cid, BRUSH_OFF)
        mail.tick()  # read: the reaction is recorded, the answer is due in 600-1800 s
        old = mail.customers[mail._by_contact[cid]]
        due = [m for m in mail._mails if m.key == old.key]
        assert [m.kind for m in due] == ["reply"]
        _die(mail, cid)
        _take_over(world, cid)  # the taker owes the same answer
        mail.customers[old.key] = old  # ...and the old driver still sends its own
        heapq.heappush(mail._mails, due[0])
        later(world, 4000)
        received = mails(cid)
        assert len(received) == 2, [m.text for m in received]
        assert "主管" in received[-1].text and len(states(cid)) == 1


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


# -- a customer waiting days to write a follow-up (issue 18) ----------------------------------------------------

FOLLOW_UP = "en-email-refund-follow-up"
REFUND_ANSWER = (
    "Dear Mr Harris,\n\nThank you for your email. The warehouse received the return; I have escalated the refund to "
    "the finance team to expedite it within 24 hours.\n\nYour ticket is {number}.\n\nBest regards,\nKefu Mall "
    "Customer Service"
)
TWO_DAYS = 172800  # the scenario's follow_up.after_seconds


def _wrapped_and_waiting(world) -> tuple[int, float]:  # noqa: F811
    """A follow-up scenario's customer answered (it stays silent) and its contact wrapped up: it now waits two days
    to write again. Returns the contact and the time its follow-up is due."""
    from sqlalchemy import select

    from accounts.models import User
    from contacts.actions import do_wrap_up_contact
    from contacts.models import ContactEvent
    from extensions import db

    cid = world["engine"].start_customer(FOLLOW_UP, seed=2)
    number = ticket_for(world["agent"], cid, "refunds")
    reply(world["agent"], cid, REFUND_ANSWER.format(number=number))
    later(world, 5000)
    assert len(mails()) == 1 and states(cid)[-1]["reaction"] == "silence"
    do_wrap_up_contact(db.session.get(Contact, cid), db.session.get(User, world["agent"]), "REFUND")
    later(world, 60)
    wrapped = db.session.scalar(
        select(ContactEvent.ts).where(ContactEvent.contact_id == cid, ContactEvent.type == "wrap_up")
    )
    return cid, float(wrapped) + TWO_DAYS * world["mail"].pace


def _listed(mail, cid: int) -> float | None:
    from extensions import redis_store

    return redis_store.client.zscore(redis_store.key("sim", "email", "later"), str(cid))


def _follow_ups(cid: int) -> list:
    """The customer's follow-up mails (the scenario's ``follow_up`` body) after the wrapped-up contact ``cid``."""
    return [m for m in mails() if m.contact_id != cid and "Two days ago you told me" in (m.text or "")]


def _as_if_dead(world, cid: int) -> None:  # noqa: F811
    """The customer's process died: nothing of it is left here, and its owner record names a process with no
    heartbeat."""
    engine = world["engine"]
    _die(world["mail"], cid)
    assert engine.ownership.take("contact", cid, engine.process_id, to="host-9-deadbeef")


def test_a_customer_waiting_to_follow_up_is_taken_over_and_writes_once_when_due(app, world):  # noqa: F811
    """The contact is wrapped up and the customer waits two days to write again when its process dies. The process
    that adopts the dead one's work takes it over although its contact is no longer open (it was left behind), and
    the follow-up goes out at the time it was due - not before, and once."""
    from clock import clock

    with app.app_context():
        engine, mail = world["engine"], world["mail"]
        cid, due = _wrapped_and_waiting(world)
        _as_if_dead(world, cid)
        done = engine.recover()
        assert cid in done["taken_over"]
        assert engine.ownership.record("contact", cid)["owner"] == engine.process_id
        assert _listed(mail, cid) == pytest.approx(due)  # still waiting, here now
        later(world, due - clock.timestamp() - 5)
        assert len(mails()) == 1  # not before it is due
        later(world, 10)
        received = mails()
        assert len(received) == 2, [m.text for m in received]
        follow = received[-1]
        assert follow.contact_id != cid and follow.data["follows_contact_id"] == cid
        assert due <= follow.ts <= due + 10
        assert "Two days ago" in follow.text
        assert _listed(mail, cid) is None
        later(world, TWO_DAYS)  # (a chaser of the follow-up's own may come: it is a new conversation)
        assert len(_follow_ups(cid)) == 1 and len(mails(cid)) == 1  # once


def test_a_follow_up_already_recorded_is_not_written_again_by_the_taker(app, world):  # noqa: F811
    """The follow-up went out and the customer's process died before it could unlist the customer: the taker finds
    the follow-up in the recording and writes nothing."""
    with app.app_context():
        engine, mail = world["engine"], world["mail"]
        cid, due = _wrapped_and_waiting(world)
        later(world, TWO_DAYS)
        assert len(mails()) == 2 and _listed(mail, cid) is None
        from extensions import redis_store

        # Listed again, as if the death came between the send and the unlisting.
        redis_store.client.zadd(redis_store.key("sim", "email", "later"), {str(cid): due})
        _as_if_dead(world, cid)
        done = engine.recover()
        assert cid not in done["taken_over"] and cid not in done["handed"]
        assert _listed(mail, cid) is None
        later(world, 2 * TWO_DAYS)
        assert len(_follow_ups(cid)) == 1 and len(mails(cid)) == 1


def test_a_customer_whose_owner_record_redis_lost_is_taken_over_with_its_own_seed(app, world):  # noqa: F811
    """Redis lost the owner record (a flush) and the customer's process is gone, so nobody announces it again: the
    adoption finds the seed recorded in the database when the contact opened (simulator/seeds.py) and the customer
    goes on in its own mind, escalating after a second brush-off as it would have. Without the recorded seed the
    contact was ended simulator_restarted."""
    from extensions import db
    from simulator.seeds import recorded_seed

    with app.app_context():
        engine, mail = world["engine"], world["mail"]
        cid = engine.start_customer("zh-email-late-fridge-complaint", seed=3)
        assert recorded_seed(cid).seed == 3
        reply(world["agent"], cid, BRUSH_OFF)
        later(world, 4000)
        _die(mail, cid)
        engine.ownership.release("contact", cid)  # the record went with the flush
        reply(world["agent"], cid, BRUSH_OFF_2)
        db.session.remove()
        done = engine.recover()
        assert cid in done["taken_over"] and cid not in done["ended"], done
        assert engine.ownership.record("contact", cid)["seed"] == "3"
        later(world, 4000)
        received = mails(cid)
        assert len(received) == 3, [m.text for m in received]
        assert received[-1].data["centre_address"] == "complaints@kefu.local"
        assert db.session.get(Contact, cid).status != "ended"


def test_two_customers_of_one_address_in_one_process_each_read_their_own_reply(app, world):  # noqa: F811
    """Two customers of one scenario on two simulator workers write from the scenario's address (a process keeps
    its own customers' addresses apart, not another's). One worker dies and the other takes its customer over: two
    customers, one address, one process. Each reads the reply to its own contact, once, and answers it in its own
    thread. (Before, the customer taken over last owned the address: it read both replies, the other none.)"""
    with app.app_context():
        engine, mail = world["engine"], world["mail"]
        a = engine.start_customer("zh-email-late-fridge-complaint", seed=3)
        _die(mail, a)  # A lives on the other worker
        b = engine.start_customer("zh-email-late-fridge-complaint", seed=5)
        _take_over(world, a)  # that worker died: A comes here, with the address B writes from

        def address(cid):
            return mails(cid)[0].data["from"]["address"]

        assert address(a) == address(b)
        reply(world["agent"], b, BRUSH_OFF)
        mail.tick()
        assert (len(states(a)), len(states(b))) == (0, 1)
        reply(world["agent"], a, BRUSH_OFF)
        mail.tick()
        assert (len(states(a)), len(states(b))) == (1, 1)
        later(world, 4000)
        assert (len(mails(a)), len(mails(b))) == (2, 2)
        assert (len(states(a)), len(states(b))) == (1, 1)


def test_a_customer_whose_lease_failed_when_their_mail_was_recorded_goes_on(app, world, monkeypatch):  # noqa: F811
    """Taking the customer's lease failed just after their opening was recorded (the database busy past its timeout,
    a dropped connection), while their owner record names this live process, so nobody would adopt them: the lease
    is taken again at their next read, and they answer the reply (before, they were let go at once: no answer, and
    nobody drove them again)."""
    with app.app_context():
        engine, mail = world["engine"], world["mail"]
        failed = lease_fails_once(monkeypatch, engine.ownership, RuntimeError("database is locked"))
        cid = engine.start_customer("zh-email-late-fridge-complaint", seed=3)
        assert failed == [cid] and engine.ownership.record("contact", cid)["owner"] == engine.process_id
        reply(world["agent"], cid, BRUSH_OFF)
        later(world, 4000)
        assert len(mails(cid)) == 2 and "主管" in mails(cid)[-1].text
        assert len(states(cid)) == 1 and mail.drives(cid)


def test_an_exercise_arrival_opened_by_two_processes_is_one_customer(app, world):  # noqa: F811
    """A process checks the exercise's lease and sends an arrival's opening; before its seed is recorded another
    process adopts the exercise, finds the arrival not started and sends it too. The endpoint records the second
    opening as a duplicate of the first (same Message-ID, made from the exercise and the arrival's seed): one contact,
    one mail (before, each opening had a random Message-ID: two customers for one arrival)."""
    from extensions import db

    with app.app_context():
        engine, mail = world["engine"], world["mail"]
        ex, arrival = _email_drill()
        cid = engine.start_customer("zh-email-late-fridge-complaint", **arrival)
        _die(mail, cid)  # the first process, stalled: its customer is not in this one
        assert engine.start_customer("zh-email-late-fridge-complaint", **arrival) == cid
        db.session.expire_all()
        assert len(db.session.scalars(db.select(Contact).where(Contact.exercise_id == ex.id)).all()) == 1
        assert len(mails(cid)) == 1 and len(mails()) == 1
        other = engine.start_customer("zh-email-late-fridge-complaint", exercise_id=ex.id, seed=ex.seed * 100_003 + 1)
        assert other != cid  # the exercise's next arrival is a customer of its own


def test_an_arrival_whose_opening_another_process_drives_is_let_go_here(app, world):  # noqa: F811
    """The other process sent the arrival's opening and took its customer's lease while this one was stalled before
    sending the same: this one's opening is a duplicate, and it leaves the customer to that process (it reads the
    replies at the address the recorded mail came from) instead of taking its lease."""
    from simulator.ownership import Ownership

    with app.app_context():
        engine, mail = world["engine"], world["mail"]
        ex, arrival = _email_drill()
        cid = engine.start_customer("zh-email-late-fridge-complaint", **arrival)
        _die(mail, cid)
        lease = Ownership("host-5-other").take_lease("contact", cid)  # the process that drives it
        assert engine.start_customer("zh-email-late-fridge-complaint", **arrival) == cid
        assert not mail.drives(cid) and not mail.customers
        assert engine.ownership.lease_holder("contact", cid) == "host-5-other"
        assert Ownership("host-5-other").holds("contact", cid, lease)


def test_only_an_exercise_arrivals_opening_asks_who_holds_its_lease(app, world):  # noqa: F811
    """An opening outside an exercise has a random Message-ID, so it is never recorded as a duplicate of another
    process's: sending it asks the database nothing about the lease holder. An exercise arrival's opening (a fixed
    Message-ID, which two processes may both send) still asks, once. (Before: every opening asked - a query for
    each email customer of the centre, none of which could be a duplicate.)"""
    import re

    from sqlalchemy import event

    from extensions import db

    asked: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if re.match(r"SELECT simulated_customers\.driver\s+FROM simulated_customers", statement):
            asked.append(statement)

    with app.app_context():
        engine, mail = world["engine"], world["mail"]
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            cid = engine.start_customer("zh-email-late-fridge-complaint", seed=3)
            alone = len(asked)
            ex, arrival = _email_drill()
            arrived = engine.start_customer("zh-email-late-fridge-complaint", **arrival)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert mail.drives(cid) and mail.drives(arrived) and arrived != cid
    assert alone == 0
    assert len(asked) == 1


def _email_drill():
    """A drill of one email scenario, and its first arrival (the exercise and the seed it starts with)."""
    from extensions import db
    from simulator.models import Exercise

    ex = Exercise(name="drill", mix={"zh-email-late-fridge-complaint": 1}, rate_per_minute=1, duration_seconds=60)
    db.session.add(ex)
    db.session.commit()
    return ex, {"exercise_id": ex.id, "seed": ex.seed * 100_003}
