"""Typed events: a schema for every event type a recording may hold, checked when the event is appended.

Each type names who may record it (``actors``), whether it carries text, and the pydantic model of its ``data``
(unknown keys are refused). The registry starts with the contact's own types (below) and is filled, at start,
from the modules listed in ``EVENT_SCHEMA_MODULES`` (each package's ``event_types.py``, an explicit list, no
folder scanning); ``docs/events.md`` is generated from it (``flask events catalogue``). Appending an event of an
unknown type, or with a payload its schema refuses, raises ``EventSchemaError`` and writes nothing.

A package adding an event type adds its schema to its own ``event_types.py`` (and the module to the list if it
is new), then regenerates the catalogue.
"""

from __future__ import annotations

import importlib
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

ACTORS = frozenset({"agent", "customer", "system", "lead", "simulator", "audience"})
Text = Literal["none", "optional", "required"]


class EventSchemaError(ValueError):
    """An event that its type's schema refuses (or of no known type): nothing was recorded."""


class EventData(BaseModel):
    """Base of every event's ``data`` model: keys not declared are refused, so a typo is an error, not a silently
    missing field for the grader."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoData(EventData):
    """No data."""


@dataclass(frozen=True)
class EventType:
    """One event type: its name, who records it, its text, its data model and what it means."""

    name: str
    doc: str
    data: type[EventData] = NoData
    actors: frozenset[str] = frozenset({"system"})
    text: Text = "none"

    def validate(self, actor: str, text: str | None, data: dict[str, Any]) -> None:
        if actor not in self.actors:
            raise EventSchemaError(f"{self.name}: actor {actor!r} is not one of {sorted(self.actors)}")
        if self.text == "none" and text is not None:
            raise EventSchemaError(f"{self.name} carries no text")
        if self.text == "required" and not (isinstance(text, str) and text):
            raise EventSchemaError(f"{self.name} needs its text")
        try:
            self.data.model_validate(data)
        except ValidationError as e:
            raise EventSchemaError(f"{self.name}: {e}") from e


def event(
    name: str, doc: str, data: type[EventData] = NoData, *, actors: Iterable[str] = ("system",), text: Text = "none"
):
    """Shorthand for an EventType in the packages' ``event_types.py``."""
    actors = frozenset(actors)
    unknown = actors - ACTORS
    if unknown:
        raise ValueError(f"{name}: unknown actors {sorted(unknown)}")
    return EventType(name=name, doc=doc, data=data, actors=actors, text=text)


_registry: dict[str, EventType] = {}
_sources: dict[str, str] = {}  # event type -> the module that registered it
_lock = threading.Lock()


def register_event_types(types: Iterable[EventType], source: str) -> None:
    """Add event types (a package's ``EVENT_TYPES``). Registering the same type again from the same module is a
    no-op; from another module it is an error (two owners of one event type)."""
    with _lock:
        for et in types:
            owner = _sources.get(et.name)
            if owner is not None and owner != source:
                raise ValueError(f"event type {et.name!r} is registered by {owner} and {source}")
            _registry[et.name] = et
            _sources[et.name] = source


def load_event_type_modules(modules: Iterable[str]) -> None:
    """Register the ``EVENT_TYPES`` of each listed module (config ``EVENT_SCHEMA_MODULES``)."""
    for name in modules:
        module = importlib.import_module(name)
        register_event_types(module.EVENT_TYPES, name)


def event_type(name: str) -> EventType:
    et = _registry.get(name)
    if et is None:
        raise EventSchemaError(
            f"unknown event type {name!r}: declare it in its package's event_types.py (contacts/event_types.py)"
        )
    return et


_refusals: deque[tuple[int, str]] = deque(maxlen=100)  # (number, message) of the latest refusals in this process
_refused = [0]  # refusals so far in this process


def validate_event(type: str, actor: str, text: str | None, data: dict[str, Any]) -> None:
    """Raise EventSchemaError unless this event matches its type's schema."""
    try:
        if not isinstance(data, dict):
            raise EventSchemaError(f"{type}: data must be an object")
        event_type(type).validate(actor, text, data)
    except EventSchemaError as e:
        # Some callers (media and simulator reports) log a failed append and go on: keep the refusal where a
        # test can see it too (tests/conftest.py fails any test that had an event refused unexpectedly).
        with _lock:
            _refused[0] += 1
            _refusals.append((_refused[0], str(e)))
        raise


def refusals_count() -> int:
    """How many events have been refused in this process so far."""
    with _lock:
        return _refused[0]


def refusals(since: int = 0) -> list[str]:
    """The refusals after the first ``since`` (of the latest 100)."""
    with _lock:
        return [message for number, message in _refusals if number > since]


def registered() -> dict[str, tuple[EventType, str]]:
    """Every registered type with the module that registered it, by name."""
    with _lock:
        return {name: (et, _sources[name]) for name, et in sorted(_registry.items())}


def typed_data(type: str, data: dict[str, Any] | None) -> EventData:
    """An event's ``data`` as its type's model (attributes instead of string keys), for graders and
    integrators: ``typed_data(ev.type, ev.data).code`` for a ``wrap_up``."""
    return event_type(type).data.model_validate(data or {})
