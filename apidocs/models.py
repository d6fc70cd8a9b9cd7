"""The JSON bodies of the HTTP APIs as pydantic models, turned into the OpenAPI document's schemas.

Requests list what the route reads (the routes validate for themselves and answer a 4xx naming the field);
responses list the keys the route always sends, with ``extra="allow"`` where a body may carry more. The
schemathesis test (tests/apidocs) holds every answer of a live server against these.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Lang = Literal["zh_CN", "en"]
Id = int
Num = int | float


class Open(BaseModel):
    """A body that may carry more keys than those listed."""

    model_config = ConfigDict(extra="allow")


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(Open):
    """Every refusal: a sentence saying what was wrong; ``field`` names the offending field where known."""

    error: str
    field: str | None = None


class Ok(Open):
    ok: Literal[True]


# ----- shared shapes -------------------------------------------------------------------------------------


class ContactSummary(Open):
    """A contact as desk and floor list it (contacts.models.Contact.summary)."""

    id: Id
    channel: str
    queue: str | None
    status: str
    lang: str | None
    priority: int | None = None
    customer_id: Id | None
    customer_name: str | None
    subject: str | None
    agent_id: Id | None
    scenario_id: str | None
    simulated: bool
    created_at: Num | None
    assigned_at: Num | None
    wrap_up_code: str | None


class ContactEvent(Open):
    """One recorded event of a contact (its ``type`` has a schema in contacts/event_types.py)."""

    id: Id
    contact_id: Id
    seq: int
    type: str
    actor: str
    actor_id: Id | None
    ts: Num
    client_id: str | None
    text: str | None
    data: dict[str, Any]


class EventWithContact(Open):
    contact: ContactSummary
    events: list[ContactEvent]


class Ticket(Open):
    id: Id
    number: str
    subject: str
    description: str | None
    category: str | None
    priority: str
    status: str
    risk_level: str | None
    escalation_target: str | None
    compensation_amount: Any = None
    assignee_id: Id | None
    customer_id: Id | None
    contact_id: Id | None
    contact_ids: list[Id]
    sla_due_at: Num | None
    sla_breached: bool
    created_at: Num | None
    updated_at: Num | None


class TicketList(Open):
    tickets: list[Ticket]


class Callback(Open):
    id: Id
    ticket_id: Id | None
    ticket_number: str | None
    customer_id: Id | None
    assignee_id: Id | None
    contact_id: Id | None
    due_at: Num
    status: str
    note: str | None
    outcome: str | None


class CallbackList(Open):
    callbacks: list[Callback]


class Exercise(Open):
    id: Id
    name: str
    kind: Literal["practice", "exam"]
    lang: str
    group_id: Id | None
    seed: int
    rate_per_minute: Num
    duration_seconds: int
    mix: dict[str, Num]
    status: str
    live_customers: int


class ContactOnly(Open):
    contact: ContactSummary


class OkContact(Ok):
    contact: ContactSummary


class OkEvent(Ok):
    event: dict[str, Any]


class CreatedLink(Open):
    id: Id
    url: str


class RoomsOpened(Open):
    rooms: list[dict[str, Any]] = Field(description="{id, agent_id, url} of each room opened")


# ----- request bodies ------------------------------------------------------------------------------------


class ContactRef(Open):
    contact_id: Id | str = Field(description="a contact on the caller's desk (leads and admins: of their groups)")


class VerifyIdentity(ContactRef):
    method: str = Field(description="how the identity was checked, e.g. phone_last4, order_number")
    result: Literal["passed", "failed"]
    details: str | None = None


class NewTicket(ContactRef):
    subject: str
    category: str
    priority: str | None = "normal"
    risk_level: str | None = "none"
    description: str | None = ""
    customer_id: Id | str | None = None


class TicketChange(ContactRef):
    """``contact_id`` plus the fields to change (tickets.actions.UPDATABLE) and an optional ``reason``."""

    reason: str | None = None


class TicketNote(ContactRef):
    body: str


class NewCallback(ContactRef):
    customer_id: Id | str | None = None
    ticket_number: str | None = None
    due_at: Num | str = Field(description="an ISO 8601 time (naive means UTC) or seconds from now")
    note: str | None = None


class CallbackOutcome(Open):
    contact_id: Id | str | None = None
    outcome: str


class EmailReply(Open):
    body_text: str
    html: str | None = None


class WrapUp(Open):
    code: str
    notes: str | None = ""


class NewExercise(Open):
    name: str = Field(min_length=1, max_length=120)
    kind: Literal["practice", "exam"] = "practice"
    lang: Lang | None = None
    mix: dict[str, Num] = Field(description="scenario id -> weight")
    rate_per_minute: Num = 1.0
    duration_seconds: int = 600
    seed: int = 1
    group_id: Id | None = None


class SimCustomer(Open):
    scenario_id: str
    seed: int | None = None


class ScenarioChoice(Open):
    scenario_id: str


class GroupSession(Open):
    scenario_id: str
    audience: int = 20
    mix: dict[str, Num] | None = None
    target: str | None = Field(None, description="group:<id> or agent:<id>")
    seed: int | None = None


class GroupRooms(Open):
    scenario_id: str
    audience: int = 20
    mix: dict[str, Num] | None = None
    agent_ids: list[Id] | None = None
    group_id: Id | None = None
    seed: int | None = None


class LivestreamSession(Open):
    presenter_id: Id | None = None
    group_id: Id | None = None
    title: str = ""
    lang: Lang | None = None
    audience_size: int = 20
    comment_rate: Num = 6


class IdVerification(Open):
    decision: Literal["approved", "refused"]
    reason: str | None = ""


class CameraUnavailable(Open):
    reason: str
    detail: str | None = ""


class NewPanel(Open):
    name: str
    contact_ids: list[Id]
    grader_ids: list[Id]
    calibration: bool = False


class PanelScores(Open):
    scores: dict[str, Any] = Field(description="rubric item -> score (and note)")


class RolePlayOpen(Open):
    scenario_id: str | None = None
    channel: str | None = None
    lang: Lang | None = None
    agent_id: Id | None = None


class RolePlayStart(Open):
    token: str
    name: str | None = ""
    queue: str | None = None


class TheoryAnswer(Open):
    question_id: str
    answer: Any = None


class TaskDraft(Open):
    """The work item's answer so far (its fields depend on the item's kind)."""
