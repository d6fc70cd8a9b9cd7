"""Group-chat scenarios: the schema of ``scenarios/packs/<lang>/group/*.yaml`` and reading them.

A group scenario describes a room's audience, not one customer: the **needs** the customers bring (each with
paraphrases - the same need in different words - the words customers use when asking, the words that make an
agent's post answer it, and what a customer says when answered), plus off-topic and rude lines and the names
customers go by. An ``individual`` need cannot be answered in the group (it needs identity verification): the
agent moves that customer to a one-to-one chat, where ``private_scenario`` (a chat scenario of the same pack)
plays the customer.

Group scenarios are read from the content folder (``CONTENT_DIR``) on first use and cached per language; the
content loader validates them with the rest of a pack (``check_group_folder``). They are pack content, so they
live here with the rest of the pack schema; the group channel and the exams read them from here. A room records
the needs it was opened with in its ``group.opened`` event, so grading reads only the recording.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from .schema import SkillCodes
from .schema import Strict as _Strict
from .yamlsrc import read_model


class Need(_Strict):
    """One thing customers want to know. ``ask_keywords`` recognise it in a person's question (any one group of
    synonyms); ``answer_keywords`` (groups of synonyms, ``min_keywords`` of them in one agent post) recognise an
    answer, matched on jieba tokens like the simulator's moves."""

    id: str
    title: str
    individual: bool = False
    private_scenario: str | None = None  # the chat scenario a moved customer plays (individual needs)
    kb_slug: str | None = None
    weight: float = Field(1.0, gt=0)  # how many customers bring this need, relatively
    paraphrases: list[str] = Field(min_length=1)
    ask_keywords: list[str] = Field(min_length=1)
    answer_keywords: list[list[str]] = []
    min_keywords: int = Field(1, ge=1)
    thanks: list[str] = Field(min_length=1)
    followups: list[str] = []  # asked after an answer, now and then
    in_group_reply: list[str] = []  # individual needs: what the customer says when told to go private

    @model_validator(mode="after")
    def answerable(self) -> Need:
        if self.individual and not self.private_scenario:
            raise ValueError("private_scenario: an individual need names the chat scenario played in private")
        if not self.individual and not self.answer_keywords:
            raise ValueError("answer_keywords: a common need says which words answer it")
        if self.answer_keywords and self.min_keywords > len(self.answer_keywords):
            raise ValueError("min_keywords: more than there are answer_keywords groups")
        return self

    def snapshot(self) -> dict:
        """What a room records about this need (grading and review read it from the recording)."""
        return {
            "id": self.id,
            "title": self.title,
            "individual": self.individual,
            "private_scenario": self.private_scenario,
            "kb_slug": self.kb_slug,
            "ask_keywords": list(self.ask_keywords),
            "answer_keywords": [list(g) for g in self.answer_keywords],
            "min_keywords": self.min_keywords,
        }


class Mix(_Strict):
    """Shares of the audience (the rest ask common or individual needs, by the needs' weights)."""

    off_topic: float = Field(0.1, ge=0, le=1)
    rude: float = Field(0.05, ge=0, le=1)
    individual: float = Field(0.15, ge=0, le=1)

    @model_validator(mode="after")
    def not_over_one(self) -> Mix:
        if self.off_topic + self.rude + self.individual > 0.9:
            raise ValueError("off_topic + rude + individual must leave at least 10% asking common needs")
        return self


class GroupScenario(_Strict):
    id: str
    title: str
    level: Literal["L5", "L4", "L3"] = "L3"
    skills: SkillCodes = Field(min_length=1)
    room_name: str
    welcome: str | None = None  # a suggested first announcement, shown to the agent
    needs: list[Need] = Field(min_length=2)
    off_topic: list[str] = Field(min_length=1)
    rude: list[str] = Field(min_length=1)
    nudges: list[str] = Field(min_length=1)  # an unanswered customer asks again
    leave_lines: list[str] = Field(min_length=1)  # an impatient customer leaves
    calm_lines: list[str] = []  # a rude customer answered politely
    names: list[str] = Field(min_length=5)
    mix: Mix = Mix()
    patience: float = Field(240, gt=10)  # seconds a customer waits for an answer before leaving
    pace: float = Field(90, gt=0)  # customers arrive over about this many seconds

    @model_validator(mode="after")
    def unique_needs(self) -> GroupScenario:
        seen = set()
        for i, n in enumerate(self.needs):
            if n.id in seen:
                raise ValueError(f"needs[{i}].id: duplicate need id {n.id!r}")
            seen.add(n.id)
        if not any(not n.individual for n in self.needs):
            raise ValueError("needs: at least one need must be common (answerable in the group)")
        return self

    def need(self, need_id: str) -> Need | None:
        return next((n for n in self.needs if n.id == need_id), None)


class GroupContentError(ValueError):
    """A group scenario is missing or invalid; the message names it."""


def read_group_folder(folder: Path) -> tuple[list[GroupScenario], list[str]]:
    """Every ``*.yaml`` in ``folder`` as a GroupScenario, and one "<file> line <n>: <field>: <msg>" per problem."""
    scenarios, errors = [], []
    if not folder.is_dir():
        return scenarios, errors
    for f in sorted(folder.glob("*.yaml")):
        _doc, scenario = read_model(f, str(f), GroupScenario, errors)
        if scenario is not None:
            scenarios.append(scenario)
    return scenarios, errors


def check_group_folder(pack_path: Path, lang: str, chat_scenario_ids: set[str]) -> list[str]:
    """The content loader's check of a pack's ``group/`` folder: schema, language prefix of ids, unique ids, and
    private scenarios that exist among the pack's chat scenarios."""
    scenarios, errors = read_group_folder(Path(pack_path) / "group")
    seen: set[str] = set()
    for sc in scenarios:
        where = f"{Path(pack_path) / 'group'}: {sc.id}"
        if sc.id in seen:
            errors.append(f"{where}: duplicate group scenario id")
        seen.add(sc.id)
        for n in sc.needs:
            if n.private_scenario and n.private_scenario not in chat_scenario_ids:
                errors.append(f"{where}: need {n.id}: private_scenario {n.private_scenario!r} is not a chat scenario")
    return errors


_cache: dict[tuple[str, str], dict[str, GroupScenario]] = {}
_lock = threading.Lock()


def group_scenarios(lang: str, content_dir: str | None = None) -> dict[str, GroupScenario]:
    """The group scenarios of one language (id -> scenario), read once per content folder."""
    if content_dir is None:
        from flask import current_app

        content_dir = current_app.config["CONTENT_DIR"]
    key = (str(content_dir), lang)
    with _lock:
        if key not in _cache:
            found, errors = read_group_folder(Path(content_dir) / lang / "group")
            if errors:
                raise GroupContentError("; ".join(errors[:5]))
            _cache[key] = {sc.id: sc for sc in found}
        return _cache[key]


def find_group_scenario(scenario_id: str, content_dir: str | None = None) -> tuple[GroupScenario, str]:
    """(scenario, lang) for an id; GroupContentError when no language has it."""
    for lang in ("zh_CN", "en"):
        sc = group_scenarios(lang, content_dir).get(str(scenario_id))
        if sc is not None:
            return sc, lang
    raise GroupContentError(f"no group scenario {scenario_id!r}")
