"""Evaluators read events through their typed view (``Event.fields``, the event type's schema model): a field
the schema does not declare is an error, not a silent None, and the view holds exactly what was recorded, so
old and hand-built recordings grade as before."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from contacts.event_types import registered
from grading.recording import Event, typed_fields
from tickets.event_types import CrmVerify, TicketUpdated

ROOT = Path(__file__).resolve().parents[2]
GRADING = ROOT / "grading"
# Not migrated yet (being edited elsewhere): its reads go by string key.
NOT_MIGRATED: set[str] = set()


def _event(type_, data, actor="agent"):
    return Event(id=1, seq=1, ts=0.0, type=type_, actor=actor, data=data)


def test_a_misspelt_field_raises_instead_of_reading_none():
    e = _event("crm.verify", {"customer_id": 3, "customer_ref": "C3", "method": "dob", "result": "verified"})
    assert isinstance(e.fields, CrmVerify) and e.fields.result == "verified"
    assert e.data.get("resutl") is None  # what the string-key read did with the typo
    with pytest.raises(AttributeError):
        e.fields.resutl  # noqa: B018
    assert e.conforms


def test_the_view_holds_the_recorded_values_and_is_built_once():
    data = {"ticket_id": 1, "number": "T1", "changes": {"compensation_amount": [None, 30]}, "limit": 500}
    e = _event("ticket.updated", data)
    assert isinstance(e.fields, TicketUpdated) and e.fields is e.fields
    # not coerced to the schema's float: a note formats what was recorded, as with data.get
    assert e.fields.limit == 500 and type(e.fields.limit) is int
    assert e.fields.over_limit is None and e.fields.linked is None


def test_legacy_data_gets_a_lenient_view_and_an_unknown_type_an_empty_one():
    # missing required fields (agent_name, wait_seconds) and a key the schema never had
    e = _event("assignment", {"agent_id": 7, "old_key": 1}, actor="system")
    assert not e.conforms
    assert e.fields.agent_id == 7 and e.fields.wait_seconds is None and e.fields.after_transfer is False
    with pytest.raises(AttributeError):
        e.fields.old_key  # noqa: B018
    gone = _event("no.such.type", {"x": 1})
    assert not gone.conforms and gone.fields.model_dump() == {}
    assert typed_fields("wrap_up", None).code is None


def _schema_fields() -> dict[str, set[str]]:
    typed_fields("wrap_up", {})  # loads the configured schema modules when no app has
    return {name: set(et.data.model_fields) for name, (et, _src) in registered().items()}


def _type_literals(node: ast.AST, schemas: dict, names: dict[str, set[str]]) -> set[str]:
    """Event types a piece of code names: string literals, and module constants holding them."""
    found = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in schemas:
            found.add(n.value)
        elif isinstance(n, ast.Name) and n.id in names:
            found |= names[n.id]
    return found


def unknown_field_reads(source: str, schemas: dict[str, set[str]]) -> list[str]:
    """Every ``<expr>.fields.<name>`` whose name is not a field of any event type its module names (as a
    literal or a module constant): a misspelt or renamed field an evaluator would read."""
    tree = ast.parse(source)
    names: dict[str, set[str]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            types = _type_literals(stmt.value, schemas, {})
            if types:
                names[stmt.targets[0].id] = types
    types = _type_literals(tree, schemas, names)
    return [
        f"line {node.lineno}: .fields.{node.attr} is not a field of {sorted(types)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "fields"
        and not any(node.attr in schemas[t] for t in types)
    ]


def test_the_check_catches_a_misspelt_field():
    schemas = _schema_fields()
    good = 'def f(r):\n    return [e.fields.result for e in r.of_type("crm.verify")]\n'
    bad = 'def f(r):\n    return [e.fields.resutl for e in r.of_type("crm.verify")]\n'
    wrong_type = 'def f(r):\n    return [e.fields.slug for e in r.of_type("crm.verify")]\n'
    assert unknown_field_reads(good, schemas) == []
    assert unknown_field_reads(bad, schemas) == ["line 2: .fields.resutl is not a field of ['crm.verify']"]
    assert unknown_field_reads(wrong_type, schemas)


def test_every_field_grading_reads_is_declared_by_its_event_schema():
    schemas = _schema_fields()
    problems, reads = [], 0
    for path in sorted(GRADING.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        reads += source.count(".fields.")
        problems += [f"{path.relative_to(ROOT)} {p}" for p in unknown_field_reads(source, schemas)]
    assert reads > 50  # the evaluators do read typed fields
    assert problems == []


def test_evaluators_no_longer_read_event_data_by_string_key():
    left = []
    for path in sorted((GRADING / "evaluators").glob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel in NOT_MIGRATED:
            continue
        source = path.read_text(encoding="utf-8")
        for needle in ("data.get(", ".data[", "(e.data or {})"):
            if needle in source:
                left.append(f"{rel}: {needle}")
    assert left == []
