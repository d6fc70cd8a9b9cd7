"""Item analysis from responses: difficulty, point-biserial discrimination, flags, and KR-20 (= Cronbach's alpha on
one shared paper), checked against hand-worked figures; the lead page and the CLI show them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scipy.stats import pearsonr

from extensions import db
from tests import factories
from theory.analysis import AnalysisLimits, analyse, analyse_items, cronbach_alpha, item_scores, kr20_parallel
from theory.models import TheoryExam

ITEMS = ["bh-001", "bh-002", "bh-003", "bh-004"]
KEY = {q: {"area": "business_handling", "kind": "true_false", "answer": True, "options": []} for q in ITEMS}
# Six candidates x four right/wrong items; bh-004 is answered right only by the weakest candidates.
MATRIX = [
    [1, 1, 1, 0],
    [1, 1, 1, 0],
    [1, 1, 0, 0],
    [1, 0, 1, 1],
    [0, 1, 0, 1],
    [0, 0, 0, 1],
]


def _exams(matrix=MATRIX, level="L4", lang="en"):
    """Submitted exams (real model rows, not saved) whose answers give ``matrix``."""
    out = []
    for i, row in enumerate(matrix):
        out.append(TheoryExam(id=i + 1, candidate_id=i + 1, level=level, lang=lang, practice=False,
                              question_ids=list(ITEMS), key=KEY, score=100 * sum(row) / 4,
                              answers={q: bool(v) for q, v in zip(ITEMS, row, strict=True)},
                              started_at=datetime(2026, 1, 1, tzinfo=UTC),
                              submitted_at=datetime(2026, 1, 1, 1, tzinfo=UTC)))  # fmt: skip
    return out


def test_difficulty_and_point_biserial_by_hand():
    """p is the share right; r_pb is Pearson's r of the item with the rest score, as computed here by hand."""
    stats = {s.qid: s for s in analyse_items(_exams(), AnalysisLimits(min_responses=5))}
    assert stats["bh-001"].difficulty == pytest.approx(4 / 6, abs=1e-3)
    rest = [(sum(r) - r[0]) / 3 for r in MATRIX]
    assert stats["bh-001"].discrimination == pytest.approx(pearsonr([r[0] for r in MATRIX], rest).statistic, abs=1e-3)
    assert stats["bh-004"].discrimination < 0
    assert "negative discrimination: check the key" in stats["bh-004"].flags
    assert not stats["bh-001"].flags


def test_kr20_equals_cronbach_alpha_on_one_paper():
    """On one shared paper the parallel-forms KR-20 equals Cronbach's alpha; both match the hand-worked value."""
    exams = _exams([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    p = {s.qid: s.difficulty for s in analyse_items(exams)}
    # Hand: p = .8 .6 .4 .2, sum pq = .16+.24+.24+.16 = .80; totals 4,3,2,1,0, population variance 2.0;
    # KR-20 = 4/3 * (1 - .8/2) = 0.8.
    assert kr20_parallel(exams, p) == pytest.approx(0.8)
    assert cronbach_alpha([list(item_scores(e).values()) for e in exams]) == pytest.approx(0.8)


def test_analyse_groups_by_level_and_skips_practice():
    """Reliability per level and language; practice quizzes are not counted."""
    exams = _exams() + _exams(level="L3")
    exams[0].practice = True
    items, forms = analyse(exams)
    assert [(f.level, f.candidates) for f in forms] == [("L3", 6), ("L4", 5)]
    assert {s.qid for s in items} == set(ITEMS)


def test_lead_page_and_cli_show_the_analysis(app, client):
    """The lead's analysis page lists the flagged item and KR-20; the CLI prints the same flag."""
    with app.app_context():
        lead = factories.user("lead1", role="lead")
        g = factories.group("A", lead=lead)
        for i, exam in enumerate(_exams()):
            t = factories.user(f"t{i}", group=g)
            exam.id, exam.candidate_id = None, t.id
            db.session.add(exam)
        db.session.commit()
    client.post("/login", data={"username": "lead1", "password": "pass1234"})
    page = client.get("/theory/analysis")
    assert page.status_code == 200 and b"theory-reliability" in page.data and b'data-qid="bh-004"' in page.data
    assert b"negative discrimination" not in page.data  # 6 responses < the default 10 needed to flag
    out = app.test_cli_runner().invoke(args=["theory", "analysis", "--min-responses", "5"])
    assert out.exit_code == 0 and "bh-004" in out.output and "negative discrimination" in out.output
    assert "en L4: 6 candidate(s)" in out.output
