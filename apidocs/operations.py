"""What each JSON route takes and answers, by endpoint. The paths, methods and path parameters come from the
app's url_map (apidocs/openapi.py); this table adds bodies, query parameters and answers. A /api/ route
missing here (or an entry naming no route) fails tests/apidocs/test_openapi.py by name.

``who``: the roles that may call it, as the authorisation matrix (tests/security/matrix_table.py) checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from . import models as m

STR = {"type": "string"}
INT = {"type": "integer", "minimum": 0}
ID_OR_STR = {"type": "string", "description": "an id"}


def obj(*required: str) -> dict:
    """A JSON object's schema with the keys it always has."""
    return {"type": "object", "required": list(required)} if required else {"type": "object"}


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict = field(default_factory=lambda: dict(STR))
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Op:
    summary: str
    who: str
    ok: type[BaseModel] | dict | None
    tag: str
    status: int = 200
    body: type[BaseModel] | dict | None = None
    query: tuple[Param, ...] = ()
    errors: tuple[int, ...] = (400, 401, 403, 404)
    content: str = "application/json"
    extra: dict[str, Any] = field(default_factory=dict)


CONTACT = Param("contact_id", ID_OR_STR, "a contact on your desk: the action is recorded on it")
DESK, STAFF, LEADS = "trainee, lead, admin", "every signed-in role", "lead, admin"
OWNER_ONLY = "the trainee, lead or admin holding the contact"
ANYONE = "anyone (the role-play link's token)"

TICKETS, CRM, KB, CONTACTS, EMAIL, CALLS = "tickets", "crm", "knowledge base", "contacts", "email", "calls"
SIM, FLOOR, GROUP, LIVE, REVIEW, EXAMS, RP, TASKS = (
    "simulator",
    "floor",
    "group rooms",
    "livestream",
    "review",
    "exams",
    "role-play",
    "work items",
)

OPS: dict[str, Op] = {
    # --- CRM and tickets (tickets/views.py)
    "tickets.api_lookup_customers": Op(
        "Look customers up by name, phone, email or order (details masked)",
        DESK,
        {"type": "object", "required": ["customers"], "properties": {"customers": {"type": "array"}}},
        CRM,
        query=(Param("q", STR, "what to look for"), CONTACT),
    ),
    "tickets.api_customer": Op(
        "Open a customer's CRM profile; reveal=1 shows details unverified (recorded as crm.disclose)",
        DESK,
        obj(),
        CRM,
        query=(CONTACT, Param("reveal", {"type": "string", "enum": ["0", "1"]}, "needs a contact you hold")),
    ),
    "tickets.api_verify_customer": Op("Record an identity check on a contact", DESK, obj(), CRM, body=m.VerifyIdentity),
    "tickets.api_create_ticket": Op("Create a ticket for a contact", DESK, m.Ticket, TICKETS, 201, m.NewTicket),
    "tickets.api_update_ticket": Op(
        "Change a ticket's fields (status, priority, risk, escalation, compensation ...)",
        DESK,
        m.Ticket,
        TICKETS,
        body=m.TicketChange,
    ),
    "tickets.api_add_note": Op(
        "Add a note to a ticket",
        DESK,
        obj("id", "body", "number"),
        TICKETS,
        201,
        m.TicketNote,
    ),
    "tickets.api_ticket": Op("A ticket with notes and history", DESK, m.Ticket, TICKETS),
    "tickets.api_tickets": Op(
        "Tickets of a contact, of a customer, or assigned to you (the last 50)",
        DESK,
        m.TicketList,
        TICKETS,
        query=(Param("contact_id", ID_OR_STR), Param("customer_id", ID_OR_STR)),
    ),
    "tickets.api_schedule_callback": Op("Schedule a callback", DESK, m.Callback, TICKETS, 201, m.NewCallback),
    "tickets.api_callbacks": Op(
        "Your callbacks (open, or all)",
        DESK,
        m.CallbackList,
        TICKETS,
        query=(Param("status", {"type": "string", "enum": ["open", "all"]}),),
    ),
    "tickets.api_complete_callback": Op(
        "Record a callback's outcome", DESK, m.Callback, TICKETS, body=m.CallbackOutcome
    ),
    # --- contacts, knowledge base
    "contacts.api_events": Op(
        "A contact's recorded events after a sequence number",
        "those who may see the contact (accounts/scope.py)",
        m.EventWithContact,
        CONTACTS,
        query=(Param("after_seq", {"type": "integer"}),),
    ),
    "knowledge_base.api_search": Op(
        "Search published articles (recorded as kb.search when contact_id is given)",
        STAFF,
        obj("query", "lang", "results"),
        KB,
        query=(
            Param("q", {"type": "string", "minLength": 1, "maxLength": 200}, required=True),
            Param("limit", {"type": "integer", "minimum": 1, "maximum": 50}),
            Param("lang", {"type": "string", "enum": ["zh_CN", "en"]}),
            Param("category", STR),
            CONTACT,
        ),
    ),
    "knowledge_base.api_article": Op(
        "One published article (recorded as kb.open when contact_id is given)",
        STAFF,
        obj("article", "recorded"),
        KB,
        query=(CONTACT,),
    ),
    "knowledge_base.api_suggest": Op(
        "Articles suggested by the customer's words on a contact",
        OWNER_ONLY,
        obj("contact_id", "lang", "keywords", "suggestions"),
        KB,
        query=(
            Param("contact_id", ID_OR_STR, required=True),
            Param("lang", {"type": "string", "enum": ["zh_CN", "en"]}),
        ),
    ),
    # --- email workspace
    "email_desk.api_contacts": Op("Your email contacts", DESK, obj("contacts"), EMAIL, errors=(401, 403)),
    "email_desk.api_thread": Op(
        "An email contact's thread, with its tickets",
        OWNER_ONLY,
        obj("contact", "events", "tickets"),
        EMAIL,
    ),
    "email_desk.api_reply": Op("Send a reply (real MIME mail)", OWNER_ONLY, m.OkEvent, EMAIL, body=m.EmailReply),
    "email_desk.api_wrap_up": Op(
        "Close an email contact with a wrap-up code", OWNER_ONLY, m.OkContact, EMAIL, body=m.WrapUp
    ),
    "email_desk.api_loaded_html": Op(
        "A received mail's HTML with its remote images, sandboxed",
        OWNER_ONLY,
        {"type": "string"},
        EMAIL,
        content="text/html",
    ),
    "email_desk.api_attachment": Op(
        "A received attachment, always as a download",
        OWNER_ONLY,
        {"type": "string", "format": "binary"},
        EMAIL,
        content="application/octet-stream",
    ),
    # --- calls
    "voice.start_practice_call": Op(
        "A simulated customer of a voice scenario calls you", DESK, m.ContactOnly, CALLS, 201, m.ScenarioChoice
    ),
    "video.api_practice": Op(
        "A simulated customer of a video scenario calls you", DESK, m.ContactOnly, CALLS, 201, m.ScenarioChoice
    ),
    "video.api_id_verification": Op(
        "Approve or refuse the ID the caller showed", OWNER_ONLY, m.OkEvent, CALLS, body=m.IdVerification
    ),
    "video.api_camera_unavailable": Op(
        "Your camera could not be opened: the call goes on voice-only",
        OWNER_ONLY,
        m.OkEvent,
        CALLS,
        body=m.CameraUnavailable,
    ),
    # --- simulator and exercises
    "simulator.start_customer": Op(
        "Start one simulated customer (a trainee's is reserved for them)",
        DESK,
        obj("contact_id", "scenario_id"),
        SIM,
        201,
        m.SimCustomer,
        errors=(400, 401, 403, 404, 409),
    ),
    "simulator.create_exercise": Op("Plan an exercise", LEADS, m.Exercise, SIM, 201, m.NewExercise),
    "simulator.get_exercise": Op("An exercise and its live customers", LEADS, m.Exercise, SIM, errors=(401, 403, 404)),
    "simulator.start_exercise": Op("Start an exercise", LEADS, m.Exercise, SIM, errors=(400, 401, 403, 404, 409)),
    "simulator.stop_exercise": Op("Stop an exercise", LEADS, m.Exercise, SIM, errors=(401, 403, 404, 409)),
    # --- the floor
    "console.api_floor": Op(
        "The floor of your groups: agents, queues, live contacts",
        LEADS,
        obj(),
        FLOOR,
        errors=(401, 403),
    ),
    "console.api_start_group_room": Op(
        "Start group rooms for a group or a trainee", LEADS, m.RoomsOpened, FLOOR, 201, m.GroupSession
    ),
    "console.api_start_livestream": Op(
        "Start a livestream presented by a trainee of your group", LEADS, m.CreatedLink, FLOOR, 201, m.LivestreamSession
    ),
    "group.api_start": Op("Start group rooms", DESK, m.RoomsOpened, GROUP, 201, m.GroupRooms),
    "group.api_room": Op("A group room's live view", "the room's agent, their lead, admins", obj(), GROUP),
    "livestream.guest_link": Op(
        "A guest link for a livestream",
        "the presenter, their lead, admins",
        {"type": "object", "required": ["link"], "properties": {"link": STR}},
        LIVE,
        errors=(401, 403, 404),
    ),
    # --- review, exams, theory, role-play, work items
    "review.api_create_panel": Op("Create a grader panel", LEADS, m.CreatedLink, REVIEW, 201, m.NewPanel),
    "review.api_save_scores": Op(
        "Save your scores on a panel assignment", "the assigned grader", obj(), REVIEW, body=m.PanelScores
    ),
    "review.api_submit": Op("Submit your panel assignment", "the assigned grader", obj(), REVIEW),
    "exams.api_status": Op(
        "A skill exam's status and time left (scores only once released)",
        "the candidate, their lead, graders, admins",
        obj("id", "status", "remaining", "released"),
        EXAMS,
        errors=(401, 403, 404),
    ),
    "theory.api_save_answer": Op(
        "Save one answer of your running theory exam",
        "the trainee sitting the exam",
        obj(),
        EXAMS,
        body=m.TheoryAnswer,
        errors=(400, 401, 403, 404, 409),
    ),
    "roleplay.api_open": Op("Open a role-play link", DESK, obj("token"), RP, 201, m.RolePlayOpen),
    "roleplay.api_list": Op("Role-plays you may see", DESK, obj("roleplays"), RP, errors=(401, 403)),
    "roleplay.api_card": Op(
        "The role-player's card",
        ANYONE,
        obj("channel", "lang", "card"),
        RP,
        query=(Param("token", STR, required=True),),
        errors=(404,),
        extra={"security": []},
    ),
    "roleplay.api_start": Op(
        "The role-player starts the contact",
        ANYONE,
        obj("contact_id", "token", "status", "channel"),
        RP,
        201,
        m.RolePlayStart,
        errors=(400,),
        extra={"security": []},
    ),
    "tasks.api_draft": Op("Save a work item's draft", "the trainee working on it", m.Ok, TASKS, body=m.TaskDraft),
    "tasks.api_submit": Op("Submit a work item", "the trainee working on it", m.Ok, TASKS, body=m.TaskDraft),
    "tasks.api_file": Op(
        "Upload a file to a work item (multipart, at most 5 MB)",
        "the trainee working on it",
        m.Ok,
        TASKS,
        body={
            "content": "multipart/form-data",
            "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
        },
        errors=(400, 401, 403, 404, 409, 413),
    ),
}
