"""Cross-validated recognition on a pack's own examples: compare example or model changes without held-out lines.

5 folds over the scored examples; each fold's model is fitted exactly as ``flask understanding train`` fits one
(``understanding.classifier.fit_acts``), and each act's threshold for a fold is chosen on the out-of-fold
probabilities of the *other* folds (F1, or F0.5 for the gate acts, as training does), so no scored line picks its
own threshold. The classifier alone: the reader's sentence, lexicon-trust and refusal rules are not applied.

    .venv/bin/python bench/understanding_cv.py --lang en [--train-only boundaries.yaml] [--errors forbidden]

``--suspects FILE`` writes the examples a confident out-of-fold reading contradicts, for review by hand.
``--pack`` reads another copy of the pack (one with a candidate example file: a pack whose examples differ from
its model's fails to load, so a candidate never sits in the shipped one). ``--exclude`` leaves example files out
(glob on the file name: the baseline before a new file); ``--train-only`` names files whose lines are in every
training fold but never scored, so a new file is measured by what it does to the examples that were there before
it. ``--stack C`` (repeatable) adds the classifier's second stage with that C,
fitted inside each fold on the fold's own out-of-fold probabilities (five more fits a fold); the first stage alone
is printed beside it from the same folds.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def load_with_files(pack_dir: Path, lang: str):
    """(example, file name) pairs, duplicates dropped as ``load_examples`` drops them."""
    import yaml

    from understanding.examples import ExampleFile

    out, seen = [], set()
    for path in sorted((pack_dir / "understanding").glob("*.yaml")):
        parsed = ExampleFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        for ex in parsed.examples:
            if ex.text not in seen:
                seen.add(ex.text)
                out.append((ex, path.name))
    return out


def encode_cached(embedder, texts: list[str], lang: str) -> np.ndarray:
    """Embeddings, cached by text under /tmp (the embedder is deterministic)."""
    cache = Path(f"/tmp/understanding_cv_{embedder.name.replace('/', '_')}_{lang}.npz")
    known: dict[str, np.ndarray] = {}
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            known = dict(zip(z["keys"].tolist(), z["vecs"], strict=True))
    keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    missing = [i for i, k in enumerate(keys) if k not in known]
    if missing:
        vecs = embedder.encode([texts[i] for i in missing])
        for i, v in zip(missing, vecs, strict=True):
            known[keys[i]] = v
        np.savez(cache, keys=np.array(list(known)), vecs=np.stack(list(known.values())))
    return np.stack([known[k] for k in keys]).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lang", required=True)
    ap.add_argument("--train-only", action="append", default=[], help="file-name glob: train on, never score")
    ap.add_argument("--exclude", action="append", default=[], help="file-name glob: leave out altogether")
    ap.add_argument("--pack", type=Path, default=None, help="a pack folder (default: the shipped pack of --lang)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--c", type=float, default=4.0)
    ap.add_argument("--knn", type=float, default=None, help="the neighbour block's weight (default: as shipped)")
    ap.add_argument(
        "--stack",
        type=float,
        action="append",
        default=None,
        help="the second stage's C, 0 for none (default: as shipped); repeat to compare several in one run",
    )
    ap.add_argument("--errors", action="append", default=[], help="list the scored lines an act is wrong on")
    ap.add_argument(
        "--suspects",
        type=Path,
        default=None,
        help="write the examples whose label the other folds contradict most (for review against the definitions)",
    )
    args = ap.parse_args()

    from sklearn.model_selection import KFold

    from scenarios.loader import load_pack
    from scenarios.schema import ACTS
    from understanding import classifier as clf
    from understanding import features as feat
    from understanding.embedding import get_embedder
    from understanding.lexicon import MoveRecogniser

    t0 = time.perf_counter()
    knn = args.knn if args.knn is not None else clf.KNN_WEIGHTS.get(args.lang, 0.0)
    stack_cs = [c for c in (args.stack if args.stack is not None else [clf.STACK_C.get(args.lang, 0.0)]) if c]
    pack = load_pack(args.pack or ROOT / "scenarios" / "packs" / args.lang)
    pairs = [
        (e, f) for e, f in load_with_files(pack.path, args.lang) if not any(fnmatch.fnmatch(f, g) for g in args.exclude)
    ]
    examples = [e for e, _f in pairs]
    train_only = np.array([any(fnmatch.fnmatch(f, g) for g in args.train_only) for _e, f in pairs])
    lexicon = MoveRecogniser(pack.info)
    prepared = [feat.prepare(e.text, args.lang, e.before) for e in examples]
    vectors = encode_cached(get_embedder("use"), [p.text for p in prepared], args.lang)
    y = np.array([[1 if a in e.acts else 0 for a in ACTS] for e in examples], dtype=np.int8)
    lex = feat.lexicon_block(prepared, lexicon)

    scored = np.flatnonzero(~train_only)
    always = np.flatnonzero(train_only)
    first = np.zeros(y.shape, dtype=np.float32)  # the first stage's out-of-fold probabilities
    second = {c: np.zeros(y.shape, dtype=np.float32) for c in stack_cs}  # the second stage's, per C
    fold_of = np.full(len(examples), -1)
    folds = KFold(n_splits=5, shuffle=True, random_state=args.seed)
    for k, (tr, te) in enumerate(folds.split(scored)):
        idx = np.concatenate([scored[tr], always])
        blocks, coef, inter = clf.fit_acts(prepared, vectors, y, lexicon, lex, idx, args.c, args.seed, knn)
        first[scored[te]] = clf.predict_rows(
            blocks, coef, inter, prepared, vectors, y, lexicon, lex, scored[te], idx, knn
        )
        if stack_cs:
            # Nested, as training does it: the second stage is fitted on out-of-fold probabilities of this
            # fold's training rows only, then re-reads the held-out rows' first-stage probabilities.
            inner = clf.out_of_fold(prepared, vectors, y, lexicon, lex, idx, args.c, args.seed, knn)
            for c, out in second.items():
                s_coef, s_inter = clf.fit_stack(inner, y[idx], c, args.seed)
                out[scored[te]] = clf.apply_stack(first[scored[te]], s_coef, s_inter)
        fold_of[scored[te]] = k

    def predict(probs: np.ndarray) -> np.ndarray:
        pred = np.zeros(y.shape, dtype=bool)
        for k in range(5):
            te = scored[fold_of[scored] == k]
            rest = scored[fold_of[scored] != k]
            for j, act in enumerate(ACTS):
                beta = clf.GATE_BETA if act in clf.GATE_ACTS else 1.0
                t = clf._best_threshold(probs[rest, j], y[rest, j], beta)
                pred[te, j] = probs[te, j] >= t
        return pred

    def macro(pred: np.ndarray, table: bool) -> tuple[float, float]:
        ys, ps = y[scored], pred[scored]
        f1 = {}
        if table:
            print(f"{'act':24} {'P':>6} {'R':>6} {'F1':>6} {'gold':>5}")
        for j, act in enumerate(ACTS):
            tp = int(np.sum(ps[:, j] & (ys[:, j] == 1)))
            fp = int(np.sum(ps[:, j] & (ys[:, j] == 0)))
            fn = int(np.sum(~ps[:, j] & (ys[:, j] == 1)))
            prec = tp / (tp + fp) if tp + fp else 0.0
            rec = tp / (tp + fn) if tp + fn else 0.0
            f1[act] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
            if table:
                print(f"{act:24} {prec:6.3f} {rec:6.3f} {f1[act]:6.3f} {tp + fn:5d}")
        return float(np.mean(list(f1.values()))), float(np.mean(np.all(ps == (ys == 1), axis=1)))

    print(
        f"{args.lang}: {len(scored)} scored examples, {len(always)} train-only; seed {args.seed}, C {args.c},"
        f" knn {knn}, stack {stack_cs or 'none'}"
    )
    oof = second[stack_cs[0]] if stack_cs else first  # the table and --errors: the first C given (or none)
    pred = predict(oof)
    m, exact = macro(pred, True)
    print(f"macro-F1 {m:.4f}  exact set {exact:.4f}  ({time.perf_counter() - t0:.0f} s)")
    if stack_cs:
        for c, out in [(0.0, first)] + list(second.items())[1:]:
            mc, ec = macro(predict(out), False)
            print(f"  {'first stage alone' if not c else f'second stage C {c}'}: macro-F1 {mc:.4f}  exact set {ec:.4f}")
    for act in args.errors:
        j = ACTS.index(act)
        for i in scored:
            if pred[i, j] != (y[i, j] == 1):
                got = [a for jj, a in enumerate(ACTS) if pred[i, jj]]
                print(
                    f"  {'MISS' if y[i, j] else 'FALSE'} {act} {oof[i, j]:.2f} {pairs[i][1]}: {examples[i].text}"
                    f"  gold {examples[i].acts} pred {got}"
                )
    if args.suspects:
        write_suspects(args.suspects, pairs, scored, y, oof, ACTS)


def write_suspects(path: Path, pairs, scored, y: np.ndarray, oof: np.ndarray, acts) -> None:
    """Examples a confident out-of-fold reading contradicts (a label set at < 0.15, or one left off at > 0.85).

    A list to review by hand against the act definitions: label noise in the packs is one source of errors
    that more examples cannot fix. The reading only points at a line; the definitions decide its label.
    """
    import yaml

    rows = []
    for i in scored:
        dropped = {a: round(float(oof[i, j]), 2) for j, a in enumerate(acts) if y[i, j] and oof[i, j] < 0.15}
        added = {a: round(float(oof[i, j]), 2) for j, a in enumerate(acts) if not y[i, j] and oof[i, j] > 0.85}
        if dropped or added:
            ex, name = pairs[i]
            row = {"file": name, "text": ex.text, "acts": list(ex.acts)}
            if ex.before:
                row["before"] = ex.before
            row["model_doubts"] = dropped
            row["model_adds"] = added
            rows.append(row)
    rows.sort(key=lambda r: (r["file"], r["text"]))
    path.write_text(yaml.safe_dump(rows, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
    print(f"{len(rows)} suspect examples written to {path}")


if __name__ == "__main__":
    main()
