"""The AsyncAPI document matches the Socket.IO server: every on_<event> handler of every namespace is in it and
nothing else is; every push type the code sends is documented on the namespace it goes to; the acks the
document states are the ones a real socket gets."""

from __future__ import annotations

import ast
from pathlib import Path

from apidocs.asyncapi import handlers
from apidocs.socket_events import NAMESPACES, NOT_ON_SOCKETS

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".venv", "tests", "bench", "node_modules", "tools", "migrations"}


def test_every_handler_is_documented_and_every_entry_names_a_handler(app, client):
    """Both ways, by namespace and event name, in the table and in the served document."""
    from extensions import socketio

    live = {(ns, ev) for ns, evs in handlers(socketio).items() for ev in evs}
    table = {(ns, ev) for ns, spec in NAMESPACES.items() for ev in spec.events}
    assert sorted(live - table) == [], "handlers missing from apidocs/socket_events.py"
    assert sorted(table - live) == [], "entries in apidocs/socket_events.py naming no handler"
    assert {ns for ns, _ in live} >= {"/desk", "/customer", "/voice", "/group", "/livestream", "/floor"}
    doc = client.get("/api/asyncapi.json").get_json()
    assert doc["asyncapi"] == "3.0.0"
    documented = {(ch["address"], name) for ch in doc["channels"].values() for name in ch["messages"]}
    for ns, ev in live:
        assert (ns, ev) in documented and (ns, f"{ev}.ack") in documented, (ns, ev)
        op = doc["operations"][f"{ns.strip('/')}.{ev}"]
        assert op["action"] == "receive" and len(op["reply"]["messages"]) == 2


def _pushes_in_source():
    """(file, type, namespaces named in the call) for each send_event / socketio.emit call whose payload is a
    dict literal (or a name assigned one in the same function) with a literal "type"."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if SKIP & set(path.relative_to(ROOT).parts):
            continue
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, ast.FunctionDef):
                continue
            assigned = {
                n.targets[0].id: n.value
                for n in ast.walk(fn)
                if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
            }
            for call in ast.walk(fn):
                if not isinstance(call, ast.Call):
                    continue
                f = call.func
                named = isinstance(f, ast.Name) and f.id == "send_event"
                emit = isinstance(f, ast.Attribute) and f.attr == "emit" and getattr(f.value, "id", "") == "socketio"
                if not (named or emit):
                    continue
                spaces = {
                    c.value
                    for c in ast.walk(call)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str) and c.value in NAMESPACES
                }
                for arg in call.args:
                    arg = assigned.get(arg.id, arg) if isinstance(arg, ast.Name) else arg
                    for d in ast.walk(arg):
                        if isinstance(d, ast.Dict):
                            for k, v in zip(d.keys, d.values, strict=True):
                                if isinstance(k, ast.Constant) and k.value == "type" and isinstance(v, ast.Constant):
                                    found.append((str(path.relative_to(ROOT)), v.value, spaces))
    return found


def test_every_push_type_in_the_code_is_documented_where_it_goes():
    """A new push type (or an old one sent to a new namespace) without a line in socket_events.py is named."""
    found = _pushes_in_source()
    assert len(found) >= 15  # the scan sees the code's pushes
    missing = []
    for where, type_, spaces in found:
        if spaces:
            missing += [(where, ns, type_) for ns in spaces if type_ not in NAMESPACES[ns].pushes]
        elif type_ not in NOT_ON_SOCKETS and not any(type_ in spec.pushes for spec in NAMESPACES.values()):
            missing.append((where, "?", type_))
    assert missing == []


def test_acks_are_as_documented(app, client, auth, make_user, socket_client):
    """A real /desk socket: a done event's ack has the documented required keys, a refused one is AckError."""
    from jsonschema_rs import validator_for

    from apidocs import asyncapi_document

    make_user("ann", role="trainee", level="L5")
    auth.login("ann")
    desk = socket_client("/desk")
    with app.test_request_context():
        doc = asyncapi_document()
    messages = doc["components"]["messages"]
    ack = desk.emit("set_state", {"state": "away", "reason": "break"}, namespace="/desk", callback=True)
    schema = {**messages["desk.set_state.ack"]["payload"], "$defs": {}}
    assert validator_for(schema).is_valid(ack), ack
    refused = desk.emit("set_state", {"state": "asleep"}, namespace="/desk", callback=True)
    assert validator_for(doc["components"]["schemas"]["AckError"]).is_valid(refused), refused
    assert not validator_for(schema).is_valid(refused)
