"""The expectation table of the authorisation matrix: for every route (by endpoint) and every Socket.IO event
(by namespace and handler), which matrix roles may call it, and the request that names the world's objects
(tests/security/world.py). A route or event missing here fails the matrix by name: declare it when you add it.

Roles: admin, lead (of the owner's group), lead_other (of another group), owner (the trainee holding every
contact of the world), trainee_other (a trainee of the same group), grader, anon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

ALL = frozenset({"admin", "lead", "lead_other", "owner", "trainee_other", "grader", "anon"})
STAFF = ALL - {"anon"}
DESK = frozenset({"admin", "lead", "lead_other", "owner", "trainee_other"})  # trainee, lead, admin
LEADS = frozenset({"admin", "lead", "lead_other"})
SCORERS = frozenset({"admin", "lead", "lead_other", "grader"})
SEES_CONTACT = frozenset({"admin", "lead", "grader", "owner"})  # the owner's contacts
ACTS_ON_CONTACT = frozenset({"admin", "lead", "owner"})
GROUP_LEAD = frozenset({"admin", "lead"})
OWNER = frozenset({"owner"})
TRAINEES = frozenset({"owner", "trainee_other"})
NOBODY = frozenset()


@dataclass(frozen=True)
class Http:
    """One request of a route. ``path``/``query``/``json``/``form`` take the world (a dict) and give values.
    ``refused_400``: a text that, in a 400 answer, is a refusal (older routes answer "may not" with 400).
    ``probe``: whether allowed roles are sent it too (False for routes that start media).
    ``late``: sent after the others in the allowed phase (it changes what the others act on)."""

    allowed: frozenset
    path: Callable[[dict], dict] = lambda w: {}
    login_redirect: bool = False  # its answer is the login page (logout)
    query: Callable[[dict], dict] = lambda w: {}
    json: Callable[[dict], dict] | None = None
    form: Callable[[dict], dict] | None = None
    method: str | None = None  # None: every method of the rule
    refused_400: str | None = None
    probe: bool = True
    late: int = 0
    note: str = ""


@dataclass(frozen=True)
class Event:
    """One Socket.IO event: ``payload(world)``. ``probe``/``late`` as for Http."""

    allowed: frozenset
    payload: Callable[[dict], dict] = field(default=lambda w: {})
    probe: bool = True
    late: int = 0
    probe_as: dict = field(default_factory=dict)  # role -> payload(world) for that role's allowed probe


def c(key):
    """Path kwargs naming one contact of the world."""
    return lambda w: {"contact_id": w[key]}


ROUTES: dict[str, list[Http]] = {
    "static": [Http(ALL, path=lambda w: {"filename": "vendor/socket.io.min.js"})],
    "index": [Http(STAFF)],
    "accounts.login": [Http(ALL, method="GET"), Http(ALL, method="POST", form=lambda w: {"username": ""})],
    "accounts.logout": [Http(STAFF, late=9, login_redirect=True)],
    "accounts.home": [Http(STAFF)],
    "accounts.admin_users": [Http(frozenset({"admin"}))],
    "accounts.admin_groups": [Http(frozenset({"admin"}))],
    # --- contacts and recordings
    "contacts.contact_list": [Http(STAFF)],
    "contacts.transcript": [
        Http(SEES_CONTACT, path=c("chat")),
        # a practice customer reserved for the owner, waiting: the owner's group's business only
        Http(frozenset({"admin", "lead", "grader"}), path=c("reserved")),
    ],
    "contacts.export_json": [Http(SEES_CONTACT, path=c("chat"))],
    "contacts.api_events": [Http(SEES_CONTACT, path=c("chat"))],
    "voice.recording_file": [Http(SEES_CONTACT, path=lambda w: {"contact_id": w["call"], "name": "call"})],
    "video.recording_video_file": [Http(SEES_CONTACT, path=lambda w: {"contact_id": w["video"], "leg": "agent"})],
    "grading.scorecard": [Http(SEES_CONTACT, path=c("done"))],
    # --- the desk
    "desk.desk": [Http(DESK)],
    "customer.customer_chat": [Http(ALL)],
    "voice.caller_page": [Http(ALL)],
    "voice.start_practice_call": [Http(DESK, json=lambda w: {"scenario_id": "en-delivery-status"}, probe=False)],
    "video.api_practice": [Http(DESK, json=lambda w: {"scenario_id": "en-delivery-status"}, probe=False)],
    "video.api_id_verification": [
        Http(OWNER, path=c("video"), json=lambda w: {"result": "matched", "document": "id_card"})
    ],
    "video.api_camera_unavailable": [Http(OWNER, path=c("video"), json=lambda w: {"reason": "blocked"})],
    "simulator.start_customer": [Http(DESK, json=lambda w: {"scenario_id": "en-delivery-status"})],
    # --- email workspace: the agent holding the mail only
    "email_desk.workspace": [Http(DESK)],
    "email_desk.api_contacts": [Http(DESK)],
    "email_desk.api_thread": [Http(OWNER, path=c("mail"))],
    "email_desk.api_loaded_html": [
        Http(OWNER, path=lambda w: {"contact_id": w["mail"], "event_id": w["mail_event"]}),
    ],
    "email_desk.api_attachment": [
        Http(OWNER, path=lambda w: {"contact_id": w["mail"], "event_id": w["mail_event"], "index": 0}),
    ],
    "email_desk.api_reply": [Http(OWNER, path=c("mail"), json=lambda w: {"body_text": "Thank you, Pat."})],
    "email_desk.api_wrap_up": [Http(OWNER, path=c("mail"), json=lambda w: {"code": "RESOLVED"}, late=2)],
    # --- tickets, CRM, callbacks
    "tickets.api_lookup_customers": [Http(ACTS_ON_CONTACT, query=lambda w: {"q": "a", "contact_id": w["chat"]})],
    "tickets.api_customer": [
        Http(ACTS_ON_CONTACT, path=lambda w: {"customer_id": w["customer"]}, query=lambda w: {"contact_id": w["chat"]}),
        # unmasked details: only on a contact the caller holds (recorded as crm.disclose)
        Http(
            OWNER, path=lambda w: {"customer_id": w["customer"]}, query=lambda w: {"contact_id": w["chat"], "reveal": 1}
        ),
        Http(
            NOBODY,
            path=lambda w: {"customer_id": w["customer"]},
            query=lambda w: {"reveal": 1},
            refused_400="contact_id",
        ),
    ],
    "tickets.api_verify_customer": [
        Http(
            OWNER,
            path=lambda w: {"customer_id": w["customer"]},
            json=lambda w: {"contact_id": w["chat"], "method": "phone_last4", "result": "failed"},
        ),
    ],
    "tickets.api_create_ticket": [
        Http(ACTS_ON_CONTACT, json=lambda w: {"contact_id": w["chat"], "subject": "Late", "category": "delivery"})
    ],
    "tickets.api_tickets": [Http(DESK), Http(ACTS_ON_CONTACT, query=lambda w: {"contact_id": w["chat"]})],
    "tickets.api_ticket": [Http(ACTS_ON_CONTACT, path=lambda w: {"number": w["ticket"]})],
    "tickets.api_update_ticket": [
        Http(
            ACTS_ON_CONTACT,
            path=lambda w: {"number": w["ticket"]},
            json=lambda w: {"contact_id": w["chat"], "priority": "high"},
        ),
    ],
    "tickets.api_add_note": [
        Http(
            ACTS_ON_CONTACT,
            path=lambda w: {"number": w["ticket"]},
            json=lambda w: {"contact_id": w["chat"], "body": "n"},
        )
    ],
    "tickets.ticket_list": [Http(STAFF)],
    "tickets.ticket_page": [Http(SEES_CONTACT, path=lambda w: {"number": w["ticket"]})],
    "tickets.api_schedule_callback": [
        Http(
            ACTS_ON_CONTACT,
            json=lambda w: {"contact_id": w["chat"], "customer_id": w["customer"], "due_at": 3600, "note": "call"},
        ),
    ],
    "tickets.api_callbacks": [Http(DESK)],
    "tickets.api_complete_callback": [
        Http(ACTS_ON_CONTACT, path=lambda w: {"callback_id": w["callback"]}, json=lambda w: {"outcome": "reached"})
    ],
    # --- knowledge base (shared by the whole centre; proposals reviewed by any lead)
    "knowledge_base.kb_index": [Http(STAFF)],
    "knowledge_base.kb_article": [Http(STAFF, path=lambda w: {"lang": "en", "slug": w["article_slug"]})],
    "knowledge_base.kb_propose_edit": [
        Http(DESK, path=lambda w: {"lang": "en", "slug": w["article_slug"]}, form=lambda w: {"title": ""})
    ],
    "knowledge_base.kb_propose_new": [Http(DESK, form=lambda w: {"title": ""})],
    "knowledge_base.kb_proposals": [Http(LEADS)],
    "knowledge_base.kb_approve": [Http(LEADS, path=lambda w: {"pid": w["proposal"]}, late=1)],
    "knowledge_base.kb_reject": [Http(LEADS, path=lambda w: {"pid": w["proposal"]}, form=lambda w: {"note": ""})],
    "knowledge_base.api_search": [Http(STAFF, query=lambda w: {"q": "order"})],
    "knowledge_base.api_article": [Http(STAFF, path=lambda w: {"lang": "en", "slug": w["article_slug"]})],
    "knowledge_base.api_suggest": [Http(OWNER, query=lambda w: {"contact_id": w["chat"]})],
    # --- console: the lead's floor, scoped to their groups
    "console.floor": [Http(LEADS)],
    "console.api_floor": [Http(LEADS)],
    "console.monitor": [
        Http(frozenset({"admin", "lead", "grader"}), path=c("chat")),
        Http(frozenset({"admin", "lead", "grader"}), path=c("reserved")),
    ],
    "console.exercises": [Http(LEADS)],
    "console.sessions": [Http(LEADS)],
    "console.api_start_group_room": [
        Http(
            GROUP_LEAD,
            json=lambda w: {"scenario_id": "en-group-sale", "target": f"group:{w['group_a']}", "audience": 0},
            refused_400="do not lead",
        ),
    ],
    "console.api_start_livestream": [
        Http(
            GROUP_LEAD,
            json=lambda w: {
                "presenter_id": w["users"]["owner"],
                "group_id": w["group_a"],
                "title": "x",
                "audience_size": 0,
            },
            refused_400="only for yourself or a trainee of your group",
        ),
    ],
    "simulator.create_exercise": [
        Http(
            GROUP_LEAD,
            json=lambda w: {"name": "x", "group_id": w["group_a"], "mix": {"en-delivery-status": 1}, "lang": "en"},
        )
    ],
    "simulator.get_exercise": [Http(GROUP_LEAD, path=lambda w: {"exercise_id": w["exercise"]})],
    "simulator.start_exercise": [Http(GROUP_LEAD, path=lambda w: {"exercise_id": w["exercise"]})],
    "simulator.stop_exercise": [Http(GROUP_LEAD, path=lambda w: {"exercise_id": w["exercise"]}, late=1)],
    # --- group rooms
    "group.rooms": [Http(DESK)],
    "group.start": [Http(DESK, form=lambda w: {"scenario_id": "en-group-sale", "audience": "0", "target": "nobody"})],
    "group.api_start": [
        Http(
            ACTS_ON_CONTACT,
            json=lambda w: {"scenario_id": "en-group-sale", "audience": 0, "agent_ids": [w["users"]["owner"]]},
            refused_400="may not start a room",
        ),
    ],
    "group.room_page": [Http(ACTS_ON_CONTACT, path=lambda w: {"room_id": w["room"]})],
    "group.api_room": [Http(ACTS_ON_CONTACT, path=lambda w: {"room_id": w["room"]})],
    "group.join_page": [
        Http(ALL, path=lambda w: {"room_id": w["room"]}, query=lambda w: {"t": w["room_token"]}),
        Http(NOBODY, path=lambda w: {"room_id": w["chat"]}, query=lambda w: {"t": w["chat_token"]}),
    ],
    # --- livestreams
    "livestream.index": [Http(STAFF)],
    "livestream.start": [Http(DESK, form=lambda w: {"title": "", "audience_size": "0"})],
    "livestream.present": [Http(OWNER, path=lambda w: {"stream_id": w["stream"]})],
    "livestream.watch": [
        Http(
            frozenset({"admin", "lead", "owner", "trainee_other", "grader"}), path=lambda w: {"stream_id": w["stream"]}
        )
    ],
    "livestream.guest": [
        Http(ALL, path=lambda w: {"token": w["stream_guest"]}),
        Http(NOBODY, path=lambda w: {"token": "eyJzIjo4fQ.forged"}),
    ],
    "livestream.guest_link": [Http(ACTS_ON_CONTACT, path=lambda w: {"stream_id": w["stream"]})],
    # --- grading: review, panels, skill exams
    "review.review_contact": [Http(frozenset({"admin", "lead", "grader"}), path=c("done"))],
    "review.grade_contact": [Http(frozenset({"admin", "lead", "grader"}), path=c("done"))],
    "review.score_contact": [Http(frozenset({"admin", "lead", "grader"}), path=c("done"))],
    "review.panel_list": [Http(SCORERS)],
    "review.panel_new": [
        Http(LEADS, method="GET"),
        Http(
            GROUP_LEAD,
            method="POST",
            form=lambda w: {"name": "p", "contact_ids": str(w["done"]), "grader_ids": [str(g) for g in w["graders"]]},
        ),
    ],
    "review.panel_page": [Http(frozenset({"admin", "lead", "grader"}), path=lambda w: {"panel_id": w["panel"]})],
    "review.calibration_page": [Http(frozenset({"admin", "lead", "grader"}), path=lambda w: {"panel_id": w["panel"]})],
    "review.api_create_panel": [
        Http(GROUP_LEAD, json=lambda w: {"name": "p", "contact_ids": [w["done"]], "grader_ids": w["graders"]})
    ],
    "review.api_save_scores": [
        Http(frozenset({"grader"}), path=lambda w: {"assignment_id": w["assignment"]}, json=lambda w: {"scores": {}})
    ],
    "review.api_submit": [Http(frozenset({"grader"}), path=lambda w: {"assignment_id": w["assignment"]}, late=1)],
    "exams.exam_list": [Http(STAFF)],
    "exams.exam_page": [Http(SEES_CONTACT, path=lambda w: {"exam_id": w["skill_exam"]})],
    "exams.api_status": [Http(SEES_CONTACT, path=lambda w: {"exam_id": w["skill_exam"]})],
    "exams.schedule": [Http(GROUP_LEAD, form=lambda w: {"candidate_id": str(w["users"]["owner"])})],
    "exams.roleplay_parts": [Http(GROUP_LEAD, path=lambda w: {"exam_id": w["skill_exam"]}, form=lambda w: {})],
    "exams.start": [Http(ACTS_ON_CONTACT, path=lambda w: {"exam_id": w["skill_exam"]}, late=1)],
    "exams.finish": [Http(GROUP_LEAD, path=lambda w: {"exam_id": w["skill_exam"]}, late=2)],
    "exams.close_grading": [Http(GROUP_LEAD, path=lambda w: {"exam_id": w["skill_exam"]}, late=3)],
    "exams.release": [Http(GROUP_LEAD, path=lambda w: {"exam_id": w["skill_exam"]}, late=4)],
    # --- theory exams
    "theory.my_exams": [Http(DESK)],
    "theory.start_practice": [Http(TRAINEES, form=lambda w: {"level": "L5", "n": "5", "lang": "en"})],
    "theory.start_exam": [Http(OWNER, path=lambda w: {"exam_id": w["theory_exam"]})],
    "theory.exam_page": [Http(OWNER, path=lambda w: {"exam_id": w["theory_exam"]})],
    "theory.api_save_answer": [
        Http(OWNER, path=lambda w: {"exam_id": w["theory_exam"]}, json=lambda w: {"question_id": "x", "answer": "A"})
    ],
    "theory.submit_exam": [Http(OWNER, path=lambda w: {"exam_id": w["theory_exam"]}, late=1)],
    "theory.result": [Http(ACTS_ON_CONTACT, path=lambda w: {"exam_id": w["theory_exam"]})],
    "theory.release": [Http(GROUP_LEAD, form=lambda w: {"exam_id": str(w["theory_exam"]), "mode": "score"}, late=2)],
    "theory.manage": [Http(LEADS)],
    "theory.assign": [Http(GROUP_LEAD, form=lambda w: {"target": f"group:{w['group_a']}"})],
    "theory.analysis": [Http(LEADS)],
    # --- reports
    "reports.index": [Http(STAFF)],
    "reports.trainee": [Http(SEES_CONTACT, path=lambda w: {"user_id": w["users"]["owner"]})],
    "reports.group": [Http(frozenset({"admin", "lead", "grader"}), path=lambda w: {"group_id": w["group_a"]})],
    "reports.graders": [Http(frozenset({"admin", "grader"}))],
    # --- role-play links (roleplay/): openers by role; the customer's card by its token. No role-play exists in
    # this world, so only the role checks are exercised here (tests/roleplay covers the objects).
    "roleplay.page": [Http(DESK)],
    "roleplay.api_list": [Http(DESK)],
    "roleplay.api_open": [Http(DESK, json=lambda w: {})],
    "roleplay.api_card": [Http(ALL, query=lambda w: {"token": "none"})],
    "roleplay.api_start": [Http(ALL, json=lambda w: {"token": "none"})],
    "roleplay.email_card": [Http(ALL, path=lambda w: {"token": "none"})],
    # --- the leads' rubric calibration (calibration/): no run exists in this world, so only the role checks.
    "calibration.index": [Http(LEADS, method="GET"), Http(LEADS, method="POST", form=lambda w: {})],
    "calibration.run": [Http(LEADS, path=lambda w: {"run_id": "none"})],
    "calibration.export": [Http(LEADS, path=lambda w: {"run_id": "none"})],
    # --- back-office work items (tasks/): no work item exists in this world, so only the role checks are
    # exercised here (tests/tasks covers who sees which item).
    "tasks.work_list": [Http(STAFF)],
    "tasks.assign": [Http(GROUP_LEAD | {"lead_other"}, form=lambda w: {})],
    "tasks.queue": [Http(LEADS, form=lambda w: {})],
    "tasks.take_next": [Http(TRAINEES)],
    "tasks.work_page": [Http(STAFF, path=lambda w: {"item_id": 1})],
    "tasks.api_draft": [Http(TRAINEES, path=lambda w: {"item_id": 1}, json=lambda w: {})],
    "tasks.api_submit": [Http(TRAINEES, path=lambda w: {"item_id": 1}, json=lambda w: {})],
    "tasks.api_file": [Http(TRAINEES, path=lambda w: {"item_id": 1})],
    "tasks.data_xlsx": [Http(STAFF, path=lambda w: {"item_id": 1})],
    "tasks.result": [Http(STAFF, path=lambda w: {"item_id": 1})],
    "tasks.grade_page": [Http(SCORERS, path=lambda w: {"item_id": 1})],
    "tasks.download_file": [Http(STAFF, path=lambda w: {"file_id": 1})],
    # --- the interface documents (apidocs/): public, they describe shapes the open-source code states, no data
    "apidocs.openapi": [Http(ALL)],
    "apidocs.asyncapi": [Http(ALL)],
    "apidocs.docs": [Http(ALL)],
}


def chat(w, **kw):
    return {"contact_id": w["chat"], **kw}


def chat_token(w, **kw):
    return {"contact_id": w["chat"], "token": w["chat_token"], **kw}


def call(w, **kw):
    return {"contact_id": w["call"], **kw}


def call_token(w, **kw):
    return {"contact_id": w["call"], "token": w["call_token"], **kw}


def room(w, **kw):
    return {"room_id": w["room"], **kw}


def member(w, **kw):
    return {"room_id": w["room"], "member_id": w["member_id"], "member_token": w["member_token"], **kw}


def stream(w, **kw):
    return {"stream_id": w["stream"], **kw}


# Customer-side events prove their contact with a token: every role holding the right token may send them, and
# a token of another channel (a group room's join token, a caller's token, a chat token) is refused.
WRONG_TOKENS = {
    "/customer": [
        lambda w: {"contact_id": w["room"], "token": w["room_token"]},
        lambda w: {"contact_id": w["call"], "token": w["call_token"]},
    ],
    "/voice": [lambda w: {"contact_id": w["chat"], "token": w["chat_token"]}],
    "/group": [lambda w: {"room_id": w["chat"], "token": w["chat_token"], "name": "Pat"}],
}

VIEWERS = frozenset({"admin", "lead", "owner", "trainee_other", "grader"})  # of the owner's group's stream
MONITORS = frozenset({"admin", "lead", "grader"})

EVENTS: dict[tuple[str, str], list[Event]] = {
    # /desk: the agent's own contacts only
    ("/desk", "hello"): [Event(DESK)],
    ("/desk", "set_state"): [Event(DESK, lambda w: {"state": "away"})],
    ("/desk", "figures"): [Event(DESK)],
    ("/desk", "join_contact"): [Event(OWNER, chat)],
    ("/desk", "sync"): [Event(OWNER, lambda w: chat(w, after_seq=0))],
    ("/desk", "send"): [Event(OWNER, lambda w: chat(w, text="Hello from the desk"))],
    ("/desk", "typing"): [Event(OWNER, lambda w: chat(w, typing=True))],
    ("/desk", "send_article"): [Event(OWNER, lambda w: chat(w, slug=w["article_slug"]))],
    ("/desk", "transfer"): [
        Event(
            OWNER,
            lambda w: {"contact_id": w["chat_transfer"], "target_kind": "queue", "target": "chat.general", "note": "n"},
        ),
    ],
    ("/desk", "end"): [Event(OWNER, lambda w: {"contact_id": w["chat_end"]})],
    ("/desk", "wrap_up"): [Event(OWNER, lambda w: {"contact_id": w["chat_wrap"], "code": "RESOLVED"})],
    # /customer: whoever holds the chat's token
    ("/customer", "start"): [Event(ALL, lambda w: {"name": "Pat", "queue": "chat.general", "lang": "en"})],
    ("/customer", "resume"): [Event(ALL, chat_token)],
    ("/customer", "send"): [Event(ALL, lambda w: chat_token(w, text="hello"))],
    ("/customer", "typing"): [Event(ALL, lambda w: chat_token(w, typing=True))],
    ("/customer", "rate"): [Event(ALL, lambda w: chat_token(w, score=5))],
    ("/customer", "leave"): [Event(ALL, chat_token, late=6)],
    # /voice: the agent's own calls; the caller's events by the call's token
    ("/voice", "state"): [Event(OWNER, call)],
    ("/voice", "answer"): [Event(OWNER, lambda w: call(w, sdp="v=0"), probe=False)],
    ("/voice", "hold"): [Event(OWNER, lambda w: call(w, on=True))],
    ("/voice", "resume"): [Event(OWNER, call)],
    ("/voice", "mute"): [Event(OWNER, lambda w: call(w, on=True))],
    ("/voice", "quick_phrase"): [Event(OWNER, lambda w: call(w, phrase="greeting"))],
    ("/voice", "transfer"): [
        Event(OWNER, lambda w: call(w, target_kind="queue", target="voice.general", note="n"), late=3)
    ],
    ("/voice", "hang_up"): [Event(OWNER, call, late=4)],
    ("/voice", "call_back"): [Event(OWNER, lambda w: {"callback_id": w["callback"]}, probe=False)],
    ("/voice", "dial"): [Event(ALL, lambda w: {"name": "Pat", "queue": "voice.general", "lang": "en"}, probe=False)],
    ("/voice", "caller_offer"): [Event(ALL, lambda w: call_token(w, sdp="v=0"), probe=False)],
    ("/voice", "caller_camera_unavailable"): [Event(ALL, lambda w: call_token(w, reason="none"))],
    ("/voice", "caller_rejoin"): [Event(ALL, call_token)],
    ("/voice", "caller_hang_up"): [Event(ALL, call_token, late=6)],
    # /group: the room's agent, their lead, admins; members by their own token; joining by the room's token
    ("/group", "watch"): [Event(ACTS_ON_CONTACT, room)],
    ("/group", "reply"): [Event(ACTS_ON_CONTACT, lambda w: room(w, text="Welcome all"))],
    ("/group", "pin"): [Event(ACTS_ON_CONTACT, lambda w: room(w, text="Sale ends Friday"))],
    ("/group", "unpin"): [Event(ACTS_ON_CONTACT, lambda w: room(w, index=0))],
    ("/group", "move_private"): [Event(ACTS_ON_CONTACT, lambda w: room(w, member=w["member_id"]), probe=False)],
    ("/group", "close"): [Event(ACTS_ON_CONTACT, room, late=5)],
    ("/group", "join"): [Event(ALL, lambda w: room(w, token=w["room_token"], name="Pat"))],
    ("/group", "resume"): [Event(ALL, member)],
    ("/group", "post"): [Event(ALL, lambda w: member(w, text="Is delivery free?"))],
    ("/group", "leave"): [Event(ALL, member, late=4)],
    # /livestream: viewers of the stream's group (joined first), the presenter for the presenter's events
    ("/livestream", "join"): [Event(VIEWERS, stream)],
    ("/livestream", "comment"): [Event(VIEWERS, lambda w: stream(w, text="Nice"))],
    ("/livestream", "stats"): [Event(VIEWERS, stream)],
    ("/livestream", "watch"): [Event(VIEWERS, lambda w: stream(w, offer="v=0"), probe=False)],
    ("/livestream", "leave"): [Event(VIEWERS, stream, late=5)],
    ("/livestream", "publish"): [Event(OWNER, lambda w: stream(w, offer="v=0"), probe=False)],
    ("/livestream", "mark_answered"): [Event(OWNER, lambda w: stream(w, seq=1))],
    ("/livestream", "pin"): [Event(OWNER, lambda w: stream(w, text="Pinned", comment_seq=1))],
    ("/livestream", "reply"): [Event(OWNER, lambda w: stream(w, text="Thanks"))],
    ("/livestream", "move_to_chat"): [Event(OWNER, lambda w: stream(w, comment_seq=1))],
    ("/livestream", "stop"): [Event(OWNER, stream, late=6)],
    # /floor: leads for their groups, graders monitor silently
    ("/floor", "snapshot"): [Event(LEADS)],
    ("/floor", "watch"): [
        Event(MONITORS, lambda w: chat(w, record=False)),
        Event(frozenset({"admin", "lead", "grader"}), lambda w: {"contact_id": w["reserved"], "record": False}),
    ],
    ("/floor", "unwatch"): [Event(MONITORS, chat)],
    ("/floor", "coach"): [Event(GROUP_LEAD, lambda w: chat(w, text="Ask for the order number"))],
    # once one of them has taken a contact over, it is no longer the trainee's: the admin probes another one
    ("/floor", "take_over"): [
        Event(
            GROUP_LEAD,
            lambda w: {"contact_id": w["chat_takeover"]},
            probe_as={"admin": lambda w: {"contact_id": w["chat_transfer"]}},
            late=7,
        ),
    ],
    ("/floor", "monitor_call"): [Event(MONITORS, lambda w: call(w, mode="listen", sdp="v=0"), probe=False)],
    ("/floor", "monitor_mode"): [Event(MONITORS, lambda w: call(w, mode="whisper"), probe=False)],
    ("/floor", "monitor_hang_up"): [Event(MONITORS, call, probe=False)],
    ("/floor", "ack_alert"): [Event(LEADS, lambda w: {"id": "anger:0"})],
}
