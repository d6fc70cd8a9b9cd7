"""Cached read access to the loaded content (scenarios and pack info) for the simulator, desk and grading.

The cache lives on the app (``app.extensions``), so apps built in one process (tests) never share it. A load
bumps a generation counter in Redis; every process compares it on access, so ``flask content load`` run in a
separate process is seen by a running web server without a restart.
"""

from __future__ import annotations

import threading

from flask import current_app
from sqlalchemy import select

from extensions import db, redis_store

from .models import PackRecord, RubricRecord, ScenarioRecord
from .rubric import Rubric
from .schema import PackInfo, Scenario

_EXT = "kefu_content_cache"
_lock = threading.Lock()


def _generation() -> str | None:
    return redis_store.client.get(redis_store.key("content", "generation"))


def content_generation() -> str | None:
    """The loaded content's generation (changes on every load): caches built from the content key on it."""
    return _cache()["generation"]


def invalidate(bump: bool = False) -> None:
    """Drop this app's cache; with ``bump``, also tell every other process that the content changed."""
    if bump:
        redis_store.client.incr(redis_store.key("content", "generation"))
    current_app.extensions.pop(_EXT, None)


def _cache() -> dict:
    gen = _generation()
    cache = current_app.extensions.get(_EXT)
    if cache is not None and cache["generation"] == gen:
        return cache
    with _lock:
        scenarios = {
            r.id: Scenario.model_validate(r.data)
            for r in db.session.scalars(select(ScenarioRecord).order_by(ScenarioRecord.id))
        }
        packs = {r.lang: PackInfo.model_validate(r.data) for r in db.session.scalars(select(PackRecord))}
        rubrics = {
            r.id: Rubric.model_validate(r.data)
            for r in db.session.scalars(select(RubricRecord).order_by(RubricRecord.id))
        }
        cache = {"generation": gen, "scenarios": scenarios, "packs": packs, "langs": _langs(), "rubrics": rubrics}
        current_app.extensions[_EXT] = cache
    return cache


def _langs() -> dict[str, str]:
    return dict(db.session.execute(select(ScenarioRecord.id, ScenarioRecord.lang)).tuples().all())


def get_scenario(scenario_id: str) -> Scenario | None:
    """The loaded scenario with this id, or None."""
    return _cache()["scenarios"].get(scenario_id)


def scenario_lang(scenario_id: str) -> str | None:
    """The language of the pack a scenario came from."""
    return _cache()["langs"].get(scenario_id)


def list_scenarios(lang: str | None = None, channel: str | None = None) -> list[Scenario]:
    """Loaded scenarios, sorted by id, optionally only one language and/or one channel."""
    cache = _cache()
    return [
        sc
        for sid, sc in cache["scenarios"].items()
        if (lang is None or cache["langs"].get(sid) == lang) and (channel is None or sc.channel == channel)
    ]


def get_pack(lang: str) -> PackInfo | None:
    """The loaded pack info (move lexicon, wrap-up codes, snippets, queues, limits) for a language, or None."""
    return _cache()["packs"].get(lang)


def wrap_up_code_list(lang: str) -> list[str] | None:
    """The wrap-up codes of the loaded pack for ``lang``; None when no pack is loaded for it."""
    pack = get_pack(lang)
    return None if pack is None else [c.code for c in pack.wrap_up_codes]


def get_rubric(rubric_id: str):
    """The loaded rubric (scenarios.rubric.Rubric) with this id, or None."""
    return _cache()["rubrics"].get(rubric_id)


def list_rubrics(lang: str | None = None, channel: str | None = None) -> list:
    """Loaded rubrics, sorted by id, optionally only one language and/or one channel."""
    return [
        r
        for r in _cache()["rubrics"].values()
        if (lang is None or r.lang == lang) and (channel is None or r.channel == channel)
    ]
