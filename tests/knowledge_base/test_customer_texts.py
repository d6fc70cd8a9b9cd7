"""Every article of both packs has a customer-facing text for the desk's "Send to customer", written for the
customer: never the internal body, never the agents' own instructions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"
# Words that belong to the agents' side of an article: instructions, levels and authority, internal teams.
INTERNAL = {
    "en": re.compile(r"\bagents?:|\bagents? (must|should|may)\b|\bL[345]\b|\bsupervisor|\bticket\b|\bCRM\b"),
    "zh_CN": re.compile(r"坐席|L[345]|主管|工单|CRM"),
}


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_article_has_a_customer_text_without_internal_notes(lang):
    """47 articles per pack, each with its own customer text: not a copy of the body, none of the internal words."""
    articles = yaml.safe_load((PACKS / lang / "kb.yaml").read_text(encoding="utf-8"))["articles"]
    assert len(articles) >= 47
    missing = [a["slug"] for a in articles if not (a.get("customer") or "").strip()]
    assert missing == []
    for a in articles:
        text = a["customer"]
        assert text.strip() not in a["body"], a["slug"]
        assert not INTERNAL[lang].search(text), (a["slug"], INTERNAL[lang].search(text).group(0))
