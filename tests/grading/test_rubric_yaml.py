"""Rubric YAML in a pack: loaded with the pack, errors name file, line and field."""

from __future__ import annotations

import shutil

import pytest

from scenarios.loader import PackError, load_pack

from .builders import PACKS

BAD = """id: en-bad
lang: en
channel: chat
levels: [L4]
title: Bad rubric
scenarios: [en-no-such-scenario]
items:
  - id: fly
    title: Unknown evaluator
    skills: [L4/2.2.2]
    points: 5
    evaluator: teleport
  - id: slow
    title: Bad params
    skills: [L4/2.2.2]
    points: 5
    evaluator: first_response
    params: {within_seconds: -3}
  - id: tone
    title: Manual without a scale
    skills: [L9/1.1.1]
    points: 5
    scoring: manual
"""


def test_shipped_packs_have_a_chat_rubric_per_language():
    """Both packs ship a valid chat rubric covering L5-L3 with manual items (other channels add their own)."""
    for lang in ("en", "zh_CN"):
        rubrics = [r for r in load_pack(PACKS / lang).rubrics if r.channel == "chat"]  # other channels add theirs
        assert len(rubrics) == 1 and rubrics[0].levels == ["L5", "L4", "L3"]
        # The items every contact has total 100; the passed-up and senior-care items (N/A unless their occasion
        # arises: grading/evaluators/escalated.py) come on top.
        occasional = {"escalated_enquiry", "report_back", "risk_flagged", "owns_complaint", "within_authority",
                      "extra_help"}  # fmt: skip
        assert sum(i.points for i in rubrics[0].items if i.evaluator not in occasional) == 100
        assert sum(1 for i in rubrics[0].items if i.scoring == "manual") >= 2


def test_shipped_packs_have_a_group_rubric_per_language():
    """Both packs ship a group-chat rubric of 100 points, its evaluators for the group channel, one manual item."""
    for lang in ("en", "zh_CN"):
        (rubric,) = [r for r in load_pack(PACKS / lang).rubrics if r.channel == "group"]
        assert sum(i.points for i in rubric.items) == 100
        assert {i.evaluator for i in rubric.items if i.scoring == "auto"} == {
            "group_needs_answered",
            "group_answer_time",
            "group_individual_moved",
            "group_forbidden_phrases",
        }
        assert sum(1 for i in rubric.items if i.scoring == "manual") == 1


def test_shipped_packs_have_an_email_rubric_per_language():
    """Both packs ship an email rubric of 100 points with the email skill codes, the six format parts, the SLA and
    forbidden phrases as automatic items, and manual items for the grader."""
    for lang in ("en", "zh_CN"):
        (rubric,) = [r for r in load_pack(PACKS / lang).rubrics if r.channel == "email"]
        assert sum(i.points for i in rubric.items) == 100
        codes = {c for i in rubric.items for c in i.skills}
        assert {"L5/1.2.2", "L4/1.2.2"} <= codes
        parts = {i.params.get("part") for i in rubric.items if i.evaluator == "email_format"}
        assert parts == {"salutation", "acknowledgement", "answer", "next_steps", "closing", "signature"}
        assert {"email_response_time", "email_forbidden_phrases"} <= {i.evaluator for i in rubric.items}
        assert sum(1 for i in rubric.items if i.scoring == "manual") >= 2


def test_rubric_errors_name_file_line_and_field(app, tmp_path):
    """Unknown evaluator, refused params, unknown scenario: each reported with its file, line and field (the
    evaluator checks are grading's, registered with the loader by its init_app: hence the app)."""
    pack = tmp_path / "en"
    shutil.copytree(PACKS / "en", pack)
    (pack / "rubrics" / "bad.yaml").write_text(
        BAD.replace(
            "  - id: tone\n    title: Manual without a scale\n"
            "    skills: [L9/1.1.1]\n    points: 5\n"
            "    scoring: manual\n",
            "",
        )
    )
    with pytest.raises(PackError) as e:
        load_pack(pack)
    errors = "\n".join(e.value.errors)
    assert "bad.yaml line 12: items[0].evaluator: unknown evaluator 'teleport'" in errors
    assert "bad.yaml line 18: items[1].params.within_seconds:" in errors
    assert "bad.yaml line 6: scenarios[0]: scenario 'en-no-such-scenario' is not in this pack" in errors


def test_rubric_schema_errors(tmp_path):
    """Schema errors (an unknown skill code, a manual item without scale) point at the item's lines."""
    pack = tmp_path / "en"
    shutil.copytree(PACKS / "en", pack)
    (pack / "rubrics" / "bad.yaml").write_text(BAD)
    with pytest.raises(PackError) as e:
        load_pack(pack)
    errors = "\n".join(e.value.errors)
    assert "bad.yaml line 21: items[2].skills: unknown skill code(s) ['L9/1.1.1']" in errors
    (pack / "rubrics" / "bad.yaml").write_text(BAD.replace("L9/1.1.1", "L5/1.2.1"))
    with pytest.raises(PackError) as e:
        load_pack(pack)
    assert "bad.yaml line 19: items[2].scale: a manual item needs a scale" in "\n".join(e.value.errors)
