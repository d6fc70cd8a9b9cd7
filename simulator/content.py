"""Where the simulator finds a scenario, its language and its pack.

``RegistryContent`` reads the loaded content packs through ``scenarios.registry`` (the default).
``StaticContent`` holds Scenario/PackInfo objects built in Python: for tests and for running a scenario that is
not loaded in the database.
"""

from __future__ import annotations

from scenarios import registry
from scenarios.schema import PackInfo, Scenario


class ContentError(LookupError):
    """An unknown scenario, or a scenario whose language has no pack loaded."""


class RegistryContent:
    """Scenarios and packs from the loaded content (``scenarios.registry``); needs an app context."""

    def find(self, scenario_id: str) -> tuple[Scenario, PackInfo, str]:
        """(scenario, its pack, its language), or ContentError."""
        scenario = registry.get_scenario(scenario_id)
        if scenario is None:
            raise ContentError(f"no scenario {scenario_id!r} is loaded")
        lang = registry.scenario_lang(scenario_id)
        pack = registry.get_pack(lang) if lang else None
        if pack is None:
            raise ContentError(f"scenario {scenario_id!r}: no pack info loaded for language {lang!r}")
        return scenario, pack, lang

    def exists(self, scenario_id: str) -> bool:
        return registry.get_scenario(scenario_id) is not None


class StaticContent:
    """Scenarios and packs given directly: ``StaticContent([pack_zh, pack_en], [scenario, ...])``; a scenario
    belongs to the pack of ``lang_of[scenario.id]``, or to the only pack when there is one."""

    def __init__(self, packs: list[PackInfo], scenarios: list[Scenario], lang_of: dict[str, str] | None = None):
        self.packs = {p.lang: p for p in packs}
        self.scenarios = {s.id: s for s in scenarios}
        self.lang_of = dict(lang_of or {})

    def find(self, scenario_id: str) -> tuple[Scenario, PackInfo, str]:
        scenario = self.scenarios.get(scenario_id)
        if scenario is None:
            raise ContentError(f"no scenario {scenario_id!r}")
        lang = self.lang_of.get(scenario_id) or (next(iter(self.packs)) if len(self.packs) == 1 else None)
        if lang not in self.packs:
            raise ContentError(f"scenario {scenario_id!r}: no pack for language {lang!r}")
        return scenario, self.packs[lang], lang

    def exists(self, scenario_id: str) -> bool:
        return scenario_id in self.scenarios
