"""The world the authorisation tests act on: two groups with their leads, the trainee who owns the contacts,
another trainee of the same group, a trainee of the other group, graders and an admin, and one live object of
every kind a route or a socket event names (contacts on every channel, a ticket, a callback, a reserved
contact nobody holds, an exercise, a panel, a skill exam, a theory exam, a KB proposal, a group room, a
livestream). Built through the packages' own actions, never by writing their tables by hand."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from extensions import db
from tests import factories

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"

# The matrix roles: who acts. "owner" holds every contact of the world; "lead" leads the owner's group.
ROLES = ("admin", "lead", "lead_other", "owner", "trainee_other", "grader", "anon")
USERNAMES = {
    "admin": "adm",
    "lead": "leadA",
    "lead_other": "leadB",
    "owner": "ownerA",
    "trainee_other": "peerA",
    "grader": "grader1",
}
PASSWORD = "pass1234"


def _mail(subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Pat Customer <pat@example.com>"
    msg["To"] = "service@kefu.local"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{abs(hash(subject))}@example.com>"
    msg.set_content(body)
    msg.add_attachment(b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="receipt.pdf")
    return msg.as_bytes()


def build_world(app) -> dict:
    """Create the world inside ``app``; return the ids and tokens the requests name."""
    from channels.email.ingest import do_receive_email
    from channels.group.actions import do_open_group_room
    from contacts.actions import do_assign_contact, do_create_contact, do_post_message, do_wrap_up_contact
    from grading.exams import do_schedule_skill_exam
    from grading.panels import do_create_panel
    from knowledge_base.actions import do_propose_edit
    from knowledge_base.models import Article
    from livestream.actions import guest_token, start_livestream
    from scenarios.loader import load_pack_into_db
    from simulator.models import Exercise
    from theory.actions import do_assign_theory_exam
    from tickets.actions import do_create_ticket
    from tickets.callbacks import do_schedule_callback
    from tickets.models import Customer

    w: dict = {}
    with app.app_context():
        load_pack_into_db(PACKS / "en")
        factories.user(USERNAMES["admin"], role="admin")
        lead_a = factories.user(USERNAMES["lead"], role="lead")
        lead_b = factories.user(USERNAMES["lead_other"], role="lead")
        group_a = factories.group("Group A", lead_a)
        group_b = factories.group("Group B", lead_b)
        owner = factories.user(USERNAMES["owner"], level="L3", group=group_a)
        factories.user(USERNAMES["trainee_other"], level="L3", group=group_a)
        other = factories.user("traineeB", level="L3", group=group_b)
        graders = [factories.user(USERNAMES["grader"], role="grader")]
        graders += [factories.user(f"grader{i}", role="grader") for i in (2, 3)]
        customer = db.session.scalars(db.select(Customer).where(Customer.lang == "en")).first()

        chat = do_create_contact("chat", "chat.general", lang="en", customer_name="Pat", customer_id=customer.id)
        do_assign_contact(chat.id, owner.id)
        do_post_message(chat, "customer", "Hello, my order 1234 has not arrived")

        # One contact per event that takes a contact off the desk, so each is probed on a live contact.
        spare = {}
        for key in ("chat_transfer", "chat_end", "chat_wrap", "chat_takeover"):
            c = do_create_contact("chat", "chat.general", lang="en", customer_name=key)
            do_assign_contact(c.id, owner.id)
            spare[key] = c.id

        done = do_create_contact("chat", "chat.general", lang="en", customer_name="Sam")
        do_assign_contact(done.id, owner.id)
        do_post_message(done, "customer", "Hi, where is my parcel?")
        do_post_message(done, "agent", "Hello! Could you give me your order number?", actor_id=owner.id)
        do_wrap_up_contact(done, owner, "ENQ_DELIVERY")

        # A practice customer reserved for the owner, still waiting: nobody holds it yet.
        reserved = do_create_contact("chat", "chat.general", lang="en", customer_name="Res", reserved_agent_id=owner.id)

        got = do_receive_email(
            _mail("Broken kettle", "It broke."), mail_from="pat@example.com", rcpt_tos=["service@kefu.local"]
        )
        do_assign_contact(got["contact_id"], owner.id)
        from contacts.models import ContactEvent

        mail_event = db.session.scalar(
            db.select(ContactEvent.id).where(
                ContactEvent.contact_id == got["contact_id"], ContactEvent.type == "email.received"
            )
        )

        call = do_create_contact("voice", "voice.general", lang="en", customer_name="Caller")
        do_assign_contact(call.id, owner.id)
        video = do_create_contact("video", "video.general", lang="en", customer_name="Viewer")
        do_assign_contact(video.id, owner.id)

        room = do_open_group_room(owner, "en-group-sale", audience=0, started_by=lead_a)
        from channels.group.actions import do_join_group_member

        member_id, member_token = do_join_group_member(room, "Member")
        stream = start_livestream(
            owner, title="Launch", lang="en", group_id=group_a.id, audience_size=0, started_by=lead_a
        )

        ticket = do_create_ticket(owner, chat, subject="Parcel lost", category="delivery", customer_id=customer.id)
        import time as _t

        callback = do_schedule_callback(owner, ticket, customer.id, _t.time() + 3600, "call back", contact=chat)

        exercise = Exercise(
            name="Group A drill",
            kind="practice",
            lang="en",
            group_id=group_a.id,
            created_by=lead_a.id,
            seed=1,
            rate_per_minute=1.0,
            duration_seconds=60,
            mix={"en-delivery-status": 1.0},
            schedule=[],
            status="planned",
        )
        db.session.add(exercise)
        db.session.commit()

        panel = do_create_panel(lead_a, [done.id], [g.id for g in graders], "Group A panel")
        from grading.models import PanelAssignment

        assignment = db.session.scalar(
            db.select(PanelAssignment.id).where(
                PanelAssignment.panel_id == panel.id, PanelAssignment.grader_id == graders[0].id
            )
        )
        from scenarios.registry import list_scenarios

        exam_scenarios = [s.id for s in list_scenarios(channel="chat") if s.level in ("L5", "L4")][:2]
        skill_exam = do_schedule_skill_exam(lead_a, owner, exam_scenarios, 30, lang="en")
        theory_exam = do_assign_theory_exam(lead_a, owner)

        article = db.session.scalars(db.select(Article).where(Article.lang == "en")).first()
        proposal = do_propose_edit(
            owner, article, article.title, article.body + "\n\nMore.", article.tags, article.category_code, "en", "typo"
        )

        w.update(
            users={
                role: db.session.scalar(db.select(factories.User.id).where(factories.User.username == name))
                for role, name in USERNAMES.items()
            },
            group_a=group_a.id,
            group_b=group_b.id,
            other_trainee=other.id,
            customer=customer.id,
            chat=chat.id,
            chat_token=chat.customer_token,
            **spare,
            done=done.id,
            reserved=reserved.id,
            mail=got["contact_id"],
            mail_event=mail_event,
            call=call.id,
            call_token=call.customer_token,
            video=video.id,
            room=room.id,
            room_token=room.customer_token,
            member_id=member_id,
            member_token=member_token,
            graders=[g.id for g in graders],
            stream=stream.id,
            stream_guest=guest_token(stream),
            ticket=ticket.number,
            callback=callback.id,
            exercise=exercise.id,
            panel=panel.id,
            assignment=assignment,
            skill_exam=skill_exam.id,
            theory_exam=theory_exam.id,
            article_slug=article.slug,
            proposal=proposal.id,
        )
    return w


def login(app, role: str):
    """A test client signed in as ``role`` (anonymous: a fresh client)."""
    client = app.test_client()
    if role != "anon":
        res = client.post("/login", data={"username": USERNAMES[role], "password": PASSWORD})
        assert res.status_code == 302, f"{role} could not sign in ({res.status_code})"
    return client
