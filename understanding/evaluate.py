"""Measuring recognition on labelled lines: precision, recall and F1 per act, macro-F1, by tag, confusions.

The lines are files ``<lang>.yaml`` in a folder, each a list of items ``{id, scenario, customer_before, text,
moves, tags}`` (the format of ../shared/calibration/moves). They are for measuring only: nothing here trains.
A line is labelled with the acts it performs by the act definitions, where a scenario's own
``expected.forbidden_phrases`` are not `forbidden` (they are judged with the session): the reading is scored by
``Reading.performed``, which leaves a `forbidden` out that only such a phrase gave.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import yaml

from scenarios.schema import ACTS


class EvaluationError(ValueError):
    """A lines file is malformed (the message names the file and the item)."""


def load_lines(folder: str | Path) -> dict[str, list[dict]]:
    """{lang: items} for every ``<lang>.yaml`` in ``folder`` (zh_CN, en)."""
    out: dict[str, list[dict]] = {}
    folder = Path(folder)
    if not folder.is_dir():
        raise EvaluationError(f"{folder}: not a folder")
    for lang in ("zh_CN", "en"):
        path = folder / f"{lang}.yaml"
        if not path.is_file():
            continue
        try:
            items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as e:
            raise EvaluationError(f"{path}: not valid YAML: {e}") from e
        if not isinstance(items, list):
            raise EvaluationError(f"{path}: expected a list of labelled lines")
        for i, it in enumerate(items):
            if not isinstance(it, dict) or not isinstance(it.get("text"), str):
                raise EvaluationError(f"{path}: item {i}: needs a text")
            bad = [m for m in it.get("moves") or [] if m not in ACTS]
            if bad:
                raise EvaluationError(f"{path}: item {it.get('id', i)}: unknown act(s) {bad}")
        out[lang] = items
    if not out:
        raise EvaluationError(f"{folder}: no zh_CN.yaml or en.yaml")
    return out


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def score(gold: list[set[str]], pred: list[set[str]], acts: tuple[str, ...] = ACTS) -> dict:
    """Per-act precision/recall/F1 and support, macro-F1 over the acts with support, exact-set accuracy."""
    per: dict[str, dict] = {}
    for act in acts:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if act in g and act in p)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if act not in g and act in p)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if act in g and act not in p)
        p, r, f = _prf(tp, fp, fn)
        per[act] = {"precision": p, "recall": r, "f1": f, "support": tp + fn, "predicted": tp + fp}
    supported = [a for a in acts if per[a]["support"]]
    macro = sum(per[a]["f1"] for a in supported) / len(supported) if supported else 0.0
    exact = sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(gold) if gold else 0.0
    return {"per_act": per, "macro_f1": macro, "exact": exact, "n": len(gold)}


BOOTSTRAP_RESAMPLES = 1000


def macro_f1_interval(
    gold: list[set[str]], pred: list[set[str]], level: float = 0.9, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """The ``level`` percentile interval of macro-F1 over ``resamples`` bootstrap resamples of the lines (seeded,
    so the same lines give the same interval): how far the figure could move on another set of lines written the
    same way. A set of a few hundred lines moves by several points; a change smaller than that is not shown."""
    if not gold:
        return 0.0, 0.0
    g = np.array([[a in s for a in ACTS] for s in gold])
    p = np.array([[a in s for a in ACTS] for s in pred])
    tp, fp, fn = (g & p).astype(np.int32), (~g & p).astype(np.int32), (g & ~p).astype(np.int32)
    rows = np.random.default_rng(seed).integers(0, len(gold), size=(resamples, len(gold)))
    counts = np.zeros((resamples, len(gold)), dtype=np.int32)
    np.add.at(counts, (np.arange(resamples)[:, None], rows), 1)  # how often each line is drawn in each resample
    t, f_p, f_n = counts @ tp, counts @ fp, counts @ fn  # (resamples, acts)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(2 * t + f_p + f_n > 0, 2 * t / (2 * t + f_p + f_n), 0.0)
    supported = (t + f_n) > 0  # macro over the acts that have gold lines in the resample, as ``score`` does
    macro = (f1 * supported).sum(axis=1) / np.maximum(supported.sum(axis=1), 1)
    lo, hi = np.quantile(macro, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def evaluate(reader_for, lines: dict[str, list[dict]], scenario_for=None) -> dict:
    """Read every line with its language's reader and score it: overall, per tag, and the confusions
    (gold act -> acts predicted instead, for the missed lines)."""
    report: dict[str, dict] = {}
    for lang, items in lines.items():
        reader = reader_for(lang)
        gold: list[set[str]] = []
        pred: list[set[str]] = []
        for it in items:
            scenario = scenario_for(it.get("scenario")) if scenario_for and it.get("scenario") else None
            reading = reader.read(it["text"], scenario, it.get("customer_before"))
            gold.append(set(it.get("moves") or []))
            pred.append(set(reading.performed()))  # the scenario's own forbidden phrases are judged per session
        overall = score(gold, pred)
        tags = sorted({t for it in items for t in it.get("tags") or []})
        by_tag = {}
        for tag in tags:
            idx = [i for i, it in enumerate(items) if tag in (it.get("tags") or [])]
            by_tag[tag] = score([gold[i] for i in idx], [pred[i] for i in idx])
        confusion: dict[str, Counter] = {}
        for g, p in zip(gold, pred, strict=True):
            for act in g - p:
                confusion.setdefault(act, Counter()).update(sorted(p - g) or ["(nothing)"])
            for act in p - g:
                confusion.setdefault(f"+{act}", Counter()).update(sorted(g - p) or ["(nothing missed)"])
        report[lang] = {
            **overall,
            "macro_f1_interval": macro_f1_interval(gold, pred),
            "by_tag": {t: s["macro_f1"] for t, s in by_tag.items()},
            "by_tag_n": {t: s["n"] for t, s in by_tag.items()},
            "confusion": {k: dict(v.most_common(5)) for k, v in sorted(confusion.items())},
            "errors": [
                {"id": it.get("id"), "text": it["text"], "gold": sorted(g), "pred": sorted(p)}
                for it, g, p in zip(items, gold, pred, strict=True)
                if g != p
            ],
        }
    return report


def summary_json(report: dict) -> dict:
    """The figures the issue asks for: {lang: {macro_f1, by_tag, n}}."""
    return {
        lang: {
            "macro_f1": round(r["macro_f1"], 4),
            "by_tag": {t: round(f, 4) for t, f in r["by_tag"].items()},
            "n": r["n"],
        }
        for lang, r in report.items()
    }


def format_report(report: dict, show_errors: bool = False) -> str:
    lines: list[str] = []
    for lang, r in report.items():
        lo, hi = r["macro_f1_interval"]
        lines.append(
            f"== {lang}: {r['n']} lines, macro-F1 {r['macro_f1']:.3f} (90% bootstrap interval {lo:.3f}-{hi:.3f}),"
            f" exact set {r['exact']:.3f}"
        )
        lines.append(f"{'act':24} {'P':>6} {'R':>6} {'F1':>6} {'gold':>5} {'pred':>5}")
        for act, s in r["per_act"].items():
            if s["support"] or s["predicted"]:
                figures = (
                    f"{s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f} {s['support']:5d} {s['predicted']:5d}"
                )
                lines.append(f"{act:24} {figures}")
        lines.append("by tag: " + ", ".join(f"{t} {f:.3f} (n={r['by_tag_n'][t]})" for t, f in r["by_tag"].items()))
        lines.append("confusions (missed act -> predicted instead; +extra act -> gold acts missed):")
        for k, v in r["confusion"].items():
            lines.append(f"  {k:26} " + ", ".join(f"{a} x{n}" for a, n in v.items()))
        if show_errors:
            for e in r["errors"]:
                lines.append(f"  {e['id']}: gold {e['gold']} pred {e['pred']}: {e['text']}")
    return "\n".join(lines)
