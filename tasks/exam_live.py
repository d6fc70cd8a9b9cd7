"""The skill exam's livestream part: a session brief from the content packs (``scenarios/packs/<lang>/livestream/
*.yaml``: what the candidate presents and the points to cover) opened as a livestream presented by the candidate,
on the exam's exercise, with a simulated audience that starts when they go live from /livestream, as in practice.
Time-up ends it; the livestream rubric grades it into the exam's result like any other contact.

A brief is data: validated with the rest of a pack by `flask content check|load` (a pack hook) and read from the
content folder on first use, like the group rooms' scenarios."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

from pydantic import BaseModel, ConfigDict, Field

from accounts.models import User
from contacts.actions import ActionError
from extensions import db
from scenarios.schema import SkillCodes

LIVE_AUDIENCE_MAX = 200  # an exam's audience: a busy session, still within a 2-core sandbox's means


class LiveBrief(BaseModel):
    """One livestream session a candidate presents: a title (the stream's), the brief shown to them and the
    points the session should cover, and the simulated audience it gets."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str = Field(min_length=1, max_length=120)  # livestream.actions.MAX_TITLE
    level: str = Field(pattern=r"^L[345]$")
    skills: SkillCodes = Field(min_length=1)
    brief: str = Field(min_length=1)
    points: list[str] = Field(min_length=1)  # what the presenter should cover
    audience_size: int = Field(30, ge=1, le=LIVE_AUDIENCE_MAX)
    comment_rate: float = Field(8.0, gt=0, le=120)  # comments a minute, all viewers together


def read_briefs(pack_path: Path) -> tuple[list[LiveBrief], list[str]]:
    """Every brief in ``pack_path/livestream`` and one "<file> line <n>: <field>: <msg>" per problem."""
    from scenarios.loader import _display
    from scenarios.yamlsrc import read_model

    folder = Path(pack_path) / "livestream"
    briefs, errors, seen = [], [], set()
    for f in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        doc, b = read_model(f, _display(f), LiveBrief, errors)
        if b is None:
            continue
        if b.id in seen:
            errors.append(doc.error(("id",), f"duplicate livestream brief id {b.id!r}"))
            continue
        seen.add(b.id)
        briefs.append(b)
    return briefs, errors


def pack_hook(pack, write: bool) -> None:
    """Validate the pack's livestream briefs (they are read from the content folder, not stored)."""
    from scenarios.loader import PackError

    _briefs, errors = read_briefs(pack.path)
    if errors:
        raise PackError(errors)


_cache: dict[tuple[str, str], dict[str, LiveBrief]] = {}
_lock = threading.Lock()


def live_briefs(lang: str) -> dict[str, LiveBrief]:
    """The briefs of one language (id -> brief), read once per content folder."""
    from flask import current_app

    key = (str(current_app.config["CONTENT_DIR"]), lang)
    with _lock:
        if key not in _cache:
            found, errors = read_briefs(Path(key[0]) / lang)
            if errors:
                raise ValueError("; ".join(errors[:5]))
            _cache[key] = {b.id: b for b in found}
        return _cache[key]


def _as_part(b: LiveBrief) -> SimpleNamespace:
    return SimpleNamespace(id=b.id, level=b.level, skills=b.skills, family=None, channel="livestream", title=b.title)


def list_live_parts(lang: str) -> list[SimpleNamespace]:
    """The briefs of ``lang`` as exam parts (scenario-like: id, level, skills, channel, title)."""
    return [_as_part(b) for b in live_briefs(lang).values()]


def find_live(sid: str):
    """(part, lang) of a livestream brief id, or None (grading's ``find``)."""
    for lang in ("zh_CN", "en"):
        b = live_briefs(lang).get(str(sid))
        if b is not None:
            return _as_part(b), lang
    return None


def start_live(exam, attempt, part) -> int:
    """Open the livestream of the brief, presented by the candidate (started by the exam's lead), on the
    exam's exercise: withheld from the candidate until release and counted in the exam's result."""
    from livestream.actions import start_livestream

    from .exam_channels import _error

    found = find_live(part.id)
    if found is None:
        raise _error(ActionError(f"no livestream brief {part.id!r}"))
    brief = live_briefs(found[1])[part.id]
    candidate = db.session.get(User, exam.candidate_id)
    lead = db.session.get(User, exam.scheduled_by_id)
    try:
        contact = start_livestream(
            candidate,
            title=brief.title,
            lang=exam.lang,
            audience_size=brief.audience_size,
            comment_rate=brief.comment_rate,
            seed=exam.id * 1009 + attempt.position,
            started_by=lead,
            exercise_id=exam.exercise_id,
            brief={"id": brief.id, "text": brief.brief, "points": list(brief.points)},
        )
    except ActionError as e:
        raise _error(e) from e
    return contact.id


def end_live(contact, reason: str) -> None:
    """Time is up: the livestream ends as if its presenter ended it (viewers told, media and recording stop)."""
    from livestream.actions import do_end_livestream

    do_end_livestream(contact, None, reason=reason)
