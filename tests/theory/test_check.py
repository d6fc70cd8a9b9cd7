"""`flask theory check`'s quality rules on small banks the tests write: each cue is caught, a clean bank passes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import yaml

from theory.checking import CheckOptions, run_check
from theory.drawing import Item
from theory.knowledge import points_for
from theory.loader import ID_PREFIX, load_banks
from theory.quality import check_banks
from theory.simulate import simulate

from .helpers import write_synthetic_banks

_rng = random.Random(7)


def _words(n: int) -> str:
    """Random letters in words: distinct stems and options that no near-duplicate rule confuses."""
    return " ".join("".join(_rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6)) for _ in range(n))


def item(i: int, area="business_handling", kind="single", answer=None, options=None, stem=None, **kw) -> dict:
    q = {
        "id": f"{ID_PREFIX[area]}-{i:03d}",
        "levels": ["L4", "L3"],
        "kind": kind,
        "knowledge": points_for(area)[0].code,
        "source": "§3 test",
        "stem": stem or _words(8),
        "explanation": "why",
        **kw,
    }
    if kind == "true_false":
        q["answer"] = True if answer is None else answer
    else:
        # Equal-length options: no length cue unless a test makes one.
        q["options"] = options or {k: _words(3) for k in "ABCD"}
        q["answer"] = answer or "ABCD"[i % 4]
    return q


def write(tmp_path: Path, questions: list[dict], area="business_handling", lang="en") -> Path:
    root = tmp_path / "banks"
    (root / lang).mkdir(parents=True, exist_ok=True)
    doc = {"lang": lang, "area": area, "questions": questions}
    (root / lang / f"{area}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return root


def rules(tmp_path, questions, severity="error", **kw) -> set[str]:
    report = check_banks(load_banks(write(tmp_path, questions, **kw)))
    return {f.rule for f in report.findings if f.severity == severity}


def test_clean_small_bank_breaks_no_item_or_key_rule(tmp_path):
    """Balanced letters, equal lengths, no hedging or absurd words: none of the cue rules fires."""
    qs = [item(i) for i in range(1, 41)] + [item(100 + i, kind="true_false", answer=i % 2 == 0) for i in range(20)]
    got = rules(tmp_path, qs)
    cue_rules = {"key_longest", "key_position", "tf_balance", "hedge_cue", "absurd_share", "duplicate_stem"}
    assert not got & cue_rules, got


def test_key_uniquely_longest_is_caught(tmp_path):
    """When the key is the longest option in every single-choice item, key_longest fails with the share."""
    qs = []
    for i in range(1, 31):
        opts = {k: _words(2) for k in "ABCD"}
        key = "ABCD"[i % 4]
        opts[key] = _words(5)
        qs.append(item(i, options=opts, answer=key))
    report = check_banks(load_banks(write(tmp_path, qs)))
    msgs = [f.message for f in report.errors if f.rule == "key_longest"]
    assert msgs and "30 of 30" in msgs[0]
    assert report.figures["en"]["key_longest"]["share"] == 1.0


def test_key_position_and_true_false_balance(tmp_path):
    """All single keys on A fails key_position; 18 of 20 true statements fails tf_balance."""
    qs = [item(i, answer="A") for i in range(1, 31)]
    qs += [item(100 + i, kind="true_false", answer=i >= 2) for i in range(20)]
    got = rules(tmp_path, qs)
    assert {"key_position", "tf_balance"} <= got


def test_multiple_choice_key_counts_and_letters(tmp_path):
    """Multiples always keyed [A, B, C] fail both the key-count and the key-letter balance."""
    qs = [item(i, kind="multiple", answer=["A", "B", "C"]) for i in range(1, 26)]
    assert {"mc_key_count", "mc_key_letter"} <= rules(tmp_path, qs)


def test_hedging_words_on_keys_are_a_cue(tmp_path):
    """Keys carrying 'according to procedure' while distractors never do fail hedge_cue; spread evenly they pass."""
    keyed, spread = [], []
    for i in range(1, 31):
        key = "ABCD"[i % 4]
        opts = {k: _words(3) for k in "ABCD"}
        opts[key] = "according to procedure " + _words(1)
        keyed.append(item(i, options=opts, answer=key))
        even = {k: _words(3) for k in "ABCD"}
        even["ABCD"[(i + 1) % 4]] = "according to procedure " + _words(1)  # hedged option is a distractor 3 of 4
        even["ABCD"[(i + 2) % 4]] = "according to procedure " + _words(1)
        spread.append(item(i, options=even, answer=key))
    assert "hedge_cue" in rules(tmp_path / "a", keyed)
    assert "hedge_cue" not in rules(tmp_path / "b", spread)


def test_absurd_and_all_of_the_above_options(tmp_path):
    """'All of the above' is an error on the item; rude distractors are flagged per item and fail the bank share."""
    qs = [item(i) for i in range(1, 21)]
    qs[0]["options"]["D"] = "All of the above"
    qs[0]["answer"] = "A"
    for q in qs[1:6]:
        wrong = next(k for k in "ABCD" if k != q["answer"])
        q["options"][wrong] = "hang up on the customer"
    report = check_banks(load_banks(write(tmp_path, qs)))
    assert any(f.rule == "all_none_above" and f.qid == "bh-001" for f in report.errors)
    flagged = {f.qid for f in report.findings if f.rule == "absurd_distractor"}
    assert {"bh-002", "bh-003", "bh-004", "bh-005", "bh-006"} <= flagged
    assert any(f.rule == "absurd_share" for f in report.errors)


def test_duplicate_and_near_duplicate_stems(tmp_path):
    """An exact duplicate and a one-word variant are errors naming both ids; unrelated stems are not."""
    base = "Within how many days may a customer return goods bought online without giving a reason"
    qs = [item(i) for i in range(1, 6)]
    qs[1]["stem"] = base
    qs[2]["stem"] = base + "?"
    qs[3]["stem"] = base.replace("online", "by phone")
    report = check_banks(load_banks(write(tmp_path, qs)))
    dups = [f for f in report.errors if f.rule == "duplicate_stem"]
    assert {f.qid for f in dups} == {"bh-003", "bh-004"}
    assert all("bh-002" in f.message or "bh-003" in f.message for f in dups)


def test_coverage_and_missing_fields(tmp_path):
    """A bank tagging one point leaves every other point uncovered; items without knowledge/source are counted."""
    qs = [item(i) for i in range(1, 6)]
    del qs[0]["knowledge"], qs[1]["source"]
    report = check_banks(load_banks(write(tmp_path, qs)))
    errors = {f.rule: f.message for f in report.errors}
    assert "1 question(s) have no knowledge" in errors["missing_knowledge"]
    assert "1 question(s) have no source" in errors["missing_source"]
    cov = report.figures["en"]["coverage"]["L4"]
    assert cov["covered"] == 1 and "L4/2.3#1" in cov["missing"]
    assert any(f.rule == "coverage" and "L4:" in f.message for f in report.errors)


def test_simulation_catches_longest_option_bank():
    """On items whose key is always the longest, the longest strategy scores 100 and form overlap is measured."""
    items = []
    for area, need in (("professional_ethics", 5), ("basic_knowledge", 10), ("service_response", 15),
                       ("business_handling", 30), ("information_records", 20), ("operations", 20)):  # fmt: skip
        for i in range(1, 2 * need + 1):
            key = "ABCD"[i % 4]
            opts = {k: "x" * 5 for k in "ABCD"}
            opts[key] = "x" * 12
            items.append(Item(f"{ID_PREFIX[area]}-{i:03d}", area, "single", ("L4",), "exam", "s", opts, key))
    run = simulate(items, "L4", "en", n_forms=6)
    assert run.scores["longest"]["mean"] == 100.0
    assert 10 <= run.scores["first_option"]["mean"] <= 45  # options are shuffled per form: A is not the key
    # A pool twice the exam's size: exposure control makes forms 1 and 2 disjoint (so are 3 and 4, 5 and 6); the
    # mean pairwise overlap is near the 40 % floor such a pool allows, and no later form repeats an earlier one.
    assert 0.3 <= run.overlap_mean <= 0.5 and run.overlap_max < 0.8


def test_cli_check_exit_code_and_json(app, tmp_path):
    """The command exits 1 on a broken hard rule and --json carries the findings and the figures."""
    root = write(tmp_path, [item(i, answer="A") for i in range(1, 31)])
    result = app.test_cli_runner().invoke(args=["theory", "check", str(root), "--json", "--no-simulation"])
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["ok"] is False
    assert any(f["rule"] == "key_position" for f in body["findings"])
    assert body["figures"]["en"]["single_key_letters"]["A"] == 30
    text = app.test_cli_runner().invoke(args=["theory", "check", str(root), "--no-simulation"])
    assert text.exit_code == 1 and "key_position" in text.output and "FAILED" in text.output


def test_run_check_thresholds_are_configurable(tmp_path):
    """The no-knowledge threshold decides: at 1 point every strategy breaks it, at 100 none does."""
    banks = load_banks(write_synthetic_banks(tmp_path / "synth", langs=("en",)))
    strict, runs = run_check(banks, CheckOptions(forms=3, threshold=1))
    lax, _ = run_check(banks, CheckOptions(forms=3, threshold=100))
    assert [r.level for r in runs] == ["L5", "L4", "L3"] and all(r.forms == 3 for r in runs)
    assert sum(f.rule == "no_knowledge" for f in strict.errors) == 3 * 5  # 5 strategies (not random) x 3 levels
    assert not any(f.rule == "no_knowledge" for f in lax.errors)
