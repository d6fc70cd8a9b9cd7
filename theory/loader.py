"""Read, validate and load the theory question banks.

Layout: ``<root>/<lang>/*.yaml`` (lang ``zh_CN`` or ``en``), one file per knowledge area. ``load_banks(root)``
validates every file (ids unique per language; each language's bank is written for its language, so the two
need not hold the same ids) and raises one ``BankError`` listing every problem as
"<file> line <n>: <field>: <message>". The quality rules (cues, coverage, simulation) live in theory/quality.
``load_all_banks(root)`` then upserts the questions into the database; running it twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from extensions import db
from scenarios.yamlsrc import read_yaml, split_path_prefix

from .schema import BankFile, Question

BANK_LANGS = ("zh_CN", "en")
DEFAULT_ROOT = Path(__file__).resolve().parent / "banks"
# Each area's questions carry its prefix in their ids, so an id says where a question lives.
ID_PREFIX = {
    "professional_ethics": "pe",
    "basic_knowledge": "bk",
    "service_response": "sr",
    "business_handling": "bh",
    "information_records": "ir",
    "data_analysis": "da",
    "operations": "op",
}


def _display(path: Path) -> str:
    """The file name used in messages: relative to the working directory when inside it."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


class BankError(Exception):
    """A bank failed validation. ``errors`` holds one "<file> line <n>: <field>: <msg>" per problem."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass
class BankQuestion:
    """A validated question with its resolved area and where it came from."""

    q: Question
    area: str
    lang: str
    source: str  # "<file> line <n>" (the question's own ``source:``, the standard's clause, is ``q.source``)

    def as_row(self) -> dict:
        return {
            "qid": self.q.id,
            "lang": self.lang,
            "area": self.area,
            "levels": list(self.q.levels),
            "kind": self.q.kind,
            "pool": self.q.pool,
            "knowledge": self.q.knowledge,
            "clause": (self.q.source or "").strip(),
            "stem": self.q.stem.strip(),
            "options": {k: v.strip() for k, v in self.q.options.items()},
            "answer": self.q.answer,
            "explanation": self.q.explanation.strip(),
        }


@dataclass
class LoadReport:
    """What ``load_all_banks`` did, per language: questions created, updated, unchanged and retired."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, lang: str, outcome: str) -> None:
        row = self.counts.setdefault(lang, {"created": 0, "updated": 0, "unchanged": 0, "retired": 0})
        row[outcome] += 1

    @property
    def changed(self) -> int:
        return sum(c["created"] + c["updated"] + c["retired"] for c in self.counts.values())

    def summary(self) -> str:
        return "; ".join(
            f"{lang}: {c['created'] + c['updated'] + c['unchanged']} questions ({c['created']} new, "
            f"{c['updated']} updated, {c['retired']} retired)"
            for lang, c in sorted(self.counts.items())
        )


def load_banks(root: str | Path | None = None) -> dict[str, list[BankQuestion]]:
    """Parse and validate every bank under ``root`` (default theory/banks); raise BankError naming every problem."""
    root = Path(root) if root is not None else DEFAULT_ROOT
    errors: list[str] = []
    banks: dict[str, list[BankQuestion]] = {}
    lang_dirs = [root / lang for lang in BANK_LANGS if (root / lang).is_dir()]
    if not lang_dirs:
        raise BankError([f"{_display(root)}: no bank folders ({' or '.join(BANK_LANGS)}) here"])
    for lang_dir in lang_dirs:
        files = sorted([*lang_dir.glob("*.yaml"), *lang_dir.glob("*.yml")])
        if not files:
            errors.append(f"{_display(lang_dir)}: no .yaml files")
        banks[lang_dir.name] = []
        first_at: dict[str, str] = {}
        for f in files:
            for bq in _read_file(f, lang_dir.name, errors):
                if bq.q.id in first_at:
                    errors.append(f"{bq.source}: id: duplicate question id {bq.q.id!r} (first at {first_at[bq.q.id]})")
                    continue
                first_at[bq.q.id] = bq.source
                banks[lang_dir.name].append(bq)
    if errors:
        raise BankError(errors)
    return banks


def _read_file(path: Path, folder_lang: str, errors: list[str]) -> list[BankQuestion]:
    name = _display(path)
    doc, errs = read_yaml(path, name)
    errors += errs
    if doc is None or not isinstance(doc.data, dict):
        return []
    try:
        bank = BankFile.model_validate(doc.data)
    except ValidationError as e:
        for err in e.errors(include_url=False):
            msg = err["msg"].removeprefix("Value error, ")
            inner, msg = split_path_prefix(msg)
            loc = _trim_union_loc(err["loc"])
            errors.append(doc.error((*loc, *inner), msg))
        return []
    if bank.lang != folder_lang:
        errors.append(doc.error(("lang",), f"{bank.lang!r} does not match the folder name {folder_lang!r}"))
        return []
    out = []
    for i, q in enumerate(bank.questions):
        area = q.area or bank.area
        if q.area is not None and q.area != bank.area:
            errors.append(doc.error(("questions", i, "area"), f"{q.area!r} differs from the file's area {bank.area!r}"))
            continue
        prefix = ID_PREFIX[area]
        if not q.id.startswith(prefix + "-"):
            errors.append(doc.error(("questions", i, "id"), f"{q.id!r}: ids in area {area} start with '{prefix}-'"))
            continue
        out.append(BankQuestion(q=q, area=area, lang=bank.lang, source=doc.where(("questions", i, "id"))))
    return out


def _trim_union_loc(loc: tuple) -> tuple:
    """Pydantic adds the union member to the loc ('answer', 'str'); the YAML has no such node."""
    if len(loc) >= 2 and loc[-2] == "answer" and loc[-1] in ("str", "list[str]", "bool"):
        return loc[:-1]
    return tuple(loc)


def _hash(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def load_all_banks(root: str | Path | None = None) -> LoadReport:
    """Validate the banks under ``root`` (default theory/banks), then upsert them into the database.

    Idempotent: an unchanged question is left alone; a question gone from the bank is retired (active=False),
    not deleted, so exams that drew it still show it. Raises BankError (nothing written) on any problem."""
    from .models import TheoryQuestion

    banks = load_banks(root)
    report = LoadReport()
    for lang, questions in banks.items():
        existing = {q.qid: q for q in db.session.scalars(db.select(TheoryQuestion).where(TheoryQuestion.lang == lang))}
        seen = set()
        for bq in questions:
            row = bq.as_row()
            digest = _hash(row)
            seen.add(bq.q.id)
            cur = existing.get(bq.q.id)
            if cur is None:
                db.session.add(TheoryQuestion(**row, source=bq.source[:200], content_hash=digest, active=True))
                report.add(lang, "created")
            elif cur.content_hash != digest or not cur.active:
                for k, v in row.items():
                    setattr(cur, k, v)
                cur.content_hash, cur.source, cur.active = digest, bq.source[:200], True
                report.add(lang, "updated")
            else:
                report.add(lang, "unchanged")
        for qid, cur in existing.items():
            if qid not in seen and cur.active:
                cur.active = False
                report.add(lang, "retired")
    db.session.commit()
    return report


def demo_banks():
    """``flask demo seed`` (accounts.demo, registered by init_app): load the default banks, report one line."""
    yield f"theory banks: {load_all_banks()}"
