"""The quality rules of `flask theory check` (issue 19), per item and per bank (one bank = one language).

Each rule yields ``Finding``s; an "error" is a hard rule (the command exits non-zero), a "warning" is for the
writer to look at. Bank-level figures (key shares, balances, coverage, pool sizes) go into ``figures`` so the
command can print them and --json can carry them. The no-knowledge simulation and the form overlap are in
theory/simulate.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from rapidfuzz import fuzz, process
from scipy.stats import chisquare

from . import cues
from .drawing import allocate
from .knowledge import catalogue
from .loader import BankQuestion
from .weights import LEVELS, weights_for


@dataclass
class Thresholds:
    """The limits of the hard rules; the defaults are the agreed bank format's (theory_spec)."""

    key_longest_share: float = 0.25  # key uniquely longest in at most this share of single-choice items
    key_position_excess: float = 0.10  # no shown-letter key share above 1/k + this
    mc_count_share: float = 0.70  # no single key count (2, 3, 4) in more than this share of multiples
    mc_letter_share: float = 0.85  # no letter in more than this share of multiple-choice keys
    tf_true_range: tuple[float, float] = (0.35, 0.65)
    hedge_keyed_excess: float = 0.15  # hedged options keyed at most chance + this
    absurd_item_share: float = 0.05  # items with an absurd-looking distractor
    near_duplicate: float = 90.0  # rapidfuzz ratio of normalised stems: error at or above
    near_duplicate_warn: float = 80.0
    pool_factor: float = 3.5  # exam pool per area and level, as a multiple of the exam's count (overlap <= 30%)
    practice_share: float = 0.10  # practice pool per area, as a share of the exam pool (aim 15%)
    min_n: int = 20  # bank shares are judged only on at least this many items


@dataclass
class Finding:
    rule: str
    severity: str  # "error" | "warning"
    lang: str
    message: str
    qid: str | None = None
    where: str | None = None  # "<file> line <n>"


@dataclass
class BankReport:
    findings: list[Finding] = field(default_factory=list)
    figures: dict[str, dict] = field(default_factory=dict)  # {lang: {figure: value}}

    def add(self, rule, severity, lang, message, bq: BankQuestion | None = None):
        self.findings.append(Finding(rule, severity, lang, message, bq.q.id if bq else None, bq.source if bq else None))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def as_dict(self) -> dict:
        return {"findings": [asdict(f) for f in self.findings], "figures": self.figures}


def check_banks(banks: dict[str, list[BankQuestion]], th: Thresholds | None = None) -> BankReport:
    """Every item and bank rule on the loaded banks ({lang: questions})."""
    th = th or Thresholds()
    report = BankReport()
    for lang, qs in sorted(banks.items()):
        fig = report.figures.setdefault(lang, {})
        fig["questions"] = len(qs)
        fig["pools"] = dict(Counter(bq.q.pool for bq in qs))
        check_fields(qs, lang, report)
        check_items(qs, lang, report, th)
        check_keys(qs, lang, report, th, fig)
        check_duplicates(qs, lang, report, th, fig)
        check_coverage(qs, lang, report, fig)
        check_pool_sizes(qs, lang, report, th, fig)
    return report


def check_fields(qs, lang, report) -> None:
    """knowledge and source are optional to the loader (old banks load) but required of a finished bank."""
    for field_name in ("knowledge", "source"):
        missing = [bq for bq in qs if not getattr(bq.q, field_name)]
        if missing:
            first = missing[0]
            report.add(
                f"missing_{field_name}",
                "error",
                lang,
                f"{len(missing)} question(s) have no {field_name}: (first {first.q.id} at {first.source})",
            )
    for bq in qs:
        point = catalogue().get(bq.q.knowledge or "")
        if point is None:
            continue
        if point.area != bq.area:
            report.add("knowledge_area", "warning", lang, f"{point.code} belongs to {point.area}, not {bq.area}", bq)
        if not set(point.levels) & set(bq.q.levels):
            report.add("knowledge_level", "warning", lang, f"{point.code} is examined at {list(point.levels)}", bq)


def check_items(qs, lang, report, th) -> None:
    """Per item: all/none of the above (error), absurd-looking or filler-short distractors (warning)."""
    flagged = 0
    for bq in qs:
        q = bq.q
        if q.kind == "true_false":
            continue
        keys = set(cues.keys_of(q.answer))
        for letter, text in q.options.items():
            if cues.ABOVE.search(text):
                report.add("all_none_above", "error", lang, f"option {letter} is an all/none-of-the-above", bq)
        reasons = []
        key_len = min(cues.text_len(q.options[k]) for k in keys)
        for letter, text in q.options.items():
            if letter in keys:
                continue
            words = cues.absurd_words(text, lang)
            if words:
                reasons.append(f"{letter} has {', '.join(words)}")
            elif cues.text_len(text) < cues.SHORT_RATIO * key_len:
                reasons.append(f"{letter} is under {cues.SHORT_RATIO:.0%} of the key's length")
        if reasons:
            flagged += 1
            report.add("absurd_distractor", "warning", lang, "distractor looks absurd: " + "; ".join(reasons), bq)
    choice = sum(1 for bq in qs if bq.q.kind != "true_false")
    if choice >= th.min_n and flagged / choice > th.absurd_item_share:
        report.add(
            "absurd_share",
            "error",
            lang,
            f"{flagged} of {choice} choice items ({flagged / choice:.0%}) have an absurd-looking distractor "
            f"(limit {th.absurd_item_share:.0%})",
        )


def check_keys(qs, lang, report, th, fig) -> None:
    """Per bank: key uniquely longest, key letters of single and multiple choice, true/false balance, hedging."""
    singles = [bq for bq in qs if bq.q.kind == "single"]
    multiples = [bq for bq in qs if bq.q.kind == "multiple"]
    tfs = [bq for bq in qs if bq.q.kind == "true_false"]

    longest = [bq for bq in singles if cues.uniquely_longest(bq.q.options) == bq.q.answer]
    share = len(longest) / len(singles) if singles else 0.0
    fig["key_longest"] = {"items": len(longest), "of": len(singles), "share": round(share, 3)}
    if len(singles) >= th.min_n and share > th.key_longest_share:
        report.add(
            "key_longest",
            "error",
            lang,
            f"the key is the uniquely longest option in {len(longest)} of {len(singles)} single-choice items "
            f"({share:.0%}; limit {th.key_longest_share:.0%})",
        )
    # Bank letters; the exam shuffles options per candidate, but a practice sheet or a printout shows them.
    pos = Counter(bq.q.answer for bq in singles)
    letters = sorted({k for bq in singles for k in bq.q.options})[:4]
    fig["single_key_letters"] = {k: pos.get(k, 0) for k in letters}
    if len(singles) >= th.min_n and letters:
        counts = [pos.get(k, 0) for k in letters]
        p = float(chisquare(counts).pvalue)
        fig["single_key_letters_p"] = round(p, 4)
        top = max(counts) / len(singles)
        if top > 1 / len(letters) + th.key_position_excess:
            report.add(
                "key_position",
                "error",
                lang,
                f"single-choice keys by letter {fig['single_key_letters']}: {top:.0%} on one letter "
                f"(limit {1 / len(letters) + th.key_position_excess:.0%}; chi-square p={p:.3g})",
            )
    n_keys = Counter(len(bq.q.answer) for bq in multiples)
    in_key = Counter(k for bq in multiples for k in bq.q.answer)
    fig["multiple_key_counts"] = dict(sorted(n_keys.items()))
    fig["multiple_key_letters"] = dict(sorted(in_key.items()))
    if len(multiples) >= th.min_n:
        count, top = n_keys.most_common(1)[0]
        if top / len(multiples) > th.mc_count_share:
            report.add(
                "mc_key_count",
                "error",
                lang,
                f"{top} of {len(multiples)} multiple-choice items have {count} keys (limit {th.mc_count_share:.0%})",
            )
        letter, top = in_key.most_common(1)[0]
        if top / len(multiples) > th.mc_letter_share:
            report.add(
                "mc_key_letter",
                "error",
                lang,
                f"{letter} is a key in {top} of {len(multiples)} multiple-choice items "
                f"(limit {th.mc_letter_share:.0%})",
            )
    trues = sum(1 for bq in tfs if bq.q.answer is True)
    fig["true_false"] = {"true": trues, "false": len(tfs) - trues}
    lo, hi = th.tf_true_range
    if len(tfs) >= th.min_n and not lo <= trues / len(tfs) <= hi:
        report.add(
            "tf_balance", "error", lang, f"{trues} of {len(tfs)} true/false items are true (keep {lo:.0%}-{hi:.0%})"
        )
    _check_hedges(singles + multiples, lang, report, th, fig)


def _check_hedges(items, lang, report, th, fig) -> None:
    hedged = keyed = chance = 0.0
    for bq in items:
        keys = set(cues.keys_of(bq.q.answer))
        for letter, text in bq.q.options.items():
            if cues.hedges(text, lang):
                hedged += 1
                keyed += letter in keys
                chance += len(keys) / len(bq.q.options)
    fig["hedged_options"] = {"options": int(hedged), "keyed": int(keyed), "chance": round(chance, 1)}
    if hedged >= th.min_n:
        share, expected = keyed / hedged, chance / hedged
        if share > expected + th.hedge_keyed_excess:
            report.add(
                "hedge_cue",
                "error",
                lang,
                f"options with hedging words are keyed {int(keyed)} of {int(hedged)} times ({share:.0%}; "
                f"chance {expected:.0%}, limit {expected + th.hedge_keyed_excess:.0%})",
            )


def check_duplicates(qs, lang, report, th, fig) -> None:
    """Exact and near-duplicate stems within a language, across both pools (a practice twin leaks an exam item)."""
    stems = [cues.normalise_stem(bq.q.stem) for bq in qs]
    pairs = 0
    if len(stems) > 1:
        scores = process.cdist(stems, stems, scorer=fuzz.ratio, score_cutoff=th.near_duplicate_warn, workers=1)
        for i in range(len(stems)):
            for j in range(i + 1, len(stems)):
                s = float(scores[i][j])
                if s < th.near_duplicate_warn:
                    continue
                pairs += 1
                a, b = qs[i], qs[j]
                severity = "error" if s >= th.near_duplicate else "warning"
                what = "duplicate" if stems[i] == stems[j] else f"near-duplicate ({s:.0f}%)"
                report.add("duplicate_stem", severity, lang, f"{what} stem of {a.q.id} ({a.source})", b)
    fig["similar_stem_pairs"] = pairs


def check_coverage(qs, lang, report, fig) -> None:
    """Every knowledge point has exam items, and every point of a level has items eligible at that level."""
    exam = [bq for bq in qs if bq.q.pool == "exam"]
    per_point = Counter(bq.q.knowledge for bq in exam if bq.q.knowledge)
    cover: dict[str, dict] = {}
    for level in LEVELS:
        points = [p for p in catalogue().values() if level in p.levels]
        at_level = Counter(bq.q.knowledge for bq in exam if bq.q.knowledge and level in bq.q.levels)
        missing = [p.code for p in points if not at_level.get(p.code)]
        cover[level] = {"points": len(points), "covered": len(points) - len(missing), "missing": missing}
        # A point introduced at this level (its first level) must be examined at this level.
        own_missing = [c for c in missing if catalogue()[c].levels[0] == level or c.startswith("§")]
        if own_missing and exam:
            report.add(
                "coverage",
                "error",
                lang,
                f"{level}: {len(own_missing)} knowledge point(s) have no exam item at {level}: "
                + ", ".join(own_missing[:12])
                + (" ..." if len(own_missing) > 12 else ""),
            )
    fig["coverage"] = cover
    fig["items_per_point"] = {code: per_point.get(code, 0) for code in catalogue()}


def check_pool_sizes(qs, lang, report, th, fig) -> None:
    """Exam pool per level and area against a 100-question exam's need (short: error; under the factor that keeps
    two forms' overlap near 30%: warning), and the practice pool against the exam pool."""
    sizes: dict[str, dict] = {}
    for level in LEVELS:
        need = allocate(level, 100)
        row = sizes.setdefault(level, {})
        for area in weights_for(level):
            have = sum(1 for bq in qs if bq.area == area and bq.q.pool == "exam" and level in bq.q.levels)
            practice = sum(1 for bq in qs if bq.area == area and bq.q.pool == "practice" and level in bq.q.levels)
            n = need.get(area, 0)
            row[area] = {"exam": have, "practice": practice, "need": n, "target": round(n * th.pool_factor)}
            if not n:
                continue
            if have < n:
                report.add("pool_short", "error", lang, f"{level} {area}: {have} exam items; an exam needs {n}")
            elif have < n * th.pool_factor:
                report.add(
                    "pool_small",
                    "warning",
                    lang,
                    f"{level} {area}: {have} exam items, under {th.pool_factor}x the exam's {n} "
                    f"({round(n * th.pool_factor)})",
                )
            if practice < max(1, th.practice_share * have):
                msg = f"{level} {area}: {practice} practice items for {have} exam items"
                report.add("practice_small", "warning", lang, msg)
    fig["pool_sizes"] = sizes
