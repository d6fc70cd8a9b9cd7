"""Graded calibration sessions: the file format (as in ../shared/calibration/sessions/) and its validation.

A session is one chat on a shipped scenario, as ``[seconds, actor, kind, payload]`` events, with an examiner's
verdict. Validation names the file and the event for every problem: an unknown scenario, action, wrap-up code,
escalation target, ticket category or verification method would otherwise be replayed as something else."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

# The examiner's gate names and the rubric item each one corresponds to.
GATE_ITEMS = {
    "disclosure_before_verification": "verify-before-disclose",
    "forbidden_language": "forbidden-phrases",
    "missed_crisis_escalation": "crisis-escalation",
    "over_compensation_limit": "compensation-limit",
    "wrong_information": "answer-correct",
}
ACTIONS = ("verify_identity", "crm_lookup", "kb_open", "ticket", "escalate", "compensate", "transfer", "close")
MANUAL_ITEMS = ("tone-and-wording", "solution-fit", "ticket-notes-accuracy")


class SessionError(ValueError):
    """A session file that cannot be replayed; the message names the file and the event."""


@dataclass
class Event:
    t: float
    actor: str  # customer | agent
    kind: str  # say | action
    payload: object


@dataclass
class Session:
    id: str
    path: str
    scenario: str
    level: str
    lang: str
    events: list[Event]
    verdict: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.verdict.get("pass"))

    @property
    def total_mid(self) -> float | None:
        total = self.verdict.get("total")
        if isinstance(total, list) and len(total) == 2:
            return (float(total[0]) + float(total[1])) / 2
        return None

    @property
    def gates(self) -> set[str]:
        return set(self.verdict.get("gates_failed") or [])


def _fail(path, where: str, message: str):
    raise SessionError(f"{path}: {where}: {message}")


def parse_session(path: Path) -> Session:
    """Read one session file (format only; ``check_session`` checks it against the loaded content)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SessionError(f"{path}: not a readable JSON file: {e}") from e
    if not isinstance(raw, dict):
        _fail(path, "top level", "expected an object")
    for key in ("id", "scenario", "level", "lang", "events"):
        if key not in raw:
            _fail(path, key, "missing")
    if raw["level"] not in ("L5", "L4", "L3"):
        _fail(path, "level", f"{raw['level']!r} is not L5, L4 or L3")
    if raw["lang"] not in ("zh_CN", "en"):
        _fail(path, "lang", f"{raw['lang']!r} is not zh_CN or en")
    if not isinstance(raw["events"], list) or not raw["events"]:
        _fail(path, "events", "expected a non-empty list")
    events, last = [], 0.0
    for i, ev in enumerate(raw["events"]):
        where = f"event {i}"
        if not isinstance(ev, list) or len(ev) != 4:
            _fail(path, where, "expected [seconds, actor, kind, payload]")
        t, actor, kind, payload = ev
        if isinstance(t, bool) or not isinstance(t, int | float) or t < last:
            _fail(path, where, f"time {t!r} must be a number, not before the previous event ({last})")
        if actor not in ("customer", "agent"):
            _fail(path, where, f"unknown actor {actor!r} (customer or agent)")
        if kind == "say":
            if not isinstance(payload, str) or not payload.strip():
                _fail(path, where, "a say event carries the text")
        elif kind == "action":
            if actor != "agent":
                _fail(path, where, "only the agent performs desk actions")
            if not isinstance(payload, dict) or len(payload) != 1:
                _fail(path, where, "an action is a one-key object naming the action")
            name = next(iter(payload))
            if name not in ACTIONS:
                _fail(path, where, f"unknown action {name!r}; known: {', '.join(ACTIONS)}")
            if not isinstance(payload[name], dict):
                _fail(path, where, f"action {name!r}: its fields must be an object")
        else:
            _fail(path, where, f"unknown kind {kind!r} (say or action)")
        last = float(t)
        events.append(Event(float(t), actor, kind, payload))
    verdict = raw.get("verdict") or {}
    if not isinstance(verdict, dict):
        _fail(path, "verdict", "expected an object")
    for gate in verdict.get("gates_failed") or []:
        if gate not in GATE_ITEMS:
            _fail(path, "verdict.gates_failed", f"unknown gate {gate!r}; known: {', '.join(GATE_ITEMS)}")
    return Session(str(raw["id"]), str(path), raw["scenario"], raw["level"], raw["lang"], events, verdict)


def check_session(session: Session) -> None:
    """Check a parsed session against the loaded content (needs an app context): the scenario and the codes its
    actions use exist in the scenario's pack."""
    from extensions import db
    from knowledge_base.models import Category
    from scenarios.registry import get_pack, get_scenario, scenario_lang
    from tickets.policy import verify_methods

    path = session.path
    scenario = get_scenario(session.scenario)
    if scenario is None:
        _fail(path, "scenario", f"no scenario {session.scenario!r} is loaded")
    if scenario.channel != "chat":
        _fail(path, "scenario", f"{session.scenario!r} is a {scenario.channel} scenario; sessions are chats")
    if scenario_lang(scenario.id) != session.lang:
        _fail(path, "lang", f"scenario {scenario.id!r} is in {scenario_lang(scenario.id)}, not {session.lang}")
    pack = get_pack(session.lang)
    wrap_ups = {c.code for c in pack.wrap_up_codes}
    targets = {t.code for t in pack.escalation_targets}
    categories = set(db.session.scalars(db.select(Category.code)))
    for i, ev in enumerate(session.events):
        if ev.kind != "action":
            continue
        name, fields = next(iter(ev.payload.items()))
        where = f"event {i} ({name})"
        if name == "close" and fields.get("wrapup") not in wrap_ups:
            _fail(path, where, f"unknown wrap-up code {fields.get('wrapup')!r}; known: {', '.join(sorted(wrap_ups))}")
        if name == "escalate" and fields.get("to") not in targets:
            _fail(path, where, f"unknown escalation target {fields.get('to')!r}; known: {', '.join(sorted(targets))}")
        if name == "ticket" and fields.get("category") not in categories:
            _fail(path, where, f"unknown ticket category {fields.get('category')!r}")
        if name == "verify_identity" and fields.get("method") not in verify_methods():
            _fail(path, where, f"unknown verification method {fields.get('method')!r}")
        if name == "compensate":
            amount = fields.get("amount")
            if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
                _fail(path, where, f"amount must be a number of at least 0, not {amount!r}")
        if name in ("crm_lookup", "kb_open") and not str(fields.get("query") or fields.get("slug") or "").strip():
            _fail(path, where, "needs its query or slug")


def session_files(path: Path) -> list[Path]:
    """The session files of a folder (``*.json``, sorted), or the one file given."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise SessionError(f"{path}: no *.json session files here")
        return files
    return [path]
