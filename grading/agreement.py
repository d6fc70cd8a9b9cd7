"""Inter-rater agreement for grader panels: ICC(2,k) on graders' totals and Fleiss' kappa on yes/no items.

Pure Python (no numpy): panels are small (a few graders, tens of contacts), and a small, fully tested module
is easier to trust than a dependency. Each function returns an ``Agreement``: the value, or ``None`` with the
reason when the statistic is undefined for the input (too few subjects, no variance at all), so pages can say
why there is no figure instead of showing a division by zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Agreement:
    """A statistic's value (rounded to 4 places) or None with ``reason``; ``n`` subjects, ``k`` raters."""

    value: float | None
    reason: str | None = None
    n: int = 0
    k: int = 0

    def as_dict(self) -> dict:
        return {"value": self.value, "reason": self.reason, "n": self.n, "k": self.k}


def anova_mean_squares(matrix: Sequence[Sequence[float]]) -> tuple[float, float, float]:
    """Two-way ANOVA of an n×k table (subjects × raters), as in Shrout & Fleiss (1979), Table 2:
    BMS (between-subjects mean square), JMS (between-judges mean square), EMS (residual mean square).

    SSR = k·Σ_i (mean_i − M)², SSC = n·Σ_j (mean_j − M)², SST = Σ_ij (x_ij − M)², SSE = SST − SSR − SSC;
    BMS = SSR/(n−1), JMS = SSC/(k−1), EMS = SSE/((n−1)(k−1))."""
    n, k = len(matrix), len(matrix[0])
    grand = sum(sum(row) for row in matrix) / (n * k)
    row_means = [sum(row) / k for row in matrix]
    col_means = [sum(row[j] for row in matrix) / n for j in range(k)]
    ssr = k * sum((m - grand) ** 2 for m in row_means)
    ssc = n * sum((m - grand) ** 2 for m in col_means)
    sst = sum((x - grand) ** 2 for row in matrix for x in row)
    sse = max(sst - ssr - ssc, 0.0)  # float noise must not make a residual negative
    return ssr / (n - 1), ssc / (k - 1), sse / ((n - 1) * (k - 1))


def icc2k(matrix: Sequence[Sequence[float]]) -> Agreement:
    """ICC(2,k): two-way random effects, absolute agreement, reliability of the MEAN of k raters
    (Shrout & Fleiss 1979, "Intraclass correlations: uses in assessing rater reliability", Psychological
    Bulletin 86(2), eq. for ICC(2,k)):

        ICC(2,k) = (BMS − EMS) / (BMS + (JMS − EMS) / n)

    ``matrix`` is n subjects (rows: contacts) × k raters (columns: graders). Undefined (None with a reason)
    for fewer than 2 subjects or raters, ragged rows, or a table with no variance at all."""
    n = len(matrix)
    k = len(matrix[0]) if n else 0
    if n < 2:
        return Agreement(None, "needs at least 2 subjects", n, k)
    if k < 2:
        return Agreement(None, "needs at least 2 raters", n, k)
    if any(len(row) != k for row in matrix):
        raise ValueError("every subject needs a score from every rater")
    bms, jms, ems = anova_mean_squares(matrix)
    denominator = bms + (jms - ems) / n
    if abs(denominator) < 1e-12:
        return Agreement(None, "no variance between subjects or raters", n, k)
    return Agreement(round((bms - ems) / denominator, 4) + 0.0, None, n, k)


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> Agreement:
    """Fleiss' kappa for m raters per subject sorting N subjects into q categories (Fleiss 1971, "Measuring
    nominal scale agreement among many raters", Psychological Bulletin 76(5), eqs. 2-9):

        P_i  = (Σ_j n_ij² − m) / (m(m − 1))         agreement on subject i
        P̄    = (1/N) Σ_i P_i
        p_j  = (1/(N m)) Σ_i n_ij                    share of all ratings in category j
        P̄_e  = Σ_j p_j²
        κ    = (P̄ − P̄_e) / (1 − P̄_e)

    ``counts`` is N×q: counts[i][j] raters put subject i in category j; every row sums to the same m.
    Undefined (None with a reason) with no subjects, fewer than 2 raters, or when every rating falls in one
    category (P̄_e = 1: chance agreement is already perfect)."""
    n = len(counts)
    if n < 1:
        return Agreement(None, "needs at least 1 subject", 0, 0)
    m = sum(counts[0])
    if any(sum(row) != m for row in counts):
        raise ValueError("every subject needs the same number of ratings")
    if any(c < 0 for row in counts for c in row):
        raise ValueError("counts cannot be negative")
    if m < 2:
        return Agreement(None, "needs at least 2 raters", n, m)
    q = len(counts[0])
    p_bar = sum((sum(c * c for c in row) - m) / (m * (m - 1)) for row in counts) / n
    p_j = [sum(row[j] for row in counts) / (n * m) for j in range(q)]
    p_e = sum(p * p for p in p_j)
    if abs(1 - p_e) < 1e-12:
        return Agreement(None, "every rating is in one category", n, m)
    return Agreement(round((p_bar - p_e) / (1 - p_e), 4) + 0.0, None, n, m)


def category_counts(ratings: Sequence[Sequence[object]], categories: Sequence[object]) -> list[list[int]]:
    """Turn raw ratings (one row per subject, one value per rater) into Fleiss' N×q count table."""
    index = {c: j for j, c in enumerate(categories)}
    table = []
    for row in ratings:
        counts = [0] * len(categories)
        for value in row:
            if value not in index:
                raise ValueError(f"rating {value!r} is not one of {list(categories)}")
            counts[index[value]] += 1
        table.append(counts)
    return table
