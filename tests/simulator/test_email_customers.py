"""Simulated email customers over the real SMTP endpoint: they send their scenario's mail (encodings,
attachments), read the trainee's reply and answer as the scenario says - thanks, silence, a complaint, an
escalation, a chaser, a follow-up days later that threads onto the ticket - on the sandbox clock."""

from __future__ import annotations

import smtplib

import pytest
from sqlalchemy import select

from accounts.models import User
from clock import clock
from contacts.actions import do_wrap_up_contact
from contacts.models import Contact, ContactEvent
from extensions import db
from routing.actions import do_set_agent_state
from scenarios.loader import load_pack_into_db
from simulator.email_compose import CHASER
from tickets.actions import do_create_ticket, tickets_for_contact

from .. import factories
from ..grading.builders import PACKS

pytestmark = pytest.mark.app_config(GRADING_AUTO=False)

REPLY_EN = """Dear Mr White,

Thank you for your email, and I am very sorry about the delay with your fridge (order US2504270160). I understand
how frustrating it is to take days off work for nothing.

I have raised an urgent courier investigation today: the courier must reply within 24 hours. If the fridge is
lost, we will reship it or refund you in full, as you prefer.

Your ticket number is {number}; I will email you the result within 24 hours.

Best regards,
Anna
Kefu Mall Customer Service"""


@pytest.fixture
def world(app, tmp_path):
    """Both packs loaded, the SMTP endpoint serving, and an available L4 trainee."""
    from channels.email.smtp import start_smtp, stop_smtp

    app.config["EMAIL_STORAGE_DIR"] = str(tmp_path / "email")
    with app.app_context():
        load_pack_into_db(PACKS / "en")
        load_pack_into_db(PACKS / "zh_CN")
        agent = factories.user("mail4", role="trainee", level="L4")
        do_set_agent_state(agent, "available")
        db.session.commit()
        agent_id = agent.id
    assert start_smtp(app) is not None
    yield {
        "engine": app.extensions["kefu_simulator"],
        "mail": app.extensions["kefu_email_customers"],
        "agent": agent_id,
    }
    stop_smtp(app)


def mails(contact_id=None, type_="email.received"):
    q = select(ContactEvent).where(ContactEvent.type == type_).order_by(ContactEvent.id)
    if contact_id is not None:
        q = q.where(ContactEvent.contact_id == contact_id)
    return list(db.session.scalars(q))


def states(contact_id):
    return [e.data for e in mails(contact_id, "customer.state")]


def reply(agent_id, contact_id, text):
    from channels.email.actions import do_send_email_reply

    db.session.expire_all()
    return do_send_email_reply(db.session.get(User, agent_id), db.session.get(Contact, contact_id), text)


def later(world, seconds):
    """Let ``seconds`` of sandbox time pass and the customers act."""
    world["mail"].tick()
    clock.advance(seconds)
    world["mail"].tick()
    db.session.expire_all()


def ticket_for(agent_id, contact_id, category="delivery"):
    return do_create_ticket(
        db.session.get(User, agent_id), db.session.get(Contact, contact_id), subject="Case", category=category
    ).number


def test_angry_complaint_is_answered_thanked_and_graded(app, client, auth, world):
    """The complaint arrives at complaints@ as a simulated contact of its scenario; a good reply (apology,
    courier chase, ticket number, timing) gets a thank-you in the same thread after a realistic delay; the
    contact then grades end to end with the email rubric and the review page shows the thread."""
    with app.app_context():
        cid = world["engine"].start_customer("en-email-late-fridge-complaint", seed=1)
        contact = db.session.get(Contact, cid)
        assert (contact.channel, contact.queue, contact.simulated, contact.scenario_id, contact.agent_id) == (
            "email",
            "email.complaints",
            True,
            "en-email-late-fridge-complaint",
            world["agent"],
        )
        (first,) = mails(cid)
        assert "US2504270160" in first.text and first.data["from"]["address"] == "steven.white16@example.com"
        assert contact.customer_name == "Steven White"  # linked to the CRM customer by address
        number = ticket_for(world["agent"], cid)
        clock.advance(600)
        reply(world["agent"], cid, REPLY_EN.format(number=number))
        later(world, 100)
        assert len(mails(cid)) == 1  # nobody answers an email in 100 seconds
        later(world, 3600)
        answer = mails(cid)[-1]
        assert answer.data["threaded_by"] == "in_reply_to" and "Thank you for the clear answer" in answer.text
        assert answer.data["subject"] == f"Re: Complaint: fridge order US2504270160 two weeks late [{number}]"
        assert answer.ts - mails(cid, "email.sent")[0].ts >= 900 * 0.55  # reply_delay, faster when upset
        assert states(cid)[-1]["end"] == "satisfied"
        do_wrap_up_contact(db.session.get(Contact, cid), db.session.get(User, world["agent"]), "COMPLAINT")

        from grading.actions import do_grade_contact

        card = do_grade_contact(cid)
        items = {i["id"]: i for i in card.data["items"]}
        assert card.rubric_id == "en-email-standard"
        for item in (
            "salutation",
            "acknowledgement",
            "answer",
            "next-steps",
            "closing",
            "signature",
            "response-time",
            "forbidden-phrases",
            "wrap-up-code",
        ):
            assert items[item]["status"] == "pass", (item, items[item])
    auth.login("mail4")
    page = client.get(f"/review/contacts/{cid}").get_data(as_text=True)
    assert "Complaint: fridge order US2504270160 two weeks late" in page and "Thank you for the clear answer" in page


def test_silence_then_follow_up_threads_onto_the_ticket(app, world):
    """A satisfied customer who stays silent sends nothing; two days after wrap-up they write a new mail with
    the ticket number in the subject, which opens a new simulated contact linked to the same ticket."""
    with app.app_context():
        cid = world["engine"].start_customer("en-email-refund-follow-up", seed=2)
        number = ticket_for(world["agent"], cid, "refunds")
        reply(
            world["agent"],
            cid,
            "Dear Mr Harris,\n\nThank you for your email. The warehouse received the return; I "
            f"have escalated the refund to the finance team to expedite it within 24 hours.\n\nYour ticket is "
            f"{number}.\n\nBest regards,\nKefu Mall Customer Service",
        )
        later(world, 5000)
        assert len(mails(cid)) == 1 and states(cid)[-1]["reaction"] == "silence"
        do_wrap_up_contact(db.session.get(Contact, cid), db.session.get(User, world["agent"]), "REFUND")
        later(world, 3600)
        assert len(mails()) == 1
        later(world, 172800)
        follow = mails()[-1]
        assert follow.contact_id != cid and follow.data["threaded_by"] == "ticket_token"
        assert follow.data["subject"] == f"Refund for order US2506050211 not started [{number}]"
        new = db.session.get(Contact, follow.contact_id)
        assert new.simulated and new.scenario_id == "en-email-refund-follow-up"
        assert new.status in ("queued", "active")  # the agent may still be in after-call work
        assert [t.number for t in tickets_for_contact(new.id)] == [number]


def test_brush_offs_bring_complaints_then_an_escalation_to_complaints(app, world):
    """Two replies that move nothing on: the customer complains, then escalates to complaints@ in the same
    thread, angrier."""
    with app.app_context():
        cid = world["engine"].start_customer("zh-email-late-fridge-complaint", seed=3)
        assert "KF2503130180" in mails(cid)[0].text
        reply(world["agent"], cid, "您好：\n\n没办法，快递的事我们也不知道。\n\n客服中心")
        later(world, 4000)
        second = mails(cid)[-1]
        assert second.data["threaded_by"] == "in_reply_to" and "主管" in second.text
        reply(world["agent"], cid, "您好：\n\n没办法，再等等吧。\n\n客服中心")
        later(world, 4000)
        escalation = mails(cid)[-1]
        assert escalation.data["centre_address"] == "complaints@kefu.local"
        assert "第三封邮件" in escalation.text and escalation.contact_id == cid
        assert states(cid)[-1]["reaction"] == "escalation" and states(cid)[-1]["emotion"] == 3


def test_gbk_customer_chases_an_unanswered_mail(app, world):
    """The GBK 8-bit mail arrives as readable Chinese; with no reply for two hours the customer sends one
    chaser that threads onto the same contact, and no second one."""
    with app.app_context():
        cid = world["engine"].start_customer("zh-email-order-status", seed=4)
        first = mails(cid)[0]
        assert "青禾智能电饭煲" in first.text and first.data["subject"] == "订单 KF2505170190 什么时候到？"
        later(world, 7300)
        chaser = mails(cid)[-1]
        assert len(mails(cid)) == 2 and chaser.data["threaded_by"] == "in_reply_to" and "回复" in chaser.text
        later(world, 20000)
        assert len(mails(cid)) == 2


def test_attachment_and_html_scenarios(app, world):
    """The statement CSV is attached and stored; the webmail customer's mail is HTML only, shown as text."""
    with app.app_context():
        cid = world["engine"].start_customer("zh-email-double-charge-statement", seed=5)
        (att,) = mails(cid)[0].data["attachments"]
        assert att["name"] == "银行卡流水.csv" and att["type"] == "text/csv" and att["size"] > 50
        cid2 = world["engine"].start_customer("en-email-warranty-html", seed=6)
        ev = mails(cid2)[0]
        assert ev.data["html"].startswith("<") and "stopped heating" in ev.text and "<p>" not in ev.text


def test_a_forged_simulation_header_is_not_trusted(app, world):
    """A person copying the simulation header onto their own message does not become a scenario customer."""
    from channels.email.smtp import endpoint_of

    raw = (
        b"From: someone@example.com\r\nTo: service@kefu.local\r\nSubject: hi\r\nMessage-ID: <forged@example.com>\r\n"
        b"X-Kefu-Simulation: scenario=en-email-order-status; exercise=; reserve=; starter=; sig=00\r\n\r\nhello\r\n"
    )
    ep = endpoint_of(app)
    with smtplib.SMTP(ep.host, ep.port, timeout=10) as smtp:
        smtp.sendmail("someone@example.com", ["service@kefu.local"], raw)
    with app.app_context():
        contact = db.session.scalars(select(Contact)).one()
        assert not contact.simulated and contact.scenario_id is None


def test_unknown_or_chat_scenarios_are_refused(app, world):
    """Starting an email customer for a chat scenario is a clear SimulatorError."""
    from simulator.errors import SimulatorError

    with app.app_context(), pytest.raises(SimulatorError, match="not email"):
        world["mail"].start("en-delivery-status")


def test_a_trainee_starts_practice_emails_up_to_the_limit(app, client, auth, world):
    """The practice API starts an email customer reserved for the trainee; email customers count towards the
    trainee's limit of live practice customers, and a second customer of the same scenario gets its own
    (plus-)address."""
    auth.login("mail4")
    ids = []
    for _ in range(3):
        r = client.post("/api/sim/customers", json={"scenario_id": "en-email-order-status", "seed": 1})
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["contact_id"])
    r = client.post("/api/sim/customers", json={"scenario_id": "en-email-order-status"})
    assert r.status_code == 409
    with app.app_context():
        contacts = [db.session.get(Contact, i) for i in ids]
        assert {c.reserved_agent_id for c in contacts} == {world["agent"]} and all(c.simulated for c in contacts)
        senders = {mails(i)[0].data["from"]["address"] for i in ids}
        assert len(senders) == 3 and "nancy.lopez17@example.com" in senders


REFUND_ANSWER = (
    "Dear Mr Harris,\n\nThank you for your email. The warehouse received the return; I have escalated the refund to "
    "the finance team to expedite it within 24 hours.\n\nYour ticket is {number}.\n\nBest regards,\nKefu Mall "
    "Customer Service"
)


def _follow_up(app, world, seed):
    """The refund customer answered (ticket number given), wrapped up, and their follow-up two days later: (the
    first contact, the ticket number, the follow-up's event)."""
    cid = world["engine"].start_customer("en-email-refund-follow-up", seed=seed)
    number = ticket_for(world["agent"], cid, "refunds")
    reply(world["agent"], cid, REFUND_ANSWER.format(number=number))
    later(world, 5000)
    do_wrap_up_contact(db.session.get(Contact, cid), db.session.get(User, world["agent"]), "REFUND")
    later(world, 172800 + 60)
    follow = mails()[-1]
    assert follow.contact_id != cid and "Two days ago" in follow.text
    return cid, number, follow


def _after_call_work_over():
    """The agent's after-call work since a wrap-up runs out, and the ACD assigns what waits."""
    from routing.actions import tick

    clock.advance(600)
    tick()
    db.session.expire_all()


def test_a_chaser_after_a_follow_up_answers_the_follow_up(app, world):
    """Nobody answers the follow-up for two hours: the customer's chaser answers their follow-up, on its contact.
    (It answered the reply read days before in the wrapped-up thread, which opened a third contact.)"""
    with app.app_context():
        cid, number, follow = _follow_up(app, world, seed=7)
        later(world, 7300)
        chaser = mails()[-1]
        assert chaser.id != follow.id and any(line in chaser.text for line in CHASER["en"])
        assert chaser.contact_id == follow.contact_id, (chaser.contact_id, follow.contact_id, cid)
        assert chaser.data["threaded_by"] == "in_reply_to"
        assert follow.data["message_id"] in chaser.data["in_reply_to"]
        assert chaser.data["subject"] == f"Re: Refund for order US2506050211 not started [{number}]"


def test_a_finished_customer_leaves_no_owner_record(app, world):
    """The owner record of a simulated email customer's contact stays while the customer may still write (waiting
    for an answer, satisfied with the contact still open, waiting days to follow up) and is deleted once the case
    is closed and they will write nothing more - both contacts' records when they followed up."""
    from extensions import redis_store

    def records(*ids):
        return [bool(redis_store.client.exists(redis_store.key("sim", "contact", i))) for i in ids]

    with app.app_context():
        mail = world["mail"]
        cid = world["engine"].start_customer("en-email-order-status", seed=8)
        reply(
            world["agent"],
            cid,
            "Dear Ms Lopez,\n\nThank you for your email. I checked your order US2506270170: the latest scan shows it "
            "is on its way with SwiftPost and it is expected to arrive on Friday.\n\nKind regards,\nKefu Mall",
        )
        later(world, 3600)
        assert states(cid)[-1]["end"] == "satisfied" and len(mails(cid)) == 2  # thanked: nothing more to write
        assert records(cid) == [True]  # the contact is still open: held
        do_wrap_up_contact(db.session.get(Contact, cid), db.session.get(User, world["agent"]), "ENQ_DELIVERY")
        later(world, 1)
        assert records(cid) == [False] and not mail.drives(cid)

        _after_call_work_over()
        first, number, follow = _follow_up(app, world, seed=9)
        assert records(first, follow.contact_id) == [True, True]
        _after_call_work_over()
        new = db.session.get(Contact, follow.contact_id)
        assert new.status == "active" and new.agent_id == world["agent"]
        reply(world["agent"], new.id, REFUND_ANSWER.format(number=number))
        later(world, 5000)
        assert states(new.id)[-1]["end"] == "satisfied"
        assert records(first, new.id) == [True, True]
        do_wrap_up_contact(db.session.get(Contact, new.id), db.session.get(User, world["agent"]), "REFUND")
        later(world, 1)
        assert records(first, new.id) == [False, False]
        assert not mail.drives(first) and not mail.drives(new.id) and mail.live_count() == 0
