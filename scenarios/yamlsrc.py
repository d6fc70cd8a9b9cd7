"""YAML documents that remember where each value came from, so errors can name the file, line and field.

Packs are edited by hand, so the loader reads YAML the way a trainer expects: ``on:`` / ``yes`` / ``no`` stay
strings (YAML 1.1 would turn the rule key ``on`` into ``True``) and dates such as ``2024-05-01`` stay strings
(the schema stores them as ISO text). Only ``true`` / ``false`` are booleans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

M = TypeVar("M", bound=BaseModel)
_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


# libyaml's parser (PyYAML's C extension, in its wheels) reads the same nodes, marks and values ~9x faster than the
# pure-Python one: loading the en pack into the database took ~3.5 s, nearly all of it YAML, and the tests load packs
# dozens of times. The resolvers and constructors stay the Python ones, so what a file means does not change.
SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class PackYamlLoader(SafeBase):
    """SafeLoader with YAML 1.2-style booleans and no implicit timestamps."""


PackYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
PackYamlLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

# "rules[3].on: ..." — the path prefix the schema's model validators put in their messages.
_PATH_PREFIX = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): ")
_PATH_PART = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


def format_loc(loc: tuple) -> str:
    """('rules', 3, 'on') -> 'rules[3].on'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_loc(text: str) -> tuple:
    """'rules[3].on' -> ('rules', 3, 'on')."""
    return tuple(int(idx) if idx else name for name, idx in _PATH_PART.findall(text))


def split_path_prefix(msg: str) -> tuple[tuple, str]:
    """A validator message 'rules[3].on: unknown move' -> (('rules', 3, 'on'), 'unknown move')."""
    m = _PATH_PREFIX.match(msg)
    if not m:
        return (), msg
    return parse_loc(m.group(1)), msg[m.end() :]


@dataclass
class YamlDoc:
    """One parsed YAML file: its data, its node tree and the name used in messages."""

    path: Path
    name: str
    root: Node | None
    data: object

    def line(self, loc: tuple, msg: str = "") -> int:
        """The 1-based line of the value at ``loc`` (or of its nearest existing parent).

        When the value is a mapping and ``msg`` quotes one of its keys (e.g. "unknown move(s) ['fly']"), the
        line of that key is more useful than the line of the mapping, so it is used instead.
        """
        node, key_node = self.root, None
        for part in loc:
            nxt = _child(node, part)
            if nxt is None:
                break
            key_node, node = nxt
        if isinstance(node, MappingNode) and msg:
            for k, _v in node.value:
                if isinstance(k, ScalarNode) and (f"'{k.value}'" in msg or f'"{k.value}"' in msg):
                    return k.start_mark.line + 1
        if node is None:
            return 1
        mark = key_node.start_mark if key_node is not None else node.start_mark
        return mark.line + 1

    def where(self, loc: tuple, msg: str = "") -> str:
        return f"{self.name} line {self.line(loc, msg)}"

    def error(self, loc: tuple, msg: str) -> str:
        field = format_loc(loc)
        return f"{self.where(loc, msg)}: {field + ': ' if field else ''}{msg}"


def _child(node: Node | None, part) -> tuple[Node | None, Node] | None:
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == str(part):
                return k, v
    elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    return None


def read_yaml(path: Path, name: str) -> tuple[YamlDoc | None, list[str]]:
    """Parse one file. Returns (doc, errors); doc is None when the file cannot be parsed at all."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return None, [f"{name}: cannot read the file: {e}"]
    loader = PackYamlLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        problem = " ".join(p for p in (e.context, e.problem) if p)
        return None, [f"{name} line {line}: YAML syntax error: {problem}"]
    except yaml.YAMLError as e:
        return None, [f"{name}: YAML error: {e}"]
    finally:
        loader.dispose()
    doc = YamlDoc(path, name, root, data)
    errors = _duplicate_keys(doc, root, ())
    if not isinstance(data, dict):
        errors.append(f"{name} line 1: the file must hold a mapping (key: value pairs) at the top level")
    return doc, errors


def read_model(path: Path, name: str, model: type[M], errors: list[str]) -> tuple[YamlDoc | None, M | None]:
    """Parse one file and validate it with ``model``: (doc, the model's instance), the instance None when the file
    cannot be parsed, holds no mapping or is invalid. Every problem is added to ``errors`` as
    "<name> line <n>: <field>: <msg>"."""
    doc, errs = read_yaml(path, name)
    errors += errs
    if doc is None or not isinstance(doc.data, dict):
        return doc, None
    try:
        return doc, model.model_validate(doc.data)
    except ValidationError as e:
        errors += validation_errors(doc, e)
        return doc, None


def validation_errors(doc: YamlDoc, e: ValidationError) -> list[str]:
    """A schema's ValidationError as one "<file> line <n>: <field>: <msg>" per error, the field path of a model
    validator's "rules[3].on: ..." message added to the error's own."""
    out = []
    for err in e.errors(include_url=False):
        inner, msg = split_path_prefix(err["msg"].removeprefix("Value error, "))
        out.append(doc.error((*err["loc"], *inner), msg))
    return out


def _duplicate_keys(doc: YamlDoc, node: Node | None, loc: tuple) -> list[str]:
    """PyYAML keeps the last of two equal keys silently; a hand-edited pack should hear about it."""
    errors: list[str] = []
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            key = k.value if isinstance(k, ScalarNode) else None
            if key is not None and key in seen:
                errors.append(f"{doc.name} line {k.start_mark.line + 1}: {format_loc((*loc, key))}: duplicate key")
            if key is not None:
                seen.add(key)
            errors += _duplicate_keys(doc, v, (*loc, key))
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            errors += _duplicate_keys(doc, item, (*loc, i))
    return errors
