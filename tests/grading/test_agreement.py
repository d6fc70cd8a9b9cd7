"""ICC(2,k) and Fleiss' kappa against published worked examples, tables computed by hand, and a second,
independent computation of each statistic."""

from __future__ import annotations

import itertools
import random

import pytest

from grading.agreement import anova_mean_squares, category_counts, fleiss_kappa, icc2k

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges. The paper reports BMS = 11.24, JMS = 32.49,
# EMS = 1.02, ICC(2,1) = .29 and ICC(2,4) = .62.
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]

# Fleiss' kappa worked example (10 subjects, 14 raters, 5 categories) as given with the 1971 formulas in
# most textbooks: P̄ = 0.378, P̄e = 0.213, κ = 0.210.
FLEISS_EXAMPLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def icc2k_by_residuals(matrix):
    """A second computation of ICC(2,k): the residual sum of squares summed directly from the interaction
    terms e_ij = x_ij − row_i − col_j + M (not by subtraction), then ICC(2,k) from the variance components of
    the two-way random model: σ²_s / (σ²_s + (σ²_r + σ²_e) / k)."""
    n, k = len(matrix), len(matrix[0])
    cells = [x for row in matrix for x in row]
    m = sum(cells) / len(cells)
    rows = [sum(r) / k for r in matrix]
    cols = [sum(matrix[i][j] for i in range(n)) / n for j in range(k)]
    sse = sum((matrix[i][j] - rows[i] - cols[j] + m) ** 2 for i in range(n) for j in range(k))
    bms = k * sum((r - m) ** 2 for r in rows) / (n - 1)
    jms = n * sum((c - m) ** 2 for c in cols) / (k - 1)
    ems = sse / ((n - 1) * (k - 1))
    # variance components of the random two-way model: subjects, raters, error
    var_s, var_r, var_e = (bms - ems) / k, (jms - ems) / n, ems
    return var_s / (var_s + (var_r + var_e) / k)


def kappa_by_pairs(ratings):
    """A second computation of Fleiss' kappa from raw labels: the share of agreeing rater pairs per subject,
    against the chance that two random ratings from the whole table agree."""
    agree = [sum(a == b for a, b in itertools.combinations(row, 2)) / (len(row) * (len(row) - 1) / 2)
             for row in ratings]  # fmt: skip
    labels = [x for row in ratings for x in row]
    p_e = sum((labels.count(c) / len(labels)) ** 2 for c in set(labels))
    p_bar = sum(agree) / len(agree)
    return (p_bar - p_e) / (1 - p_e)


def expand(counts):
    """Count rows back to raw labels (category index per rater)."""
    return [[j for j, c in enumerate(row) for _ in range(c)] for row in counts]


def test_icc_matches_shrout_fleiss_table_2():
    """The paper's mean squares (11.24, 32.49, 1.02) and ICC(2,4) = .62."""
    bms, jms, ems = anova_mean_squares(SHROUT_FLEISS)
    assert (round(bms, 2), round(jms, 2), round(ems, 2)) == (11.24, 32.49, 1.02)
    res = icc2k(SHROUT_FLEISS)
    assert round(res.value, 2) == 0.62 and (res.n, res.k) == (6, 4)


def test_icc_small_table_by_hand():
    """3 contacts × 3 graders computed by hand.

    [[1, 2, 3], [3, 5, 4], [5, 5, 8]]: grand mean 4; row means 2, 4, 6; column means 3, 4, 5.
    SSR = 3·(4 + 0 + 4) = 24 → BMS = 12;  SSC = 3·(1 + 0 + 1) = 6 → JMS = 3;
    SST = (9+4+1) + (1+1+0) + (1+1+16) = 34 → SSE = 34 − 24 − 6 = 4 → EMS = 4/4 = 1.
    ICC(2,3) = (12 − 1) / (12 + (3 − 1)/3) = 11 / (38/3) = 33/38 = 0.8684."""
    m = [[1, 2, 3], [3, 5, 4], [5, 5, 8]]
    assert anova_mean_squares(m) == pytest.approx((12, 3, 1))
    assert icc2k(m).value == round(33 / 38, 4) == 0.8684


def test_icc_agrees_with_a_second_computation_on_random_tables():
    """On random panels (2-8 contacts, 3-7 graders, scores 0-10) both computations give the same value."""
    rng = random.Random(7)
    for _ in range(200):
        n, k = rng.randint(2, 8), rng.choice([3, 5, 7])
        m = [[rng.randint(0, 10) for _ in range(k)] for _ in range(n)]
        res = icc2k(m)
        if res.value is None:
            continue
        assert res.value == pytest.approx(icc2k_by_residuals(m), abs=1e-4)


def test_icc_degenerate_input_has_no_value_and_says_why():
    """One contact, one grader, or every score equal: no figure, a reason; ragged tables are an error."""
    assert icc2k([[1, 2, 3]]).reason == "needs at least 2 subjects"
    assert icc2k([[1], [2]]).reason == "needs at least 2 raters"
    assert icc2k([]).value is None
    flat = icc2k([[4, 4, 4], [4, 4, 4]])
    assert flat.value is None and "variance" in flat.reason
    with pytest.raises(ValueError):
        icc2k([[1, 2, 3], [1, 2]])


def test_icc_perfect_agreement_is_one():
    """Graders who give identical totals that differ between contacts agree perfectly."""
    assert icc2k([[2, 2, 2], [5, 5, 5], [9, 9, 9]]).value == 1.0


def test_fleiss_worked_example():
    """The classic 10 × 14 × 5 example gives κ = 0.210, and the pairwise computation agrees."""
    res = fleiss_kappa(FLEISS_EXAMPLE)
    assert round(res.value, 3) == 0.210 and (res.n, res.k) == (10, 14)
    assert res.value == pytest.approx(kappa_by_pairs(expand(FLEISS_EXAMPLE)), abs=1e-4)


def test_fleiss_small_yes_no_table_by_hand():
    """3 items × 3 graders, yes/no: counts [yes, no] = [3, 0], [0, 3], [2, 1].

    P_i = 1, 1, (4 + 1 − 3)/6 = 1/3 → P̄ = 7/9; p_yes = 5/9, p_no = 4/9 → P̄e = 41/81;
    κ = (63/81 − 41/81) / (40/81) = 22/40 = 0.55."""
    counts = [[3, 0], [0, 3], [2, 1]]
    assert fleiss_kappa(counts).value == 0.55
    assert category_counts([[1, 1, 1], [0, 0, 0], [1, 1, 0]], (1, 0)) == counts
    assert kappa_by_pairs(expand(counts)) == pytest.approx(0.55)


def test_fleiss_agrees_with_pairwise_counting_on_random_tables():
    """Random yes/no panels: the count formula equals the pairwise-agreement computation."""
    rng = random.Random(11)
    for _ in range(200):
        ratings = [[rng.randint(0, 1) for _ in range(rng.choice([3, 5]))] for _ in range(1)]
        k = len(ratings[0])
        ratings += [[rng.randint(0, 1) for _ in range(k)] for _ in range(rng.randint(0, 9))]
        res = fleiss_kappa(category_counts(ratings, (0, 1)))
        if res.value is None:
            continue
        assert res.value == pytest.approx(kappa_by_pairs(ratings), abs=1e-4)


def test_fleiss_degenerate_input():
    """All ratings in one category, one rater, no subjects: no figure with a reason; unequal rows error."""
    same = fleiss_kappa([[3, 0], [3, 0]])
    assert same.value is None and "one category" in same.reason
    assert fleiss_kappa([[1, 0], [0, 1]]).reason == "needs at least 2 raters"
    assert fleiss_kappa([]).value is None
    with pytest.raises(ValueError):
        fleiss_kappa([[2, 1], [1, 1]])
    with pytest.raises(ValueError):
        category_counts([[1, 2]], (0, 1))
