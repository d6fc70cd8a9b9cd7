"""Task specs in the content packs (``scenarios/packs/<lang>/tasks/*.yaml``): read and validated with the rest
of a pack by `flask content check|load` (a pack hook), upserted into ``task_specs`` on load."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select

from extensions import db
from scenarios.loader import PackError, _display
from scenarios.yamlsrc import read_model

from .models import TaskSpecRecord
from .schema import TaskSpec, spec_problems


def read_specs(folder: Path, lang: str | None = None) -> tuple[list[TaskSpec], list[str]]:
    """Every spec in ``folder/tasks`` (validated), and the problems found as "<file> line <n>: ..."."""
    from .kinds import TaskError, get_kind

    tdir = Path(folder) / "tasks"
    files = sorted([*tdir.glob("*.yaml"), *tdir.glob("*.yml")]) if tdir.is_dir() else []
    specs, errors, first = [], [], {}
    for f in files:
        doc, spec = read_model(f, _display(f), TaskSpec, errors)
        if spec is None:
            continue
        problems = spec_problems(spec)
        if spec.id in first:
            problems.append((("id",), f"duplicate task id {spec.id!r} (also in {first[spec.id]})"))
        first.setdefault(spec.id, doc.name)
        if not problems:
            try:  # a spec whose data cannot be generated would fail the trainee, not the author: find it now
                get_kind(spec.kind).generate(spec.parsed_params(), 1, lang or "zh_CN")
            except (TaskError, ValueError, KeyError, IndexError) as e:
                problems.append((("params",), f"the data cannot be generated: {e}"))
        errors += [doc.error(loc, msg) for loc, msg in problems]
        if not problems:
            specs.append(spec)
    return specs, errors


def spec_hash(spec: TaskSpec) -> str:
    return hashlib.sha256(json.dumps(spec.model_dump(), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def pack_hook(pack, write: bool) -> None:
    """Validate the pack's task specs (and on ``write`` upsert them into the load's transaction)."""
    specs, errors = read_specs(pack.path, pack.lang)
    if errors:
        raise PackError(errors)
    if not write:
        return
    existing = {r.id: r for r in db.session.scalars(select(TaskSpecRecord).where(TaskSpecRecord.lang == pack.lang))}
    for spec in specs:
        values = {"lang": pack.lang, "kind": spec.kind, "level": spec.level, "title": spec.title,
                  "data": spec.model_dump(), "content_hash": spec_hash(spec)}  # fmt: skip
        row = existing.get(spec.id) or db.session.get(TaskSpecRecord, spec.id)
        if row is None:
            db.session.add(TaskSpecRecord(id=spec.id, **values))
        elif row.content_hash != values["content_hash"] or row.lang != pack.lang:
            for k, v in values.items():
                setattr(row, k, v)


def get_spec(spec_id: str) -> TaskSpec | None:
    row = db.session.get(TaskSpecRecord, spec_id)
    return TaskSpec.model_validate(row.data) if row is not None else None


def list_specs(lang: str | None = None, level: str | None = None) -> list[TaskSpecRecord]:
    q = select(TaskSpecRecord).order_by(TaskSpecRecord.id)
    if lang:
        q = q.where(TaskSpecRecord.lang == lang)
    if level:
        q = q.where(TaskSpecRecord.level == level)
    return list(db.session.scalars(q))
