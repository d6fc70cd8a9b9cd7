"""The labelled examples the dialogue-act classifier learns from: data in the content packs.

A pack's ``understanding/*.yaml`` files each hold::

    lang: zh_CN
    examples:
      - text: 亲，您把下单时那串单号发我一下哈        # one agent message as typed
        acts: [ask_order]                          # every act it performs; [] for none
        before: 我买的东西怎么还没到啊                 # optional: the customer's previous message

A centre adds its own lines in a file of its own there and runs ``flask understanding train``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from scenarios.schema import ACTS
from scenarios.yamlsrc import SafeBase


class Example(BaseModel):
    """One labelled agent message."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)
    acts: list[str] = []
    before: str | None = None

    @field_validator("before", "text", mode="before")
    @classmethod
    def as_text(cls, v):
        # YAML reads "12345" or "yes" as a number or a boolean: they are still text someone typed.
        return v if v is None or isinstance(v, str) else str(v)

    @field_validator("acts")
    @classmethod
    def known_acts(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if a not in ACTS]
        if bad:
            raise ValueError(f"unknown act(s) {bad}; known: {list(ACTS)}")
        return sorted(set(v), key=ACTS.index)


class ExampleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lang: str
    examples: list[Example] = []


class ExamplesError(ValueError):
    """An examples file is malformed (the message names the file and the item)."""


def examples_dir(pack_dir: str | Path) -> Path:
    return Path(pack_dir) / "understanding"


# What the example files held when last read, by folder, language and the files' names, sizes and mtimes: a content
# load reads them twice (its check, then its write) and the tests load the same packs dozens of times; a file
# changed since is read again.
_read: dict[tuple, list[Example]] = {}


def load_examples(pack_dir: str | Path, lang: str) -> list[Example]:
    """Every example of a pack, in file-name order then file order; duplicates (same text) keep the first."""
    folder = examples_dir(pack_dir)
    paths = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    key = (str(folder.resolve()), lang, tuple((p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in paths))
    if key not in _read:
        if len(_read) >= 8:
            _read.clear()
        _read[key] = _parse_examples(paths, lang)
    return list(_read[key])


def training_examples(pack_dir: str | Path, lang: str, also_from: list[str] | tuple[str, ...] = ()) -> list[Example]:
    """What a pack's model is trained on: its own examples, then those of the packs of ``also_from`` (PackInfo
    ``acts_also_learned_from``; each found beside this pack, in a folder whose pack.yaml has that ``lang``), a text
    seen before kept once. The model records their digest, so a change to the other pack's examples makes this
    pack's model stale too."""
    out = load_examples(pack_dir, lang)
    seen = {e.text for e in out}
    for other in also_from:
        if other == lang:
            continue
        for ex in load_examples(_sibling_pack(pack_dir, other), other):
            if ex.text not in seen:
                seen.add(ex.text)
                out.append(ex)
    return out


def _sibling_pack(pack_dir: str | Path, lang: str) -> Path:
    parent = Path(pack_dir).resolve().parent
    for folder in sorted(p for p in parent.iterdir() if (p / "pack.yaml").is_file()):
        try:
            raw = yaml.load((folder / "pack.yaml").read_text(encoding="utf-8"), Loader=SafeBase) or {}  # noqa: S506
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(raw, dict) and raw.get("lang") == lang:
            return folder
    raise ExamplesError(f"{pack_dir}: its model also learns from {lang!r}, but no {lang} pack lies in {parent}")


def _parse_examples(paths: list[Path], lang: str) -> list[Example]:
    out: list[Example] = []
    seen: set[str] = set()
    for path in paths:
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeBase) or {}  # noqa: S506 (a safe loader)
            parsed = ExampleFile.model_validate(raw)
        except yaml.YAMLError as e:
            raise ExamplesError(f"{path}: not valid YAML: {e}") from e
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise ExamplesError(f"{path}: {where}: {err['msg']}") from e
        if parsed.lang != lang:
            raise ExamplesError(f"{path}: lang is {parsed.lang!r} but the pack is {lang!r}")
        for ex in parsed.examples:
            if ex.text not in seen:
                seen.add(ex.text)
                out.append(ex)
    return out


def examples_digest(examples: list[Example]) -> str:
    """A content hash of the examples (the model records it, so a stale model is detected)."""
    blob = json.dumps([[e.text, e.acts, e.before] for e in examples], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
