"""Malformed packs fail with messages naming file, line and field; article edits make new versions; the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from extensions import db
from knowledge_base.models import Article
from scenarios.loader import PackError, load_pack, load_pack_into_db

PACKS = Path(__file__).resolve().parents[2] / "scenarios" / "packs"
SCENARIO = """\
id: en-test-case
title: A test case
level: L5
channel: chat
queue: chat.general
skills: [L5/1.2.1]
customer:
  crm_ref: C0001
  name: Emily Carter
  type: rational
  patience: 120
opening:
  - Hi there
goals: [done]
answer:
  kb_slug: delivery-tracking
  keywords: [[Columbus]]
rules:
  - on: greeting
    say: [Hi]
  - on: answer
    goal: done
"""


@pytest.fixture
def pack(tmp_path):
    """A copy of the en demo pack to break."""
    dest = tmp_path / "en"
    shutil.copytree(PACKS / "en", dest)
    return dest


def _errors(path) -> list[str]:
    with pytest.raises(PackError) as exc:
        load_pack(path)
    return exc.value.errors


def _write(pack, text, name="broken.yaml"):
    (pack / "scenarios" / name).write_text(text, encoding="utf-8")


def test_valid_extra_scenario_loads(pack):
    """The base scenario used by the malformed cases is itself valid."""
    _write(pack, SCENARIO)
    assert any(s.id == "en-test-case" for s in load_pack(pack).scenarios)


def test_yaml_syntax_error_names_file_and_line(pack):
    """A broken flow list is reported as a YAML syntax error at its line."""
    _write(pack, SCENARIO.replace("skills: [L5/1.2.1]", "skills: [L5/1.2.1"))
    errs = _errors(pack)
    assert len(errs) == 1
    assert "scenarios/broken.yaml line 7: YAML syntax error" in errs[0]


def test_wrong_type_names_field_and_line(pack):
    """A negative patience points at customer.patience on its own line."""
    _write(pack, SCENARIO.replace("patience: 120", "patience: -5"))
    (err,) = _errors(pack)
    assert "scenarios/broken.yaml line 11: customer.patience: Input should be greater than 0" in err


def test_missing_field_names_field(pack):
    """A scenario without a title says the title is required."""
    _write(pack, SCENARIO.replace("title: A test case\n", ""))
    (err,) = _errors(pack)
    assert "scenarios/broken.yaml line 1: title: Field required" in err


def test_unknown_move_in_rule_points_at_the_rule(pack):
    """An unknown rule move is reported with its rules[i].on path and line."""
    _write(pack, SCENARIO.replace("  - on: greeting", "  - on: dance"))
    (err,) = _errors(pack)
    assert "scenarios/broken.yaml line 19: rules[0].on: unknown move 'dance'" in err


def test_unknown_move_in_lexicon_points_at_the_key(pack):
    """An unknown move in pack.yaml's lexicon is reported at that key's line."""
    text = (pack / "pack.yaml").read_text(encoding="utf-8")
    text = text.replace("moves:\n", "moves:\n  juggle:\n    synonyms: [juggle]\n", 1)
    (pack / "pack.yaml").write_text(text, encoding="utf-8")
    line = text.splitlines().index("  juggle:") + 1
    (err,) = _errors(pack)
    assert f"pack.yaml line {line}: moves: unknown move(s) ['juggle']" in err


def test_dangling_references_are_all_reported(pack):
    """A missing crm_ref, KB slug and queue are each reported, all in one PackError."""
    text = SCENARIO.replace("crm_ref: C0001", "crm_ref: C9999").replace("delivery-tracking", "no-such-article")
    _write(pack, text.replace("queue: chat.general", "queue: chat.nowhere"))
    errs = "\n".join(_errors(pack))
    assert "broken.yaml line 8: customer.crm_ref: customer 'C9999' is not in crm.yaml" in errs
    assert "broken.yaml line 16: answer.kb_slug: article 'no-such-article' is not in kb.yaml" in errs
    assert "broken.yaml line 5: queue: queue 'chat.nowhere' is not in pack.yaml queues" in errs


def test_duplicates_and_errors_in_several_files(pack):
    """Duplicate scenario ids and a bad CRM amount in another file are collected together."""
    _write(pack, SCENARIO, "a.yaml")
    _write(pack, SCENARIO, "b.yaml")
    crm = (pack / "crm.yaml").read_text(encoding="utf-8").replace("amount: 179.0", "amount: lots", 1)
    (pack / "crm.yaml").write_text(crm, encoding="utf-8")
    line = crm.splitlines().index("    amount: lots") + 1
    errs = "\n".join(_errors(pack))
    assert "scenarios/b.yaml line 1: id: duplicate scenario id 'en-test-case'" in errs
    assert f"crm.yaml line {line}: customers[0].orders[0].amount: Input should be a valid number" in errs


def test_yaml_keeps_on_and_dates_as_strings(pack):
    """`on:` stays the rule key (not YAML 1.1 True) and unquoted dates stay ISO strings."""
    crm = (pack / "crm.yaml").read_text(encoding="utf-8").replace("placed_at: '2025-05-28'", "placed_at: 2025-05-28")
    (pack / "crm.yaml").write_text(crm, encoding="utf-8")
    loaded = load_pack(pack)
    assert loaded.crm.customers[0].orders[0].placed_at == "2025-05-28"
    assert loaded.scenarios[0].rules[0].on in ("ask_order", "greeting", "ask_detail", "empathy", "ask_verification")


def test_changed_article_body_bumps_version(app, pack):
    """Editing an article's body and reloading makes version 2 and keeps version 1."""
    with app.app_context():
        load_pack_into_db(pack)
        kb = (pack / "kb.yaml").read_text(encoding="utf-8")
        kb = kb.replace("Refunds always go back", "Refunds always, without exception, go back", 1)
        (pack / "kb.yaml").write_text(kb, encoding="utf-8")
        report = load_pack_into_db(pack)
        assert report.counts["articles"]["updated"] == 1
        art = db.session.scalar(select(Article).where(Article.slug == "refund-timelines", Article.lang == "en"))
        assert art.version == 2
        assert [v.version for v in art.versions] == [1, 2]
        assert "without exception" in art.versions[1].body and "without exception" not in art.versions[0].body
        assert load_pack_into_db(pack).changed == 0


def test_cli_load_and_check(app):
    """`flask content load` on the packs root loads both languages; `check` validates without writing."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["content", "check", str(PACKS)])
    assert result.exit_code == 0, result.output
    assert "zh_CN: ok" in result.output and "en: ok" in result.output
    result = runner.invoke(args=["content", "load", str(PACKS)])
    assert result.exit_code == 0, result.output
    assert "zh_CN: customers 56 (56 new" in result.output
    n = len(list((PACKS / "en" / "scenarios").glob("*.yaml")))  # the channels keep adding scenarios
    assert "en: " in result.output and f"scenarios {n} ({n} new" in result.output
    result = runner.invoke(args=["content", "load", str(PACKS / "en")])
    assert result.exit_code == 0 and f"scenarios {n} (0 new, 0 updated)" in result.output


def test_cli_fails_cleanly_on_malformed_pack(app, pack):
    """A malformed pack exits non-zero with the file/line/field text and writes nothing."""
    _write(pack, SCENARIO.replace("patience: 120", "patience: many"))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["content", "load", str(pack)])
    assert result.exit_code != 0
    assert "broken.yaml line 11: customer.patience: Input should be a valid number" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    with app.app_context():
        assert db.session.scalar(select(Article).limit(1)) is None
    result = runner.invoke(args=["content", "load", str(pack / "scenarios")])
    assert result.exit_code != 0 and "no pack.yaml" in result.output


def test_queue_announcement_must_say_the_position(pack):
    """A queue announcement without {position}, or with another placeholder, is refused at its line; the
    shipped one says the caller's place."""
    assert "{position}" in load_pack(pack).info.queue_announcement
    text = (pack / "pack.yaml").read_text(encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("queue_announcement:"))
    for bad, says in (("Please hold.", "must say {position}"), ("You are {position} of {total}.", "only {position}")):
        (pack / "pack.yaml").write_text(
            "\n".join(f'queue_announcement: "{bad}"' if i == line else ln for i, ln in enumerate(text.splitlines(), 1)),
            encoding="utf-8",
        )
        (err,) = _errors(pack)
        assert f"pack.yaml line {line}: queue_announcement" in err and says in err
