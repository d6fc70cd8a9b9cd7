"""The knowledge-point catalogue (theory/knowledge_points.yaml): what a bank question's ``knowledge:`` code may
name, with the point's area, levels and names. Read once per process; the file ships with the app."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

CATALOGUE = Path(__file__).resolve().parent / "knowledge_points.yaml"


@dataclass(frozen=True)
class KnowledgePoint:
    """One knowledge point of the standard: section 2 (``§2.2.5.3``) or a section-3 line (``L4/2.3#1``)."""

    code: str
    area: str
    levels: tuple[str, ...]
    zh: str
    en: str

    def name(self, lang: str) -> str:
        return self.zh if lang == "zh_CN" else self.en


@cache
def catalogue() -> dict[str, KnowledgePoint]:
    """{code: KnowledgePoint} in catalogue order."""
    doc = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    return {
        row["code"]: KnowledgePoint(
            code=row["code"], area=row["area"], levels=tuple(row["levels"]), zh=row["zh"], en=row["en"]
        )
        for row in doc["points"]
    }


def points_for(area: str | None = None, level: str | None = None) -> list[KnowledgePoint]:
    """The points of an area (all areas when None) examined at ``level`` (all levels when None)."""
    return [
        p for p in catalogue().values() if (area is None or p.area == area) and (level is None or level in p.levels)
    ]
