"""`flask theory check`: the loader's validation, the quality rules (theory/quality.py), and per level and
language the no-knowledge simulation and the form overlap (theory/simulate.py), as one report."""

from __future__ import annotations

from dataclasses import dataclass, field

from .drawing import Item
from .loader import BankQuestion
from .quality import BankReport, Thresholds, check_banks
from .simulate import LevelRun, simulate
from .weights import LEVELS

# Overlap is a hard rule where the bank format sets the pool sizes for it; L5 is reported only.
OVERLAP_LEVELS = ("L4", "L3")


@dataclass
class CheckOptions:
    forms: int = 50
    threshold: float = 35.0  # no strategy may average above this (of 100)
    max_overlap: float = 0.30  # two forms of an OVERLAP_LEVELS level may share no more on average
    simulate: bool = True
    thresholds: Thresholds = field(default_factory=Thresholds)


def run_check(banks: dict[str, list[BankQuestion]], opts: CheckOptions | None = None) -> tuple[BankReport, list]:
    """The quality report plus, per language and level, the simulation runs (empty when opts.simulate is off)."""
    opts = opts or CheckOptions()
    report = check_banks(banks, opts.thresholds)
    runs: list[LevelRun] = []
    if not opts.simulate:
        return report, runs
    for lang, qs in sorted(banks.items()):
        items = [Item.of(bq) for bq in qs]
        for level in LEVELS:
            run = simulate(items, level, lang, opts.forms)
            runs.append(run)
            if run.error:
                report.add("simulation", "error", lang, f"{level}: no forms could be drawn: {run.error}")
                continue
            for name, s in run.scores.items():
                if name != "random" and s["mean"] > opts.threshold:
                    report.add(
                        "no_knowledge",
                        "error",
                        lang,
                        f"{level}: the {name} strategy scores {s['mean']:.1f} on average (max {s['max']:.0f}) "
                        f"over {run.forms} forms; limit {opts.threshold:g}",
                    )
            # The rule is on the mean: the bank format sizes pools (3.5-4x) for an expected overlap under 30 %;
            # the max of many pairs runs ~10 points higher and is reported for the lead to judge.
            if run.overlap_mean > opts.max_overlap:
                severity = "error" if level in OVERLAP_LEVELS else "warning"
                report.add(
                    "form_overlap",
                    severity,
                    lang,
                    f"{level}: two forms share {run.overlap_mean:.0%} of their questions on average (max "
                    f"{run.overlap_max:.0%} over {run.forms} forms); limit {opts.max_overlap:.0%}",
                )
    return report, runs


def render(report: BankReport, runs: list[LevelRun], verbose: bool = False) -> str:
    """The human-readable report: figures per language, simulation table, then errors and warnings."""
    out: list[str] = []
    for lang, fig in report.figures.items():
        pools = ", ".join(f"{k} {v}" for k, v in sorted(fig["pools"].items()))
        out.append(f"{lang}: {fig['questions']} questions ({pools})")
        kl = fig["key_longest"]
        out.append(f"  key uniquely longest: {kl['items']} of {kl['of']} single-choice ({kl['share']:.0%})")
        letters = " ".join(f"{k} {v}" for k, v in fig["single_key_letters"].items())
        p = fig.get("single_key_letters_p")
        out.append(f"  single-choice keys by letter: {letters}" + (f" (chi-square p={p})" if p is not None else ""))
        out.append(
            f"  multiple-choice keys: counts {fig['multiple_key_counts']}, letters {fig['multiple_key_letters']}"
        )
        tf = fig["true_false"]
        out.append(f"  true/false: {tf['true']} true, {tf['false']} false")
        h = fig["hedged_options"]
        out.append(f"  options with hedging words: {h['options']}, keyed {h['keyed']} (chance {h['chance']})")
        out.append(f"  similar stem pairs: {fig['similar_stem_pairs']}")
        cov = "; ".join(f"{lv} {c['covered']}/{c['points']}" for lv, c in fig["coverage"].items())
        out.append(f"  knowledge points covered by exam items: {cov}")
        out.append("  exam pool per level and area (have/need for one exam):")
        for level, row in fig["pool_sizes"].items():
            cells = ", ".join(f"{a} {r['exam']}/{r['need']}+{r['practice']}p" for a, r in row.items() if r["need"])
            out.append(f"    {level}: {cells}")
    if runs:
        out.append("no-knowledge simulation (mean/max score of 100) and form overlap (mean/max):")
        for r in runs:
            if r.error:
                out.append(f"  {r.lang} {r.level}: not drawn ({r.error})")
                continue
            cells = ", ".join(f"{k} {v['mean']:.1f}/{v['max']:.0f}" for k, v in r.scores.items())
            out.append(
                f"  {r.lang} {r.level} ({r.forms} forms): {cells}; overlap {r.overlap_mean:.0%}/{r.overlap_max:.0%}"
            )
    errors, warnings = report.errors, [f for f in report.findings if f.severity == "warning"]
    for title, items, limit in (("errors", errors, None), ("warnings", warnings, None if verbose else 25)):
        if not items:
            continue
        out.append(f"{len(items)} {title}:")
        for f in items[:limit]:
            where = f" {f.where}:" if f.where else ""
            qid = f" [{f.qid}]" if f.qid else ""
            out.append(f"  {f.lang}{where}{qid} {f.rule}: {f.message}")
        if limit is not None and len(items) > limit:
            out.append(f"  ... and {len(items) - limit} more (--verbose shows all)")
    out.append("ok" if not errors else f"FAILED: {len(errors)} hard rule(s) broken")
    return "\n".join(out)
