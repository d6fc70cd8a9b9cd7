"""Helpers for the theory tests: load the shipped or a synthetic bank, build users, answer an exam right or wrong."""

from __future__ import annotations

from accounts.models import User
from extensions import db
from theory.drawing import to_shown_letters
from theory.loader import load_all_banks
from theory.models import TheoryExam


def load_banks():
    return load_all_banks()


def user(username) -> User:
    return db.session.scalar(db.select(User).where(User.username == username))


def shown(exam: TheoryExam, qid: str, bank_answer):
    """The answer as the candidate gives it: in the letters this form shows (options are shuffled per form)."""
    return to_shown_letters((exam.option_orders or {}).get(qid), bank_answer)


def correct_answer(exam: TheoryExam, qid: str):
    return shown(exam, qid, exam.key[qid]["answer"])


def wrong_answer(exam: TheoryExam, qid: str):
    k = exam.key[qid]
    if k["kind"] == "true_false":
        return not k["answer"]
    if k["kind"] == "single":
        return shown(exam, qid, next(letter for letter in k["options"] if letter != k["answer"]))
    return shown(exam, qid, k["answer"][:1])  # a strict subset of the correct letters: wrong under all-or-nothing


# A synthetic bank the tests make: enough exam items per area for a 100-question exam at every level, and a
# practice pool, so the exam-flow tests do not depend on the size or wording of the shipped banks.
SYNTH_EXAM = {"professional_ethics": 8, "basic_knowledge": 18, "service_response": 34, "business_handling": 36,
              "information_records": 24, "data_analysis": 18, "operations": 24}  # fmt: skip
SYNTH_PRACTICE = 12
_KINDS = ("single", "multiple", "true_false")


def _synth_question(area: str, prefix: str, n: int, pool: str, lang: str) -> dict:
    from theory.knowledge import points_for

    kind = _KINDS[n % 3]
    q = {
        "id": f"{prefix}-{n:03d}",
        "levels": ["L5", "L4", "L3"],
        "kind": kind,
        "pool": pool,
        "knowledge": points_for(area)[n % len(points_for(area))].code,
        "source": "synthetic",
        "stem": f"{lang} {area} {pool} question {n}",
        "explanation": f"why {n}",
    }
    if kind == "true_false":
        q["answer"] = n % 2 == 0
    else:
        q["options"] = {letter: f"option {letter} of {n}" for letter in "ABCD"}
        q["answer"] = "ABCD"[n % 4] if kind == "single" else ["A", "BCD"[n % 3]]
    return q


def write_synthetic_banks(root, langs=("en", "zh_CN"), exam=None, practice=SYNTH_PRACTICE):
    """Write a synthetic bank under ``root`` (``exam``: {area: exam items}); return the root."""
    from pathlib import Path

    import yaml

    from theory.loader import ID_PREFIX

    root = Path(root)
    for lang in langs:
        (root / lang).mkdir(parents=True, exist_ok=True)
        for area, n_exam in (exam or SYNTH_EXAM).items():
            prefix = ID_PREFIX[area]
            qs = [_synth_question(area, prefix, i, "exam", lang) for i in range(1, n_exam + 1)]
            qs += [_synth_question(area, prefix, 500 + i, "practice", lang) for i in range(1, practice + 1)]
            doc = {"lang": lang, "area": area, "questions": qs}
            (root / lang / f"{area}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return root


def load_synthetic(tmp_path, **kw):
    """Write and load the synthetic bank (inside an app context)."""
    return load_all_banks(write_synthetic_banks(tmp_path / "synthetic_banks", **kw))
