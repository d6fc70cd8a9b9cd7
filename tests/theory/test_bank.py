"""The shipped question banks: validation, counts, loading, and error messages for malformed banks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from extensions import db
from theory.loader import BankError, load_all_banks, load_banks
from theory.models import TheoryQuestion
from theory.weights import AREAS, THEORY_WEIGHTS, weights_for


def test_weights_sum_to_100_per_level():
    """The copied §4.1 table sums to 100 for every level and matches the standard's figures for L3."""
    for level in ("L5", "L4", "L3"):
        assert sum(weights_for(level).values()) == 100
    assert THEORY_WEIGHTS["data_analysis"] == {"L5": 0, "L4": 0, "L3": 15}
    assert THEORY_WEIGHTS["service_response"]["L5"] == 30


def test_both_banks_validate_with_enough_questions():
    """Each language has at least 150 questions, unique ids, every area and every kind of question."""
    banks = load_banks()
    assert set(banks) == {"zh_CN", "en"}
    for qs in banks.values():
        ids = [bq.q.id for bq in qs]
        assert len(ids) >= 150 and len(set(ids)) == len(ids)
        assert set(Counter(bq.area for bq in qs)) == set(AREAS)
        kinds = Counter(bq.q.kind for bq in qs)
        assert kinds["single"] and kinds["multiple"] and kinds["true_false"]


@pytest.mark.parametrize("level", ["L5", "L4", "L3"])
def test_bank_can_supply_a_100_question_exam_per_level(level):
    """For each level and area, the bank holds at least as many suitable questions as a 100-question exam needs."""
    for lang, qs in load_banks().items():
        for area, pct in weights_for(level).items():
            have = sum(1 for bq in qs if bq.area == area and level in bq.q.levels)
            assert have >= pct, (lang, level, area, have, pct)


def test_load_is_idempotent(app):
    """Loading twice creates every question once and changes nothing the second time."""
    with app.app_context():
        first = load_all_banks()
        assert first.counts["en"]["created"] >= 150
        second = load_all_banks()
        assert second.changed == 0
        total = sum(c["created"] for c in first.counts.values())
        assert db.session.scalar(db.select(db.func.count(TheoryQuestion.id))) == total


def test_cli_load(app):
    """`flask theory load` loads the default banks and reports the counts."""
    result = app.test_cli_runner().invoke(args=["theory", "load"])
    assert result.exit_code == 0, result.output
    n_en = len(load_banks()["en"])
    assert f"en: {n_en} questions ({n_en} new, 0 updated, 0 retired)" in result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(TheoryQuestion.id))) >= 300


SMALL = {
    "en/business_handling.yaml": """lang: en
area: business_handling
questions:
  - id: bh-001
    levels: [L4]
    kind: single
    stem: Which form records a callback?
    options: {A: one, B: two, C: three, D: four}
    answer: B
    explanation: because
  - id: bh-002
    levels: [L4, L3]
    kind: multiple
    stem: Which two apply?
    options: {A: one, B: two, C: three, D: four}
    answer: [A, B, D]
    explanation: because
""",
    "en/information_records.yaml": """lang: en
area: information_records
questions:
  - {id: ir-001, levels: [L4], kind: true_false, stem: a, answer: true, explanation: x}
  - {id: ir-002, levels: [L4], kind: true_false, stem: b, answer: false, explanation: x}
""",
    "zh_CN/professional_ethics.yaml": """lang: zh_CN
area: professional_ethics
questions:
  - {id: pe-001, levels: [L5], kind: true_false, stem: 甲, answer: true, explanation: 乙}
""",
}


def _small_banks(tmp_path: Path, edits: dict[str, tuple[str, str]] | None = None) -> Path:
    """A small bank the test writes; ``edits``: {file: (old, new)} applied once to the text."""
    root = tmp_path / "banks"
    for name, text in SMALL.items():
        if edits and name in edits:
            text = text.replace(*edits[name], 1)
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def _errors(root: Path) -> list[str]:
    with pytest.raises(BankError) as exc:
        load_banks(root)
    return exc.value.errors


def _line_of(path: Path, text: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return i
    raise AssertionError(text)


def test_small_bank_loads(tmp_path):
    """The small bank the next tests break loads as written (so each error below comes from its one edit)."""
    banks = load_banks(_small_banks(tmp_path))
    assert sorted(bq.q.id for bq in banks["en"]) == ["bh-001", "bh-002", "ir-001", "ir-002"]


def test_answer_letter_not_in_options_names_file_line_field(tmp_path):
    """A single-choice answer naming a missing option is reported with the file, the line and 'answer'."""
    root = _small_banks(tmp_path, {"en/business_handling.yaml": ("    answer: B\n", "    answer: E\n")})
    f = root / "en" / "business_handling.yaml"
    errors = _errors(root)
    line = _line_of(f, "answer: E")
    assert any(
        "business_handling.yaml" in e and f"line {line}:" in e and "answer" in e and "'E'" in e for e in errors
    ), errors


def test_multiple_with_one_answer_and_unknown_area_and_duplicate_id(tmp_path):
    """A multiple with one correct letter, an unknown area and a duplicated id are each named with file and line."""
    root = _small_banks(
        tmp_path,
        {
            "en/business_handling.yaml": ("answer: [A, B, D]", "answer: [A]"),
            "zh_CN/professional_ethics.yaml": ("area: professional_ethics", "area: ethics"),
            "en/information_records.yaml": ("id: ir-002", "id: ir-001"),
        },
    )
    bh, pe = root / "en" / "business_handling.yaml", root / "zh_CN" / "professional_ethics.yaml"
    ir = root / "en" / "information_records.yaml"
    joined = "\n".join(_errors(root))
    assert f"business_handling.yaml line {_line_of(bh, 'answer: [A]')}: questions[1].answer" in joined
    assert "at least two correct letters" in joined
    assert (
        f"professional_ethics.yaml line {_line_of(pe, 'area: ethics')}: area: unknown knowledge area 'ethics'" in joined
    )
    dup_line = [i for i, ln in enumerate(ir.read_text().splitlines(), 1) if "id: ir-001" in ln][1]
    assert f"information_records.yaml line {dup_line}: id: duplicate question id 'ir-001'" in joined


def test_unknown_knowledge_point_and_pool_named_with_line(tmp_path):
    """A knowledge code missing from the catalogue and a pool other than exam/practice are errors with file and line;
    a known code, a practice pool and a source clause load."""
    root = tmp_path / "banks"
    (root / "en").mkdir(parents=True)
    f = root / "en" / "operations.yaml"
    f.write_text(
        "lang: en\narea: operations\nquestions:\n"
        "  - {id: op-001, levels: [L4], kind: true_false, answer: true, explanation: x, stem: a,\n"
        "     knowledge: 'L4/9.9#1'}\n"
        "  - {id: op-002, levels: [L4], kind: true_false, answer: true, explanation: x, stem: b, pool: quiz}\n"
        "  - {id: op-003, levels: [L4], kind: true_false, answer: true, explanation: x, stem: c, pool: practice,\n"
        "     knowledge: 'L4/4.1#2', source: '§3 L4/4.1 初级岗位人员工作指导方法'}\n",
        encoding="utf-8",
    )
    errors = _errors(root)
    assert any("operations.yaml line 5:" in e and "unknown knowledge point 'L4/9.9#1'" in e for e in errors), errors
    assert any("operations.yaml line 6:" in e and "pool" in e for e in errors), errors
    assert len(errors) == 2
    f.write_text(f.read_text(encoding="utf-8").replace("L4/9.9#1", "§2.2.5.7").replace("pool: quiz", "pool: exam"))
    q3 = {bq.q.id: bq for bq in load_banks(root)["en"]}["op-003"]
    row = q3.as_row()
    assert (row["pool"], row["knowledge"], row["clause"]) == (
        "practice",
        "L4/4.1#2",
        "§3 L4/4.1 初级岗位人员工作指导方法",
    )


def test_yaml_syntax_error_names_line(tmp_path):
    """Broken YAML is reported with the file and line instead of a traceback."""
    root = _small_banks(tmp_path, {"en/information_records.yaml": ("answer: false, explanation: x}", ": : [")})
    errors = _errors(root)
    assert any("information_records.yaml line" in e and "YAML syntax error" in e for e in errors), errors


def test_demo_seed_loads_the_banks_theory_registered(app, tmp_path):
    """`flask demo seed` loads the content packs, then the question banks, through the loaders scenarios and theory
    register in their init_app (accounts imports neither): the banks are in the database and their report is
    printed; --no-content loads nothing."""
    from accounts.demo import _demo_content

    assert list(_demo_content) == ["content packs", "theory"]  # create_app's order: the packs first
    app.config["CONTENT_DIR"] = str(tmp_path)  # no scenario packs: only the banks
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--no-content"])
    assert result.exit_code == 0 and "theory banks" not in result.output, result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(TheoryQuestion.id))) == 0
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert "theory banks: " in result.output and "content " not in result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(TheoryQuestion.id))) >= 300
