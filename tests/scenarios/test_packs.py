"""The demo packs (zh_CN, en) validate, meet the content minimums and load into the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from extensions import db
from knowledge_base.models import Article, ArticleVersion, Category
from scenarios import registry
from scenarios.loader import load_pack, load_pack_into_db
from scenarios.models import PackRecord, ScenarioRecord
from scenarios.schema import AGENT_MOVES
from tickets.models import Customer, Order

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"
LANGS = ("zh_CN", "en")


@pytest.fixture(scope="module")
def packs():
    return {lang: load_pack(PACKS / lang) for lang in LANGS}


@pytest.mark.parametrize("lang", LANGS)
def test_pack_meets_minimums(packs, lang):
    """Each demo pack has the moves, codes, snippets, queues, customers, articles and scenarios asked for."""
    p = packs[lang]
    assert set(p.info.moves) == set(AGENT_MOVES)
    assert all(lex.synonyms and lex.patterns for lex in p.info.moves.values())
    assert len(p.info.wrap_up_codes) >= 8 and len(p.info.snippets) >= 15
    queues = {q.id for q in p.info.queues}
    expected_queues = {
        "chat.general",
        "chat.aftersales",
        "chat.complaints",
        "chat.vip",
        "voice.general",
        "video.general",
        "email.service",
        "email.complaints",
    }
    assert expected_queues <= queues
    assert p.info.compensation_limits == {"L5": 0, "L4": 50, "L3": 200}
    assert len(p.crm.customers) >= 55
    assert all(1 <= len(c.orders) <= 4 for c in p.crm.customers)
    assert len(p.kb.categories) >= 10 and len(p.kb.articles) >= 44
    chat = [s for s in p.scenarios if s.channel == "chat"]
    assert len(chat) >= 14
    assert {s.level for s in chat} == {"L5", "L4", "L3"}
    prefix = "zh-" if lang == "zh_CN" else "en-"
    assert all(s.id.startswith(prefix) for s in p.scenarios)


@pytest.mark.parametrize("lang", LANGS)
def test_special_scenarios_exist(packs, lang):
    """The crisis, the compensation-limit and the verify-before-disclose scenarios are there and well-formed."""
    scen = {s.family: s for s in packs[lang].scenarios}
    crisis = scen["crisis-product-fire"]
    assert crisis.level == "L3" and crisis.expected.ticket["risk_level"] == "crisis"
    assert crisis.expected.escalation_target == "crisis_team"
    comp = scen["compensation-limit"]
    assert comp.level == "L4" and comp.expected.compensation_limit == 50
    verify = scen["verify-account"]
    assert verify.expected.verify_before_disclose
    assert {"phone", "id_last4"} <= set(verify.customer.facts)
    assert any(r.on == "verify_identity" and r.goal for r in verify.rules)
    answer_rule = next(r for r in verify.rules if r.on == "answer")
    assert "verified" in answer_rule.after
    types = {s.customer.type for s in packs[lang].scenarios}
    assert {"rational", "emotional", "hesitant", "dominant"} <= types


def test_packs_mirror_each_other(packs):
    """Both languages share article slugs, category codes and scenario families."""
    zh, en = packs["zh_CN"], packs["en"]
    assert [a.slug for a in zh.kb.articles] == [a.slug for a in en.kb.articles]
    assert [c.code for c in zh.kb.categories] == [c.code for c in en.kb.categories]
    assert sorted(s.family for s in zh.scenarios) == sorted(s.family for s in en.scenarios)
    assert sorted(s.id[3:] for s in zh.scenarios) == sorted(s.id[3:] for s in en.scenarios)


@pytest.mark.parametrize("lang", LANGS)
def test_every_goal_is_reachable(packs, lang):
    """Playing each scenario's rules in file order (repeating until stable) completes every goal."""
    for sc in packs[lang].scenarios:
        done: set[str] = set()
        for _ in range(len(sc.rules)):
            for r in sc.rules:
                if r.goal and set(r.after) <= done:
                    done.add(r.goal)
        assert set(sc.goals) <= done, sc.id


@pytest.mark.parametrize("lang", LANGS)
def test_answer_keywords_appear_in_article(packs, lang):
    """Each scenario's answer keywords include at least one synonym found in its KB article (or the CRM)."""
    p = packs[lang]
    bodies = {a.slug: a.title + a.body for a in p.kb.articles}
    crm = {c.ref: str(c.model_dump()) for c in p.crm.customers}
    for sc in p.scenarios:
        if sc.channel == "voice":
            continue  # a caller hears no words: on a call the answer is the article opened, not keywords
        text = bodies[sc.answer.kb_slug] + crm.get(sc.customer.crm_ref, "")
        hits = [g for g in sc.answer.keywords if any(w.lower() in text.lower() for w in g)]
        assert len(hits) >= sc.answer.min_keywords, sc.id


def test_load_both_packs_and_registry(app):
    """Loading fills CRM, KB, scenarios and pack rows, and the registry serves them."""
    with app.app_context():
        reports = [load_pack_into_db(PACKS / lang) for lang in LANGS]
        assert all(r.changed > 0 for r in reports)
        assert db.session.scalar(select(func.count(Customer.id))) >= 110
        assert db.session.scalar(select(func.count(Order.id))) >= 110
        assert db.session.scalar(select(func.count(Article.id))) >= 88
        assert db.session.scalar(select(func.count(Category.id))) >= 10
        assert db.session.scalar(select(func.count()).select_from(ScenarioRecord)) >= 28
        assert db.session.get(PackRecord, "en") is not None

        sc = registry.get_scenario("zh-crisis-power-bank-fire")
        assert sc is not None and sc.level == "L3"
        assert registry.get_scenario("nope") is None
        assert all(s.id.startswith("en-") for s in registry.list_scenarios(lang="en"))
        assert len(registry.list_scenarios(lang="zh_CN", channel="chat")) >= 14
        assert len(registry.list_scenarios(lang="zh_CN", channel="voice")) >= 6
        assert registry.get_pack("zh_CN").compensation_limits["L4"] == 50

        c = db.session.scalar(select(Customer).where(Customer.ref == "C0007", Customer.lang == "zh_CN"))
        assert c.id_number.endswith("1233") and c.accounts["balance"] == 326.5


def test_load_is_idempotent(app):
    """A second load of the same pack creates and updates nothing."""
    with app.app_context():
        load_pack_into_db(PACKS / "en")
        versions = db.session.scalar(select(func.count(ArticleVersion.id)))
        again = load_pack_into_db(PACKS / "en")
        assert again.changed == 0
        assert again.counts["customers"]["unchanged"] >= 55
        assert db.session.scalar(select(func.count(ArticleVersion.id))) == versions
        assert db.session.scalar(select(func.count(Customer.id))) == len(load_pack(PACKS / "en").crm.customers)
