"""What each Socket.IO event takes and acknowledges, by (namespace, event), and what the server pushes on each
namespace. The events themselves are the ``on_<event>`` handlers of the registered namespaces (apidocs/asyncapi.py
reads them from the Socket.IO server); an event without an entry here, or an entry naming no handler, fails
tests/apidocs/test_asyncapi.py by name. Field names are the ones the handlers read.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def obj(*required: str, **props) -> dict:
    """A JSON object schema: ``required`` names, ``props`` name -> schema (more keys allowed)."""
    return {"type": "object", "required": list(required), "properties": props}


S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741
N = {"type": "number"}
B = {"type": "boolean"}
O = {"type": "object"}  # noqa: E741
A = {"type": "array"}
NULL_S = {"type": ["string", "null"]}
SDP = {"type": "string", "description": "an SDP offer, sent after ICE gathering completes"}
CID = {"type": "integer", "description": "the contact's id"}
TOKEN = {"type": "string", "description": "the contact's customer_token (from the start/dial ack)"}
EVENT = {"$ref": "#/components/schemas/ContactEvent"}
MODE = {"enum": ["listen", "whisper", "barge"]}
CONTACT = {"$ref": "#/components/schemas/ContactSummary"}


def ok(*required: str, **props) -> dict:
    """An ack of a done action: ``{"ok": true, ...}``."""
    return obj("ok", *required, ok={"const": True}, **props)


@dataclass(frozen=True)
class Ev:
    """One client -> server event: its payload and its success ack (every event may also ack an AckError)."""

    payload: dict
    ack: dict
    who: str = ""


@dataclass(frozen=True)
class Namespace:
    who: str  # who may connect
    events: dict[str, Ev] = field(default_factory=dict)
    pushes: dict[str, dict] = field(default_factory=dict)  # ``event`` pushes: type -> payload schema


def push(type_: str, *required: str, **props) -> dict:
    return obj("type", *required, type={"const": type_}, **props)


CONTACT_EVENT_PUSH = push("contact_event", "event", event=EVENT)
STAFF = "trainee, lead, admin"

NAMESPACES: dict[str, Namespace] = {
    "/desk": Namespace(
        "signed-in trainees, leads and admins (others are refused at connect); the agent's own contacts only",
        {
            "hello": Ev(O, ok("agent", "contacts", "queues", agent=O, contacts=A, queues=A)),
            "set_state": Ev(
                obj("state", state={"enum": ["available", "away", "offline"]}, reason=S), ok("agent", agent=O)
            ),
            "join_contact": Ev(obj("contact_id", contact_id=CID), ok("contact", "events", contact=CONTACT, events=A)),
            "send": Ev(
                obj("contact_id", "text", contact_id=CID, text=S, client_id=S),
                ok("event", "duplicate", event=EVENT, duplicate=B),
            ),
            "typing": Ev(obj("contact_id", "typing", contact_id=CID, typing=B), ok("event", event=EVENT)),
            "sync": Ev(
                obj("contact_id", contact_id=CID, after_seq=I), ok("contact", "events", contact=CONTACT, events=A)
            ),
            "end": Ev(obj("contact_id", contact_id=CID), ok("contact", contact=CONTACT)),
            "wrap_up": Ev(obj("contact_id", "code", contact_id=CID, code=S, notes=S), ok("contact", contact=CONTACT)),
            "transfer": Ev(
                obj(
                    "contact_id",
                    "target_kind",
                    "target",
                    contact_id=CID,
                    target_kind={"enum": ["queue", "level", "agent"]},
                    target=S,
                    note=S,
                ),
                ok("contact", contact=CONTACT),
            ),
            "figures": Ev(O, ok("queues", "agent", queues=A, agent=O)),
            "send_article": Ev(obj("contact_id", "slug", contact_id=CID, slug=S, text=S), ok("event", event=EVENT)),
        },
        {
            "contact_event": CONTACT_EVENT_PUSH,
            "agent_state": push("agent_state", "agent", agent=O),
            "transfer_result": push("transfer_result", "contact_id", contact_id=I, customer_name=NULL_S),
            "ticket_assigned": push("ticket_assigned", "number", number=S, ticket_id=I, by=I),
            "callback_scheduled": push("callback_scheduled", "callback", callback=O),
            "callback_due": push("callback_due", "callback", callback=O),
            "scorecard.graded": push(
                "scorecard.graded", "contact_id", "total", "passed", contact_id=I, total=N, passed=B, gated=B
            ),
            "work_item": push("work_item", "event", "work_item", event=S, work_item=O),
        },
    ),
    "/customer": Namespace(
        "anyone (a person playing the customer); every event but start proves its contact with the token; "
        "5 events a second per connection",
        {
            "start": Ev(
                obj(name=S, queue=S, lang={"enum": ["zh_CN", "en"]}, subject=S),
                ok("contact_id", "token", "status", contact_id=I, token=S, status=S),
            ),
            "resume": Ev(obj("contact_id", "token", contact_id=CID, token=TOKEN, after_seq=I), ok("status", "events")),
            "send": Ev(
                obj("contact_id", "token", "text", contact_id=CID, token=TOKEN, text=S, client_id=S),
                ok("seq", "event", "duplicate", seq=I, event=O, duplicate=B),
            ),
            "typing": Ev(obj("contact_id", "token", "typing", contact_id=CID, token=TOKEN, typing=B), ok("event")),
            "leave": Ev(obj("contact_id", "token", contact_id=CID, token=TOKEN), ok("status", status=S)),
            "rate": Ev(
                obj("contact_id", "token", "score", contact_id=CID, token=TOKEN, score={"minimum": 1, "maximum": 5}),
                ok(),
            ),
        },
        {"contact_event": push("contact_event", "event", event=O)},
    ),
    "/voice": Namespace(
        "trainees, leads and admins for their calls; anyone as a caller (caller events prove the call with its "
        "token); rate-limited per connection",
        {
            "answer": Ev(obj("contact_id", "sdp", contact_id=CID, sdp=SDP), ok("sdp", sdp=S)),
            "hold": Ev(obj("contact_id", contact_id=CID), ok("event", event=EVENT)),
            "resume": Ev(obj("contact_id", contact_id=CID), ok("event", event=EVENT)),
            "mute": Ev(obj("contact_id", contact_id=CID, muted=B), ok("event", event=EVENT)),
            "quick_phrase": Ev(obj("contact_id", "move", contact_id=CID, move=S), ok("event", event=EVENT)),
            "transfer": Ev(
                obj("contact_id", "target_kind", "target", contact_id=CID, target_kind=S, target=S, note=S),
                ok("contact", contact=CONTACT),
            ),
            "hang_up": Ev(obj("contact_id", contact_id=CID), ok("contact", contact=CONTACT)),
            "call_back": Ev(obj("callback_id", callback_id=I), ok("contact", contact=CONTACT, answer_url=S)),
            "state": Ev(obj("contact_id", contact_id=CID), ok("state", "contact", state=O, contact=CONTACT)),
            "dial": Ev(
                obj(name=S, queue={"type": "string", "description": "voice.* or video.*"}, lang=S),
                ok("contact_id", "token", "status", contact_id=I, token=S, status=S),
            ),
            "caller_offer": Ev(obj("contact_id", "token", "sdp", contact_id=CID, token=TOKEN, sdp=SDP), ok("sdp")),
            "caller_camera_unavailable": Ev(
                obj("contact_id", "token", contact_id=CID, token=TOKEN, reason=S, detail=S), ok()
            ),
            "caller_rejoin": Ev(
                obj("contact_id", "token", contact_id=CID, token=TOKEN), ok("status", "state", status=S, state=O)
            ),
            "caller_hang_up": Ev(obj("contact_id", "token", contact_id=CID, token=TOKEN), ok("status", status=S)),
        },
        {
            "call_state": push("call_state", "contact_id", "event", contact_id=I, event=S, data=O),
            "contact_event": CONTACT_EVENT_PUSH,
        },
    ),
    "/group": Namespace(
        "the room's agent, their lead and admins for staff events; anyone with the room's link token joins as "
        "a member, then proves it with the member token",
        {
            "watch": Ev(obj("room_id", room_id=I, after_seq=I), ok("room", "events", room=O, events=A)),
            "reply": Ev(
                obj("room_id", "text", room_id=I, text=S, mentions=A, reply_to=S, cluster=S, client_id=S),
                ok("event", "answered", event=EVENT, answered=A),
            ),
            "pin": Ev(obj("room_id", "text", room_id=I, text=S, cluster=S), ok("event", "answered")),
            "unpin": Ev(obj("room_id", "seq", room_id=I, seq=I), ok("event", event=EVENT)),
            "move_private": Ev(
                obj("room_id", "member", room_id=I, member=S), ok("event", "contact_id", event=EVENT, contact_id=I)
            ),
            "close": Ev(obj("room_id", room_id=I, code=S, notes=S), ok()),
            "join": Ev(
                obj("room_id", "token", "name", room_id=I, token=S, name=S),
                ok("member_id", "member_token", "events", member_id=S, member_token=S, events=A),
            ),
            "resume": Ev(obj("room_id", "member_id", "member_token", room_id=I, member_id=S, member_token=S), ok()),
            "post": Ev(
                obj("room_id", "member_id", "member_token", "text", room_id=I, member_id=S, member_token=S, text=S),
                ok("seq", "duplicate", seq=I, duplicate=B),
            ),
            "leave": Ev(obj("room_id", "member_id", "member_token", room_id=I, member_id=S, member_token=S), ok()),
        },
        {
            "contact_event": CONTACT_EVENT_PUSH,
            "group.private": push("group.private", "room_id", "contact_id", "token", room_id=I, contact_id=I, token=S),
            "(a room event as members see it)": obj("type", "seq", type=S, seq=I, text=NULL_S),
        },
    ),
    "/livestream": Namespace(
        "staff of the stream's group and guests with the stream's guest link; presenter events only for the presenter",
        {
            "join": Ev(obj("stream_id", stream_id=I), ok()),
            "comment": Ev(
                obj("stream_id", "text", stream_id=I, text=S, client_id=S),
                ok("comment", "duplicate", comment=O, duplicate=B),
            ),
            "watch": Ev(obj("stream_id", "offer", stream_id=I, offer=SDP), ok("answer", answer=O)),
            "leave": Ev(obj("stream_id", stream_id=I), ok()),
            "publish": Ev(obj("stream_id", "offer", stream_id=I, offer=SDP), ok("answer", answer=O)),
            "mark_answered": Ev(obj("stream_id", "comment_seq", stream_id=I, comment_seq=I), ok("event")),
            "pin": Ev(obj("stream_id", "text", stream_id=I, text=S, comment_seq=I), ok("event")),
            "reply": Ev(obj("stream_id", "text", stream_id=I, text=S, comment_seq=I), ok("event")),
            "move_to_chat": Ev(obj("stream_id", "comment_seq", stream_id=I, comment_seq=I), ok("event")),
            "stop": Ev(obj("stream_id", stream_id=I), ok()),
            "stats": Ev(obj("stream_id", stream_id=I), ok("media", "audience", media=O, audience=I)),
        },
        {
            "livestream_comments": push("livestream_comments", "stream_id", "comments", stream_id=I, comments=A),
            "livestream_private": push(
                "livestream_private",
                "stream_id",
                "chat_contact_id",
                "token",
                stream_id=I,
                chat_contact_id=I,
                token=S,
                link=S,
            ),
            "contact_event": CONTACT_EVENT_PUSH,
        },
    ),
    "/floor": Namespace(
        "leads and admins for their groups; graders may monitor silently",
        {
            "snapshot": Ev(O, ok("agents", "queues")),
            "watch": Ev(obj("contact_id", contact_id=CID, record=B), ok("contact", "events")),
            "unwatch": Ev(obj("contact_id", contact_id=CID), ok()),
            "coach": Ev(obj("contact_id", "text", contact_id=CID, text=S), ok("event", event=EVENT)),
            "take_over": Ev(obj("contact_id", contact_id=CID), ok("event", event=EVENT)),
            "monitor_call": Ev(
                obj("contact_id", "mode", "sdp", contact_id=CID, mode=MODE, sdp=SDP),
                ok("sdp"),
            ),
            "monitor_mode": Ev(obj("contact_id", "mode", contact_id=CID, mode=MODE), ok("event")),
            "monitor_hang_up": Ev(obj("contact_id", contact_id=CID), ok("event")),
            "ack_alert": Ev(obj("id", id=S), ok("event")),
        },
        {
            "contact_event": CONTACT_EVENT_PUSH,
            "contact_state": push("contact_state", "contact", contact=CONTACT),
            "agent_state": push("agent_state", "agent", agent=O),
            "alert": push("alert", "alert", alert=O),
            "alert_cleared": push("alert_cleared", "id", id=S, reason=S),
            "livestream_comments": push("livestream_comments", "stream_id", "comments", stream_id=I, comments=A),
            "work_item": push("work_item", "event", "work_item", event=S, work_item=O),
            "skill_exam": push("skill_exam", "event", "exam", event=S, exam=O, actor_id=I),
        },
    ),
}

# Pushed to in-process and Redis listeners only (contacts.events.send_event with no Socket.IO room): listed so
# that the source scan in tests/apidocs knows they are not forgotten.
NOT_ON_SOCKETS = frozenset({"email_delivered", "kb.proposed", "kb.published", "kb.rejected"})
