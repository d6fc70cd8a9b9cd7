"""The AsyncAPI 3.0 document of the Socket.IO namespaces, built from the running server: each namespace the
app registered is a channel, each ``on_<event>`` handler of its class an operation the server receives (its
docstring the description), answered by a Socket.IO acknowledgement (the operation's reply). Payloads and acks
come from apidocs/socket_events.py; server pushes are one Socket.IO event, ``event``, told apart by ``type``."""

from __future__ import annotations

import inspect

from pydantic import BaseModel

from . import models
from .socket_events import NAMESPACES

LIFECYCLE = ("connect", "disconnect")
ACK_ERROR = {
    "type": "object",
    "required": ["ok", "error"],
    "properties": {
        "ok": {"const": False},
        "error": {"type": "string"},
        "code": {"enum": ["queue_full"], "description": "set when a client should act on the refusal"},
        "reason": {"enum": ["capacity", "start_rate", "lag", "busy"]},
        "retry_after": {"type": "integer", "description": "seconds before trying again"},
    },
    "description": "A refused event: the reason (not yours, wrong token, bad field, too many events, not signed "
    "in, or a transient failure worth a resend with the same client_id). The socket stays open. A /customer "
    "start refused at the door (the web process is at its capacity) has code 'queue_full', the message in the "
    "customer's language, and retry_after; no contact was opened.",
}


def handlers(socketio) -> dict[str, dict[str, object]]:
    """namespace -> {event: handler method} of every registered class-based namespace."""
    out: dict[str, dict[str, object]] = {}
    for ns, handler in sorted((socketio.server.namespace_handlers or {}).items()):
        events = {}
        for name, fn in inspect.getmembers(type(handler), inspect.isfunction):
            if name.startswith("on_") and name[3:] not in LIFECYCLE:
                events[name[3:]] = fn
        out[ns] = events
    return out


def _doc(fn) -> str:
    while hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
    return inspect.getdoc(fn) or ""


def _key(ns: str, name: str) -> str:
    return f"{ns.strip('/')}.{name}".replace("(", "").replace(")", "").replace(" ", "_")


def build_asyncapi(socketio) -> dict:
    """The document as a dict (served at /api/asyncapi.json). Raises KeyError naming an undocumented event."""
    channels, operations, messages = {}, {}, {}
    schemas = {name: _schema(model) for name, model in (("ContactSummary", models.ContactSummary),
                                                        ("ContactEvent", models.ContactEvent))}  # fmt: skip
    schemas["AckError"] = ACK_ERROR
    messages["AckError"] = {"name": "ack", "title": "refused", "payload": {"$ref": "#/components/schemas/AckError"}}
    for ns, events in handlers(socketio).items():
        spec = NAMESPACES.get(ns)
        if spec is None:
            raise KeyError(f"namespace {ns} has no entry in apidocs/socket_events.py")
        chan = ns.strip("/")
        chan_messages = {}
        for name, fn in sorted(events.items()):
            ev = spec.events.get(name)
            if ev is None:
                raise KeyError(f"{ns} {name} has no entry in apidocs/socket_events.py")
            key = _key(ns, name)
            messages[key] = {"name": name, "title": name, "summary": _doc(fn) or name, "payload": ev.payload}
            messages[key + ".ack"] = {"name": "ack", "title": f"{name} done", "payload": ev.ack}
            chan_messages[name] = {"$ref": f"#/components/messages/{key}"}
            operations[key] = {
                "action": "receive",
                "title": f"{ns} {name}",
                "summary": (_doc(fn).splitlines() or [name])[0],
                "description": _doc(fn),
                "channel": {"$ref": f"#/channels/{chan}"},
                "messages": [{"$ref": f"#/channels/{chan}/messages/{name}"}],
                "reply": {
                    "channel": {"$ref": f"#/channels/{chan}"},
                    "messages": [
                        {"$ref": f"#/channels/{chan}/messages/{name}.ack"},
                        {"$ref": f"#/channels/{chan}/messages/ack.error"},
                    ],  # fmt: skip
                },
            }
            chan_messages[f"{name}.ack"] = {"$ref": f"#/components/messages/{key}.ack"}
        chan_messages["ack.error"] = {"$ref": "#/components/messages/AckError"}
        push_key = _key(ns, "event")
        messages[push_key] = {
            "name": "event",
            "title": "server push",
            "summary": "Everything the server pushes on this namespace: one Socket.IO event named 'event', whose "
            "payload's 'type' says what it is.",
            "payload": {"oneOf": list(spec.pushes.values())},
        }
        chan_messages["event"] = {"$ref": f"#/components/messages/{push_key}"}
        operations[push_key] = {
            "action": "send",
            "title": f"{ns} pushes",
            "channel": {"$ref": f"#/channels/{chan}"},
            "messages": [{"$ref": f"#/channels/{chan}/messages/event"}],
        }
        channels[chan] = {
            "address": ns,
            "title": ns,
            "description": f"Who may connect: {spec.who}. Events carry one JSON object and expect an "
            "acknowledgement: {ok: true, ...} when done, {ok: false, error} when refused.",
            "messages": chan_messages,
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Kefu Sandbox Socket.IO namespaces",
            "version": "1",
            "description": "Socket.IO 5 (engine.io 4) on the web server's /socket.io/ path, one namespace per "
            "channel; staff sockets are authenticated by the signed-in session cookie.",
        },
        "defaultContentType": "application/json",
        "servers": {"web": {"host": "127.0.0.1:5000", "protocol": "ws", "pathname": "/socket.io/"}},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def _schema(model: type[BaseModel]) -> dict:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")


def page_view(doc: dict) -> list[dict]:
    """The document as the docs page lists it: per namespace, its events (payload, ack) and its pushes."""
    messages = doc["components"]["messages"]

    def resolve(ref: dict) -> dict:
        return messages[ref["$ref"].rsplit("/", 1)[1]]

    out = []
    for chan in doc["channels"].values():
        events, pushes = [], []
        for key, ref in chan["messages"].items():
            if key == "event":
                pushes = resolve(ref)["payload"]["oneOf"]
            elif not key.endswith("ack") and key != "ack.error":
                msg = resolve(ref)
                ack = resolve(chan["messages"][f"{key}.ack"])
                events.append(
                    {"name": key, "summary": msg["summary"], "payload": msg["payload"], "ack": ack["payload"]}
                )
        out.append({"namespace": chan["address"], "description": chan["description"], "events": events,
                    "pushes": pushes})  # fmt: skip
    return out
