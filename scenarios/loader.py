"""Read, validate and load a content pack (see scenarios/schema.py for the layout of a pack folder).

``load_pack(path)`` validates every file of a pack and the references between files and raises one
``PackError`` listing every problem as "<file> line <n>: <field>: <message>". ``load_pack_into_db(path)``
then upserts the CRM, the knowledge base, the scenarios and the pack info; running it twice changes nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from .group import check_group_folder
from .rubric import Rubric
from .schema import (
    AGENT_MOVES,
    RISK_LEVELS,
    TICKET_PRIORITIES,
    TICKET_STATUSES,
    CrmFile,
    KbFile,
    PackInfo,
    Scenario,
)
from .yamlsrc import YamlDoc, read_model

# Desk actions a rule, a step or a required phrase may name besides the agent moves (as in Scenario.references).
DESK_ACTIONS = ("verify_identity", "kb_open", "ticket_created", "ticket_escalated", "id_approved", "id_refused")
KNOWN_STEPS = frozenset(AGENT_MOVES) | frozenset(DESK_ACTIONS)
TICKET_FIELDS = ("category", "priority", "risk_level", "status")
PACK_LANGS = ("zh_CN", "en")


class PackError(Exception):
    """A pack failed validation or loading. ``errors`` holds one "<file> line <n>: <field>: <msg>" per problem."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass
class Pack:
    """A validated pack, ready to load."""

    path: Path
    info: PackInfo
    crm: CrmFile
    kb: KbFile
    scenarios: list[Scenario]
    rubrics: list[Rubric] = field(default_factory=list)  # from rubrics/*.yaml

    @property
    def lang(self) -> str:
        return self.info.lang


@dataclass
class LoadReport:
    """What ``load_pack_into_db`` did: per kind (customers, orders, ...) rows created, updated and unchanged."""

    lang: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, kind: str, outcome: str) -> None:
        row = self.counts.setdefault(kind, {"created": 0, "updated": 0, "unchanged": 0})
        row[outcome] += 1

    def total(self, kind: str) -> int:
        return sum(self.counts.get(kind, {}).values())

    @property
    def changed(self) -> int:
        return sum(c["created"] + c["updated"] for c in self.counts.values())

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        parts = []
        for kind, c in self.counts.items():
            parts.append(f"{kind} {sum(c.values())} ({c['created']} new, {c['updated']} updated)")
        return f"{self.lang}: " + ", ".join(parts)


def find_packs(path: str | Path) -> list[Path]:
    """``path`` itself when it holds a pack.yaml, else its sub-folders that do (sorted)."""
    path = Path(path)
    if (path / "pack.yaml").is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_dir() and (p / "pack.yaml").is_file())


def load_pack(path: str | Path) -> Pack:
    """Parse and validate one pack folder; raise PackError naming every problem found."""
    path = Path(path)
    errors: list[str] = []
    if not (path / "pack.yaml").is_file():
        raise PackError([f"{_display(path)}: not a pack folder (no pack.yaml)"])

    info_doc, info = _read_model(path / "pack.yaml", PackInfo, errors)
    crm_doc, crm = _read_model(path / "crm.yaml", CrmFile, errors)
    kb_doc, kb = _read_model(path / "kb.yaml", KbFile, errors)
    scen_dir = path / "scenarios"
    files = sorted([*scen_dir.glob("*.yaml"), *scen_dir.glob("*.yml")]) if scen_dir.is_dir() else []
    scenarios: list[tuple[YamlDoc, Scenario]] = []
    for f in files:
        doc, sc = _read_model(f, Scenario, errors)
        if sc is not None:
            scenarios.append((doc, sc))

    rubrics = _read_rubrics(path, info, [sc for _d, sc in scenarios], errors)

    if info is not None:
        errors += _check_pack_info(info_doc, info, path)
    if crm is not None:
        errors += _check_crm(crm_doc, crm)
    if kb is not None:
        errors += _check_kb(kb_doc, kb)
    errors += _check_scenarios(scenarios, info, crm, kb)
    errors += _check_group(path, [sc for _d, sc in scenarios])

    if errors:
        raise PackError(errors)
    return Pack(path=path, info=info, crm=crm, kb=kb, scenarios=[sc for _d, sc in scenarios], rubrics=rubrics)


def add_pack_writer(app, writer) -> None:
    """Let the package that owns some of a pack's rows write them: ``writer(pack, report)`` runs first in the
    load's transaction (before the knowledge base and the scenarios) and counts its rows in ``report``. Tickets
    registers one for the CRM customers and orders, so this package writes none of tickets' tables."""
    app.extensions.setdefault("kefu_pack_writers", []).append(writer)


def pack_writers() -> list:
    from flask import current_app

    return current_app.extensions.get("kefu_pack_writers", [])


def add_pack_hook(app, hook) -> None:
    """Let another package take part in loading packs: ``hook(pack, write)`` is called for every pack checked
    (``write=False``: validate only, raise PackError) or loaded (``write=True``: validate and add its rows to
    the load's transaction). The language understanding registers one for its examples and trained model."""
    app.extensions.setdefault("kefu_pack_hooks", []).append(hook)


def run_pack_hooks(pack: Pack, write: bool) -> None:
    from flask import current_app, has_app_context

    if has_app_context():
        for hook in current_app.extensions.get("kefu_pack_hooks", []):
            hook(pack, write)


def load_pack_into_db(path: str | Path | Pack) -> LoadReport:
    """Validate a pack and upsert it: CRM customers/orders (tickets' pack writer), KB categories/articles (a
    changed article makes a new version), scenarios and pack info, and what other packages' pack hooks load (the
    understanding model).
    Idempotent. Raises PackError (nothing written) on any problem."""
    from . import registry
    from .upsert import upsert_pack

    pack = path if isinstance(path, Pack) else load_pack(path)
    run_pack_hooks(pack, write=False)
    report = upsert_pack(pack, before_commit=lambda: run_pack_hooks(pack, write=True))
    registry.invalidate(bump=True)
    return report


def _display(path: Path) -> str:
    """The file name used in messages: relative to the working directory when inside it."""
    try:
        return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _read_model(path: Path, model: type[BaseModel], errors: list[str]) -> tuple[YamlDoc | None, BaseModel | None]:
    name = _display(path)
    if not path.is_file():
        errors.append(f"{name}: file missing")
        return None, None
    return read_model(path, name, model, errors)


def _duplicates(doc: YamlDoc, items: list, attr: str, list_loc: tuple, what: str) -> list[str]:
    errors, seen = [], {}
    for i, item in enumerate(items):
        key = getattr(item, attr)
        if key in seen:
            errors.append(doc.error((*list_loc, i, attr), f"duplicate {what} {key!r} (first at item {seen[key]})"))
        else:
            seen[key] = i
    return errors


# Cross-checks of a pack's rubrics that need more than the schema: grading registers ``rubric_problems`` (the
# evaluators named and their params) from its init_app, so this package imports no grading module.
# rubric -> [(loc, message)].
RubricCheck = Callable[[Rubric], list[tuple[tuple, str]]]
_rubric_checks: list[RubricCheck] = []


def register_rubric_check(check: RubricCheck) -> None:
    """grading's init_app: run ``check(rubric)`` on every rubric a pack holds; each (loc, message) it returns is
    an error naming the file, line and field."""
    if check not in _rubric_checks:
        _rubric_checks.append(check)


def _read_rubrics(path: Path, info: PackInfo | None, scenarios: list[Scenario], errors: list[str]) -> list:
    """Validate rubrics/*.yaml (optional folder): the Rubric schema, then the registered cross-checks
    (grading.rubric.rubric_problems: evaluators and their params), the pack language and scenario ids."""
    folder = path / "rubrics"
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
    rubrics, first_file = [], {}
    scenario_ids = {sc.id for sc in scenarios}
    for f in files:
        doc, rubric = _read_model(f, Rubric, errors)
        if rubric is None:
            continue
        problems = [problem for check in _rubric_checks for problem in check(rubric)]
        if info is not None and rubric.lang != info.lang:
            problems.append((("lang",), f"{rubric.lang!r} does not match the pack language {info.lang!r}"))
        if rubric.id in first_file:
            problems.append((("id",), f"duplicate rubric id {rubric.id!r} (also in {first_file[rubric.id]})"))
        first_file.setdefault(rubric.id, doc.name)
        for i, sid in enumerate(rubric.scenarios):
            if sid not in scenario_ids:
                problems.append((("scenarios", i), f"scenario {sid!r} is not in this pack"))
        errors += [doc.error(loc, msg) for loc, msg in problems]
        if not problems:
            rubrics.append(rubric)
    return rubrics


def _check_group(path: Path, scenarios: list[Scenario]) -> list[str]:
    """The pack's group-chat scenarios (group/*.yaml; scenarios/group.py has their schema)."""
    return check_group_folder(path, path.name, {sc.id for sc in scenarios if sc.channel == "chat"})


def _check_pack_info(doc: YamlDoc, info: PackInfo, path: Path) -> list[str]:
    errors = []
    if path.name in PACK_LANGS and info.lang != path.name:
        errors.append(doc.error(("lang",), f"{info.lang!r} does not match the folder name {path.name!r}"))
    missing = [m for m in AGENT_MOVES if m not in info.moves]
    if missing:
        errors.append(doc.error(("moves",), f"no lexicon for move(s) {missing}: the simulator could not see them"))
    for move, lex in info.moves.items():
        for i, pattern in enumerate(lex.patterns):
            try:
                re.compile(pattern)
            except re.error as e:
                errors.append(doc.error(("moves", move, "patterns", i), f"invalid regular expression: {e}"))
    errors += _duplicates(doc, info.queues, "id", ("queues",), "queue id")
    errors += _duplicates(doc, info.wrap_up_codes, "code", ("wrap_up_codes",), "wrap-up code")
    errors += _duplicates(doc, info.snippets, "key", ("snippets",), "snippet key")
    errors += _duplicates(doc, info.escalation_targets, "code", ("escalation_targets",), "escalation target")
    return errors


def _check_crm(doc: YamlDoc, crm: CrmFile) -> list[str]:
    errors = _duplicates(doc, crm.customers, "ref", ("customers",), "customer ref")
    seen: dict[str, str] = {}
    for i, c in enumerate(crm.customers):
        for j, o in enumerate(c.orders):
            if o.order_no in seen:
                loc = ("customers", i, "orders", j, "order_no")
                errors.append(doc.error(loc, f"duplicate order number {o.order_no!r} (also on {seen[o.order_no]})"))
            seen.setdefault(o.order_no, c.ref)
    return errors


def _check_kb(doc: YamlDoc, kb: KbFile) -> list[str]:
    errors = _duplicates(doc, kb.categories, "code", ("categories",), "category code")
    errors += _duplicates(doc, kb.articles, "slug", ("articles",), "article slug")
    codes = {c.code for c in kb.categories}
    for i, c in enumerate(kb.categories):
        if c.parent and c.parent not in codes:
            errors.append(doc.error(("categories", i, "parent"), f"category {c.parent!r} is not in categories"))
    return errors


def _check_scenarios(
    scenarios: list[tuple[YamlDoc, Scenario]], info: PackInfo | None, crm: CrmFile | None, kb: KbFile | None
) -> list[str]:
    errors: list[str] = []
    first_file: dict[str, str] = {}
    queues = {q.id: q for q in info.queues} if info else None
    wrap_codes = {w.code for w in info.wrap_up_codes} if info else None
    targets = {t.code for t in info.escalation_targets} if info else set()
    refs = {c.ref for c in crm.customers} if crm else None
    slugs = {a.slug for a in kb.articles} if kb else None
    categories = {c.code for c in kb.categories} if kb else None
    for doc, sc in scenarios:
        err = doc.error
        if sc.id in first_file:
            errors.append(err(("id",), f"duplicate scenario id {sc.id!r} (also in {first_file[sc.id]})"))
        first_file.setdefault(sc.id, doc.name)
        if queues is not None:
            if sc.queue not in queues:
                errors.append(err(("queue",), f"queue {sc.queue!r} is not in pack.yaml queues"))
            elif queues[sc.queue].channel != sc.channel:
                msg = f"queue {sc.queue!r} is a {queues[sc.queue].channel} queue, the scenario is {sc.channel}"
                errors.append(err(("queue",), msg))
        if refs is not None and sc.customer.crm_ref and sc.customer.crm_ref not in refs:
            errors.append(err(("customer", "crm_ref"), f"customer {sc.customer.crm_ref!r} is not in crm.yaml"))
        for name, fact in sc.customer.facts.items():
            for i, move in enumerate(fact.reveal_on):
                if move not in KNOWN_STEPS:
                    errors.append(err(("customer", "facts", name, "reveal_on", i), f"unknown move {move!r}"))
        if slugs is not None and sc.answer and sc.answer.kb_slug and sc.answer.kb_slug not in slugs:
            errors.append(err(("answer", "kb_slug"), f"article {sc.answer.kb_slug!r} is not in kb.yaml"))
        errors += _check_expected(doc, sc, slugs, categories, wrap_codes, targets)
        errors += _check_id_card(doc, sc, crm)
    return errors


def _check_id_card(doc, sc: Scenario, crm: CrmFile | None) -> list[str]:
    """A video ID check's expected decision must agree with the CRM: approved exactly when the card's name
    and ID number are the record's (so a content author cannot make a mismatch "correct" to approve)."""
    card = sc.video.id_card if sc.video else None
    if card is None or crm is None or not sc.expected.id_decision:
        return []
    rec = next((c for c in crm.customers if c.ref == sc.customer.crm_ref), None)
    if rec is None:
        return [doc.error(("customer", "crm_ref"), "an ID check needs the CRM customer the caller claims to be")]
    matches = card.name == rec.name and card.id_number.upper() == (rec.id_number or "").upper()
    if matches != (sc.expected.id_decision == "approved"):
        how = "matches" if matches else "does not match"
        msg = f"the card {how} CRM {rec.ref} ({rec.name}, {rec.id_number}): not {sc.expected.id_decision!r}"
        return [doc.error(("expected", "id_decision"), msg)]
    return []


def _check_expected(doc, sc: Scenario, slugs, categories, wrap_codes, targets) -> list[str]:
    errors: list[str] = []
    exp = sc.expected
    for i, slug in enumerate(exp.kb_articles):
        if slugs is not None and slug not in slugs:
            errors.append(doc.error(("expected", "kb_articles", i), f"article {slug!r} is not in kb.yaml"))
    allowed = {"priority": TICKET_PRIORITIES, "risk_level": RISK_LEVELS, "status": TICKET_STATUSES}
    for key, value in (exp.ticket or {}).items():
        loc = ("expected", "ticket", key)
        if key not in TICKET_FIELDS:
            errors.append(doc.error(loc, f"unknown ticket field {key!r}; known: {list(TICKET_FIELDS)}"))
        elif key == "category" and categories is not None and value not in categories:
            errors.append(doc.error(loc, f"category {value!r} is not in kb.yaml categories"))
        elif key in allowed and value not in allowed[key]:
            errors.append(doc.error(loc, f"{value!r} is not one of {list(allowed[key])}"))
    if exp.wrap_up_code and wrap_codes is not None and exp.wrap_up_code not in wrap_codes:
        msg = f"wrap-up code {exp.wrap_up_code!r} is not in pack.yaml wrap_up_codes"
        errors.append(doc.error(("expected", "wrap_up_code"), msg))
    if exp.escalation_target and targets and exp.escalation_target not in targets:
        msg = f"escalation target {exp.escalation_target!r} is not in pack.yaml escalation_targets"
        errors.append(doc.error(("expected", "escalation_target"), msg))
    for i, step in enumerate(exp.steps):
        if step not in KNOWN_STEPS:
            errors.append(doc.error(("expected", "steps", i), f"unknown step {step!r}; known: {sorted(KNOWN_STEPS)}"))
    for step in exp.required_phrases:
        if step not in KNOWN_STEPS:
            errors.append(doc.error(("expected", "required_phrases", step), f"unknown step {step!r}"))
    return errors
