"""Readers built from the shipped packs and their trained models (no database: the reader is pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.loader import load_pack
from understanding.embedding import get_embedder
from understanding.reader import Reader
from understanding.store import load_model_file

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"


@pytest.fixture(scope="session")
def packs():
    return {lang: load_pack(PACKS / lang) for lang in ("zh_CN", "en")}


@pytest.fixture(scope="session")
def readers(packs):
    embedder = get_embedder("use")
    return {lang: Reader(p.info, load_model_file(p.path), embedder) for lang, p in packs.items()}


@pytest.fixture(scope="session")
def scenarios(packs):
    return {sc.id: sc for p in packs.values() for sc in p.scenarios}
