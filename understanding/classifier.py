"""The dialogue-act classifier: one logistic regression per act over the features of understanding.features.

Each act's decision threshold is chosen on out-of-fold probabilities of the training examples (best F1), so rare
acts are not drowned: 5-fold cross-validation repeated over ``THRESHOLD_REPEATS`` different splits, because one
split's thresholds jumped with a 2 % change of the examples and moved development lines of acts the change never
touched (bench/README.md, understanding). A language named in ``STACK_C`` has a second stage: each act's probability
re-read from every act's first-stage probability by a small logistic regression fitted on the out-of-fold
probabilities, so the model learns which acts go together and which exclude each other. Training is deterministic
for a seed (lbfgs, fixed folds). The trained model is saved as one ``.npz`` of arrays (no pickle): vocabularies, IDF
weights, coefficients, thresholds, the second stage, and the training examples' embeddings (the neighbour block and
the "nearest examples" evidence).
"""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
from scipy import sparse

from scenarios.schema import ACTS

from .examples import Example, examples_digest
from .features import (  # noqa: F401  (Prepared, prepare, lexicon_hits: the reader's and the bench's names)
    BLOCKS,
    FEATURE_VERSION,
    KNN_K,
    READABLE_VERSIONS,
    Prepared,
    build_features,
    knn_block,
    lexicon_block,
    lexicon_hits,
    prepare,
    vectoriser,
    view_of,
    vocab,
)

LEXICON_TRUST = 0.9
# Acts that fail a scorecard by themselves (forbidden language, private data) are thresholded for precision
# (F0.5 on the cross-validated examples): a wrong gate fails a trainee's exam, a missed one still costs the
# courtesy points.
GATE_ACTS = ("forbidden", "disclose_private")
GATE_BETA = 0.5
# The neighbour block's weight by language (understanding.features); a language not named has none.
KNN_WEIGHTS = {"en": 0.5, "zh_CN": 0.5}
# Out-of-fold probabilities for the thresholds come from this many 5-fold splits (seeds seed, seed+1, ...), pooled.
# Three splits held the development figures steady across seeds (en 0.863 / 0.864 for seeds 0 / 1, against 0.861 /
# 0.856 with one split); each split costs a full 5-fold fit of every act at training time.
THRESHOLD_REPEATS = 3
# The second stage by language: C of its logistic regressions over the first stage's logits (0: no second stage).
STACK_C: dict[str, float] = {}


class ActModel:
    """A trained classifier for one language (see the module docstring). Build with ``train`` or ``load``."""

    def __init__(self, lang: str, embedder_name: str, arrays: dict[str, np.ndarray], meta: dict):
        self.lang = lang
        self.embedder_name = embedder_name
        self.meta = meta
        self.acts: list[str] = list(meta["acts"])
        self.version: str = meta["version"]
        self._blocks = []
        for name, view, settings, _fit in BLOCKS:
            vec = vectoriser(settings, vocabulary=vocab(arrays[f"{name}_vocab"]))
            vec.idf_ = arrays[f"{name}_idf"]
            self._blocks.append((view, vec))
        self.coef = arrays["coef"].astype(np.float32)  # (acts, features)
        # x @ coef.T with the transpose laid out once: scipy copies a non-contiguous operand on every product,
        # which was a third of scoring a message.
        self.coef_t = np.ascontiguousarray(self.coef.T)
        self.intercept = arrays["intercept"].astype(np.float32)
        self.thresholds = arrays["thresholds"].astype(np.float32)
        self.lexicon_trust = arrays["lexicon_trust"].astype(np.float32)
        # A model without a second stage (trained before it, or STACK_C 0) has no stack arrays.
        self.stack_coef = arrays["stack_coef"].astype(np.float32) if "stack_coef" in arrays else None
        self.stack_intercept = arrays["stack_intercept"].astype(np.float32) if "stack_coef" in arrays else None
        self.example_vectors = arrays["example_vectors"].astype(np.float32)
        self.example_texts: list[str] = list(arrays["example_texts"])
        self.example_acts: list[list[str]] = json.loads(str(arrays["example_acts"]))
        self.knn_weight = float(meta.get("knn_weight", 0.0))
        self._example_y = np.array([[a in acts for a in ACTS] for acts in self.example_acts], dtype=np.float32)
        self._rows_by_act = {
            a: np.array([i for i, acts in enumerate(self.example_acts) if a in acts], dtype=np.int64) for a in ACTS
        }
        self.n_plain = len(arrays["plain_vocab"])  # the plain block comes first: its terms are the evidence
        self.plain_terms = np.asarray(arrays["plain_vocab"])

    # -- reading --------------------------------------------------------------------------------------------

    def neighbours(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The neighbour block (n, acts) of messages' embeddings and their similarities to every example (n,
        examples): one pass over the example vectors for a batch (the pass is most of the cost, however few the
        rows)."""
        sims = np.asarray(vectors, dtype=np.float32) @ self.example_vectors.T
        return knn_block(vectors, self.example_vectors, self._example_y, self.knn_weight, sims=sims), sims

    def features(
        self,
        prepared: list[Prepared],
        vectors: np.ndarray,
        lexicon,
        lex: np.ndarray | None = None,
        knn: np.ndarray | None = None,
    ) -> sparse.csr_matrix:
        """The feature rows of prepared messages; ``lex`` and ``knn`` when the caller has them already."""
        if knn is None:
            knn = self.neighbours(vectors)[0]
        return build_features(self._blocks, prepared, vectors, lexicon, lex=lex, knn=knn)

    def scores(self, x: sparse.csr_matrix) -> np.ndarray:
        """Probabilities (n, acts): the first stage's, re-read by the second stage when the model has one."""
        z = x @ self.coef_t + self.intercept
        probs = 1.0 / (1.0 + np.exp(-np.asarray(z)))
        if self.stack_coef is not None:
            probs = apply_stack(probs, self.stack_coef, self.stack_intercept)
        return probs

    def top_terms(self, x_row: sparse.csr_matrix, act_index: int, k: int = 3) -> list[str]:
        """The message's character n-grams that pushed most towards an act (evidence for graders)."""
        row = x_row.tocsr()
        cols = row.indices[row.indices < self.n_plain]
        vals = row.data[row.indices < self.n_plain]
        if not len(cols):
            return []
        contrib = vals * self.coef[act_index, cols]
        order = np.argsort(-contrib)
        terms: list[str] = []
        for i in order:
            if contrib[i] <= 0 or len(terms) >= k:
                break
            term = str(self.plain_terms[cols[i]]).strip()
            if len(term) >= 2 and not any(term in t or t in term for t in terms):
                terms.append(term)
        return terms

    def nearest(self, sims: np.ndarray, act: str, k: int = 2) -> list[str]:
        """The training examples closest to a message among those that perform ``act``, from the message's
        similarities to every example (``neighbours``)."""
        rows = self._rows_by_act.get(act)
        if rows is None or not len(rows):
            return []
        top = np.argsort(-sims[rows])[:k]
        return [self.example_texts[rows[i]] for i in top]

    # -- storage --------------------------------------------------------------------------------------------

    def dump(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(buf, **self._arrays, meta=np.array(json.dumps(self.meta, ensure_ascii=False)))
        return buf.getvalue()

    @classmethod
    def load(cls, blob: bytes) -> ActModel:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("meta")))
        if meta.get("feature_version") not in READABLE_VERSIONS:
            raise ValueError(
                f"the understanding model was trained with features v{meta.get('feature_version')}, this code reads"
                f" v{FEATURE_VERSION}: run `flask understanding train`"
            )
        model = cls(meta["lang"], meta["embedder"], arrays, meta)
        model._arrays = arrays
        return model


def fit_acts(
    prepared: list[Prepared],
    vectors: np.ndarray,
    y: np.ndarray,
    lexicon,
    lex: np.ndarray,
    idx: np.ndarray,
    c: float = 4.0,
    seed: int = 0,
    knn_weight: float = 0.0,
):
    """The text vectorisers and one logistic regression per act, fitted on the rows ``idx`` (training and the
    cross-validation both use it, so a measured change is the change shipped)."""
    from sklearn.linear_model import LogisticRegression

    blocks = []
    for _name, view, settings, fit_settings in BLOCKS:
        vec = vectoriser(settings, **fit_settings)
        try:
            vec.fit([view_of(prepared[i], view) for i in idx])
        except ValueError:  # no term survives min_df (a tiny training set): fit on everything
            vec = vectoriser(settings).fit([view_of(prepared[i], view) for i in idx] + ["x"])
        blocks.append((view, vec))
    knn = knn_block(vectors[idx], vectors[idx], y[idx], knn_weight, self_rows=True)
    x = build_features(blocks, [prepared[i] for i in idx], vectors[idx], lexicon, lex[idx], knn)
    coefs, inters = [], []
    for j in range(len(ACTS)):
        yj = y[idx, j]
        if yj.min() == yj.max():  # an act with no (or only) examples: a constant
            coefs.append(np.zeros(x.shape[1]))
            inters.append(-8.0 if yj.max() == 0 else 8.0)
            continue
        # lbfgs: deterministic, and ~20x faster than liblinear on these wide, partly dense rows.
        clf = LogisticRegression(C=c, class_weight="balanced", solver="lbfgs", max_iter=400, random_state=seed)
        clf.fit(x, yj)
        coefs.append(clf.coef_[0])
        inters.append(clf.intercept_[0])
    return blocks, np.vstack(coefs), np.array(inters)


def predict_rows(
    blocks, coef: np.ndarray, inter: np.ndarray, prepared, vectors, y, lexicon, lex, idx, train_idx, knn_weight=0.0
) -> np.ndarray:
    """Probabilities (len(idx), acts) for the rows ``idx`` of a fit on the rows ``train_idx``."""
    knn = knn_block(vectors[idx], vectors[train_idx], y[train_idx], knn_weight)
    x = build_features(blocks, [prepared[i] for i in idx], vectors[idx], lexicon, lex[idx], knn)
    return 1.0 / (1.0 + np.exp(-(np.asarray(x @ coef.T) + inter)))


def out_of_fold(prepared, vectors, y, lexicon, lex, idx, c=4.0, seed=0, knn_weight=0.0, n_splits=5) -> np.ndarray:
    """First-stage probabilities (len(idx), acts) of the rows ``idx``, each from a fit on the other folds of
    ``idx`` (thresholds and the second stage are fitted on these, never on a row's own fit)."""
    from sklearn.model_selection import KFold

    oof = np.zeros((len(idx), y.shape[1]), dtype=np.float32)
    for tr, te in KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(idx):
        blocks, coef, inter = fit_acts(prepared, vectors, y, lexicon, lex, idx[tr], c, seed, knn_weight)
        oof[te] = predict_rows(blocks, coef, inter, prepared, vectors, y, lexicon, lex, idx[te], idx[tr], knn_weight)
    return oof


def _logits(probs: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def fit_stack(oof: np.ndarray, y: np.ndarray, c: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The second stage: per act, a logistic regression over every act's first-stage logit (out-of-fold)."""
    from sklearn.linear_model import LogisticRegression

    z = _logits(oof)
    n = y.shape[1]
    coef, inter = np.zeros((n, n)), np.zeros(n)
    for j in range(n):
        yj = y[:, j]
        if yj.min() == yj.max():  # nothing to learn: keep the first stage's reading
            coef[j, j] = 1.0
            continue
        # No class weights: balanced ones (as the first stage has) over-read every act (bench/README.md).
        clf = LogisticRegression(C=c, solver="lbfgs", max_iter=1000, random_state=seed)
        clf.fit(z, yj)
        coef[j], inter[j] = clf.coef_[0], clf.intercept_[0]
    return coef, inter


def apply_stack(probs: np.ndarray, coef: np.ndarray, inter: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(_logits(probs) @ coef.T + inter)))


def stack_out_of_fold(oof: np.ndarray, y: np.ndarray, c: float, seed: int = 0) -> np.ndarray:
    """Second-stage probabilities of each row from a second stage fitted on the other folds' rows."""
    from sklearn.model_selection import KFold

    out = np.zeros(oof.shape, dtype=np.float32)
    for tr, te in KFold(n_splits=5, shuffle=True, random_state=seed).split(oof):
        coef, inter = fit_stack(oof[tr], y[tr], c, seed)
        out[te] = apply_stack(oof[te], coef, inter)
    return out


def train(
    examples: list[Example], lang: str, embedder, lexicon, seed: int = 0, c: float = 4.0, stack_c: float | None = None
) -> ActModel:
    """Fit the classifier on a pack's examples (deterministic for ``seed``); thresholds by 5-fold CV. ``stack_c``:
    the second stage's C (default: the language's ``STACK_C``; 0 for none)."""
    if len(examples) < 20:
        raise ValueError(f"{len(examples)} examples for {lang}: a classifier needs at least 20")
    prepared = [prepare(e.text, lang, e.before) for e in examples]
    vectors = embedder.encode([p.text for p in prepared])
    y = np.array([[1 if a in e.acts else 0 for a in ACTS] for e in examples], dtype=np.int8)
    lex_all = lexicon_block(prepared, lexicon)  # the lexicon is read once, not once per fold
    knn_weight = KNN_WEIGHTS.get(lang, 0.0)

    stack_c = STACK_C.get(lang, 0.0) if stack_c is None else stack_c
    everything = np.arange(len(examples))

    # Thresholds (and the second stage) from out-of-fold probabilities.
    # The first split's also fit the second stage; every split's (second-stage re-read, if any) pick thresholds.
    oofs, stack = [], None
    for r in range(THRESHOLD_REPEATS):
        oof = out_of_fold(prepared, vectors, y, lexicon, lex_all, everything, c, seed + r, knn_weight)
        if stack_c:
            if stack is None:
                stack = fit_stack(oof, y, stack_c, seed)
            oof = stack_out_of_fold(oof, y, stack_c, seed + r)
        oofs.append(oof)
    oof, y_oof = np.concatenate(oofs), np.concatenate([y] * len(oofs))
    thresholds = np.array(
        [_best_threshold(oof[:, j], y_oof[:, j], GATE_BETA if a in GATE_ACTS else 1.0) for j, a in enumerate(ACTS)],
        dtype=np.float32,
    )

    blocks, coef, inter = fit_acts(prepared, vectors, y, lexicon, lex_all, everything, c, seed, knn_weight)
    digest = examples_digest(examples)
    # The lexicon as a high-precision signal: an act whose lexicon hits were right on at least LEXICON_TRUST of
    # the training examples that hit it (and on at least 5) is credited on a hit even when the model is unsure.
    hits = lex_all[:, : len(ACTS)] > 0
    trust = np.zeros(len(ACTS), dtype=np.float32)
    for j in range(len(ACTS)):
        n = int(hits[:, j].sum())
        if n >= 5:
            precision = float((y[hits[:, j], j] == 1).mean())
            trust[j] = precision if precision >= LEXICON_TRUST else 0.0
    meta = {
        "lang": lang,
        "embedder": embedder.name,
        "acts": list(ACTS),
        "feature_version": FEATURE_VERSION,
        "examples": len(examples),
        "examples_digest": digest,
        "lexicon_digest": lexicon.digest() if lexicon is not None else None,
        "seed": seed,
        "c": c,
        "knn_weight": knn_weight,
        "stack_c": stack_c,
        "threshold_splits": THRESHOLD_REPEATS,
        "cv_f1": {a: round(_f1(oof[:, j] >= thresholds[j], y_oof[:, j]), 4) for j, a in enumerate(ACTS)},
    }
    rule = f"gate-beta={GATE_BETA}:{','.join(GATE_ACTS)}|knn={KNN_K}x{knn_weight}"  # these decide readings too
    if THRESHOLD_REPEATS != 1:
        rule += f"|splits={THRESHOLD_REPEATS}"
    if stack_c:
        rule += f"|stack={stack_c}"
    meta["version"] = hashlib.sha256(
        f"{digest}|{meta['lexicon_digest']}|{embedder.name}|{FEATURE_VERSION}|{seed}|{c}|{rule}".encode()
    ).hexdigest()[:12]
    arrays = {}
    for (name, *_rest), (_view_name, vec) in zip(BLOCKS, blocks, strict=True):
        arrays[f"{name}_vocab"] = np.array(sorted(vec.vocabulary_, key=vec.vocabulary_.get))
        arrays[f"{name}_idf"] = vec.idf_.astype(np.float32)
    arrays |= {
        "coef": coef.astype(np.float32),
        "intercept": inter.astype(np.float32),
        "thresholds": thresholds,
        "lexicon_trust": trust,
        "example_vectors": vectors.astype(np.float16),
        "example_texts": np.array([e.text for e in examples]),
        "example_acts": np.array(json.dumps([e.acts for e in examples], ensure_ascii=False)),
    }
    if stack is not None:
        arrays |= {"stack_coef": stack[0].astype(np.float32), "stack_intercept": stack[1].astype(np.float32)}
    model = ActModel(lang, embedder.name, arrays, meta)
    model._arrays = arrays
    return model


def _f1(pred: np.ndarray, gold: np.ndarray) -> float:
    return _fbeta(pred, gold, 1.0)


def _fbeta(pred: np.ndarray, gold: np.ndarray, beta: float) -> float:
    tp = float(np.sum(pred & (gold == 1)))
    fp = float(np.sum(pred & (gold == 0)))
    fn = float(np.sum(~pred & (gold == 1)))
    b2 = beta * beta
    return 0.0 if tp == 0 else (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp)


def _best_threshold(prob: np.ndarray, gold: np.ndarray, beta: float = 1.0) -> float:
    if gold.sum() == 0:
        return 0.5
    grid = np.arange(0.2, 0.81, 0.025)
    scores = [_fbeta(prob >= t, gold, beta) for t in grid]
    best = max(scores)
    # The middle of the best plateau: a threshold on the plateau's edge overfits the folds.
    at = [t for t, s in zip(grid, scores, strict=True) if s >= best - 1e-9]
    return float(at[len(at) // 2])
