"""The dialogue-act classifier: one logistic regression per act over five kinds of features.

1. the sentence embedding of the whole message (understanding.embedding: paraphrase, other registers, both
   languages in one space);
2. character n-grams (TF-IDF, 1-3) of the message's *plain* view: what it says outside negation scopes (typos
   and unseen words still share most of their n-grams);
3. character n-grams (1-3) of its *negated* view, as separate features, so "无法补偿" teaches something other than
   "补偿" (understanding.text);
4. the pack lexicon's hits (one 0/1 feature per act; hits inside a negation scope do not count, except for the
   forbidden and dismissal lexicons whose phrases contain their own negation);
5. the neighbours' acts: for each act, the share of the message's 5 nearest training examples (embedding cosine)
   that perform it; a training example is not its own neighbour. A linear model over the embedding draws one
   plane per act; the neighbours let a tight cluster of examples (talking down to a customer, a sign-off naming
   the next call) count where the plane cuts through it. In the 5-fold cross-validation on the pack examples
   (bench/understanding_cv.py) weight 0.5 raised macro-F1 en 0.848 -> 0.861, zh_CN 0.838 -> 0.846 (1.0, 2.0
   and 0.25 less). On the development lines en rose 0.836 -> 0.853 with it; zh_CN fell with the new zh_CN
   examples with or without it (0.865 -> 0.848 / 0.850), so the zh_CN model is still the v4 one and the block
   is used for English only (KNN_WEIGHTS; issue 12, bench/README.md).

The customer's previous message is not a feature. Version 3 had two flags (the customer asked something; there
was a previous message): only ~4% of the pack examples carry a previous message, but in use every agent line
has one, so the flags taught "after a question, anything is an answer". In a 5-fold cross-validation on the
pack examples, reading the held-out lines after a customer question dropped macro-F1 from 0.850 to 0.819 (en;
`answer` F1 0.79 -> 0.67) and 0.817 -> 0.786 (zh_CN); without the flags it is 0.851 / 0.817 with or without
the question (issue 11, bench/README.md).

Each act's decision threshold is chosen by 5-fold cross-validation on the training examples (best F1), so rare
acts are not drowned. Training is deterministic for a seed (lbfgs, fixed folds). The trained model is saved
as one ``.npz`` of arrays (no pickle): vocabularies, IDF weights, coefficients, thresholds, and the training
examples' embeddings for the "nearest examples" evidence.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from scenarios.schema import ACTS

from .examples import Example, examples_digest
from .text import Views, negation_views, normalise

FEATURE_VERSION = 5  # bump when the features change: older models are then refused
READABLE_VERSIONS = (4, 5)  # a v4 model is a v5 model without the neighbour block (its meta has no knn_weight)
EMBED_WEIGHT = 1.6  # the embedding block's scale against the TF-IDF blocks (chosen by cross-validation)
LEXICON_WEIGHT = 1.0
LEXICON_TRUST = 0.9
# Acts that fail a scorecard by themselves (forbidden language, private data) are thresholded for precision
# (F0.5 on the cross-validated examples): a wrong gate fails a trainee's exam, a missed one still costs the
# courtesy points.
GATE_ACTS = ("forbidden", "disclose_private")
GATE_BETA = 0.5
# The neighbour block: for each act, the share of the KNN_K training examples nearest in the embedding space that
# perform it (a training example is not its own neighbour). 0 leaves the block out.
KNN_K = 5
KNN_WEIGHTS = {"en": 0.5}  # by language; zh_CN has none (see the module docstring)


@dataclass
class Prepared:
    """One message ready for the classifier."""

    text: str  # normalised
    views: Views
    before: str


def prepare(text: str, lang: str, before: str | None = None) -> Prepared:
    norm = normalise(text, lang)
    return Prepared(norm, negation_views(norm), normalise(before or "", lang))


def lexicon_hits(lexicon, prepared: Prepared) -> dict[str, str]:
    """Act -> the lexicon phrase that shows it. Hits in negation scopes are dropped (see the module docstring)."""
    if lexicon is None or not prepared.text:
        return {}
    full = lexicon.evidence(prepared.text)
    plain = lexicon.evidence(prepared.views.plain) if prepared.views.scopes else full
    return {act: phrase for act, phrase in full.items() if act in ("forbidden", "dismissal") or act in plain}


def words(text: str) -> list[str]:
    """Word unigrams and bigrams: jieba words for Chinese, lower-case words for English (one analyser for mixed
    text); the word block of the features."""
    from .lexicon import tokenize

    toks = [t for t in tokenize(text) if t != "\x1e"]
    return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False)]


# The text blocks of the features: (name, view, analyser settings, fitting settings). Changing them changes
# FEATURE_VERSION.
BLOCKS = (
    ("plain", "plain", {"analyzer": "char", "ngram_range": (1, 3)}, {"min_df": 2, "max_features": 20000}),
    ("neg", "negated", {"analyzer": "char", "ngram_range": (1, 3)}, {"min_df": 1}),
    ("words", "plain", {"analyzer": words}, {"min_df": 2, "max_features": 20000}),
)


def _vectoriser(settings: dict, **kw):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(sublinear_tf=True, lowercase=False, **settings, **kw)


_WHITE = re.compile(r"\s\s+")


def _transform(vec, texts: list[str]) -> sparse.csr_matrix:
    """``vec.transform(texts)`` for a fitted TfidfVectorizer (sublinear tf, l2 norm), computed directly: the
    same numbers (a test checks), without sklearn's per-call validation, which cost ~3 ms a message."""
    vocab = vec.vocabulary_
    idf = vec.idf_
    analyzer = vec.analyzer
    lo, hi = vec.ngram_range
    rows, cols, vals = [], [], []
    for r, text in enumerate(texts):
        if callable(analyzer):
            grams = analyzer(text)
        else:
            text = _WHITE.sub(" ", text)
            grams = [text[i : i + n] for n in range(lo, hi + 1) for i in range(len(text) - n + 1)]
        counts: dict[int, int] = {}
        for g in grams:
            j = vocab.get(g)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            continue
        idx = np.fromiter(counts, dtype=np.int64, count=len(counts))
        w = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[idx]
        w /= np.sqrt(np.dot(w, w))
        rows.append(np.full(len(idx), r))
        cols.append(idx)
        vals.append(w)
    if not rows:
        return sparse.csr_matrix((len(texts), len(vocab)))
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(texts), len(vocab))
    )


def _view(prepared: Prepared, view: str) -> str:
    return (prepared.views.plain if view == "plain" else prepared.views.negated) or " "


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
            vec = _vectoriser(settings, vocabulary=_vocab(arrays[f"{name}_vocab"]))
            vec.idf_ = arrays[f"{name}_idf"]
            self._blocks.append((view, vec))
        self.coef = arrays["coef"].astype(np.float32)  # (acts, features)
        self.intercept = arrays["intercept"].astype(np.float32)
        self.thresholds = arrays["thresholds"].astype(np.float32)
        self.lexicon_trust = arrays["lexicon_trust"].astype(np.float32)
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

    def features(self, prepared: list[Prepared], vectors: np.ndarray, lexicon) -> sparse.csr_matrix:
        knn = _knn_block(vectors, self.example_vectors, self._example_y, self.knn_weight)
        return _features(self._blocks, prepared, vectors, lexicon, knn=knn)

    def scores(self, x: sparse.csr_matrix) -> np.ndarray:
        """Probabilities (n, acts)."""
        z = x @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-np.asarray(z)))

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

    def nearest(self, vector: np.ndarray, act: str, k: int = 2) -> list[str]:
        """The training examples closest to a message among those that perform ``act``."""
        rows = self._rows_by_act.get(act)
        if rows is None or not len(rows):
            return []
        sims = self.example_vectors[rows] @ vector
        top = np.argsort(-sims)[:k]
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


def _vocab(terms: np.ndarray) -> dict[str, int]:
    return {str(t): i for i, t in enumerate(terms)}


def _lexicon_block(prepared: list[Prepared], lexicon) -> np.ndarray:
    lex = np.zeros((len(prepared), len(ACTS)), dtype=np.float32)
    for i, p in enumerate(prepared):
        for act in lexicon_hits(lexicon, p):
            lex[i, ACTS.index(act)] = LEXICON_WEIGHT
    return lex


def _knn_block(
    vectors: np.ndarray, ref_vectors: np.ndarray, ref_y: np.ndarray, weight: float, self_rows: bool = False
) -> np.ndarray:
    """(n, acts): the share of each row's KNN_K nearest reference examples that perform each act, times
    ``weight`` (no columns when the weight is 0). ``self_rows``: the rows are the references themselves."""
    if not weight:
        return np.zeros((len(vectors), 0), dtype=np.float32)
    sims = np.asarray(vectors, dtype=np.float32) @ np.asarray(ref_vectors, dtype=np.float32).T
    if self_rows:
        np.fill_diagonal(sims, -np.inf)
    k = max(1, min(KNN_K, sims.shape[1] - (1 if self_rows else 0)))
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return (np.asarray(ref_y, dtype=np.float32)[top].mean(axis=1) * weight).astype(np.float32)


def _features(
    blocks,
    prepared: list[Prepared],
    vectors: np.ndarray,
    lexicon,
    lex: np.ndarray | None = None,
    knn: np.ndarray | None = None,
) -> sparse.csr_matrix:
    texts = [_transform(vec, [_view(p, view) for p in prepared]) for view, vec in blocks]
    if lex is None:
        lex = _lexicon_block(prepared, lexicon)
    if knn is None:
        knn = np.zeros((len(prepared), 0), dtype=np.float32)
    dense = sparse.csr_matrix(np.hstack([vectors * EMBED_WEIGHT, lex, knn]))
    return sparse.hstack([*texts, dense], format="csr")


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
        vec = _vectoriser(settings, **fit_settings)
        try:
            vec.fit([_view(prepared[i], view) for i in idx])
        except ValueError:  # no term survives min_df (a tiny training set): fit on everything
            vec = _vectoriser(settings).fit([_view(prepared[i], view) for i in idx] + ["x"])
        blocks.append((view, vec))
    knn = _knn_block(vectors[idx], vectors[idx], y[idx], knn_weight, self_rows=True)
    x = _features(blocks, [prepared[i] for i in idx], vectors[idx], lexicon, lex[idx], knn)
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
    knn = _knn_block(vectors[idx], vectors[train_idx], y[train_idx], knn_weight)
    x = _features(blocks, [prepared[i] for i in idx], vectors[idx], lexicon, lex[idx], knn)
    return 1.0 / (1.0 + np.exp(-(np.asarray(x @ coef.T) + inter)))


def train(examples: list[Example], lang: str, embedder, lexicon, seed: int = 0, c: float = 4.0) -> ActModel:
    """Fit the classifier on a pack's examples (deterministic for ``seed``); thresholds by 5-fold CV."""
    from sklearn.model_selection import KFold

    if len(examples) < 20:
        raise ValueError(f"{len(examples)} examples for {lang}: a classifier needs at least 20")
    prepared = [prepare(e.text, lang, e.before) for e in examples]
    vectors = embedder.encode([p.text for p in prepared])
    y = np.array([[1 if a in e.acts else 0 for a in ACTS] for e in examples], dtype=np.int8)
    lex_all = _lexicon_block(prepared, lexicon)  # the lexicon is read once, not once per fold
    knn_weight = KNN_WEIGHTS.get(lang, 0.0)

    def fit(idx: np.ndarray):
        return fit_acts(prepared, vectors, y, lexicon, lex_all, idx, c, seed, knn_weight)

    # Thresholds from out-of-fold probabilities.
    oof = np.zeros(y.shape, dtype=np.float32)
    folds = KFold(n_splits=5, shuffle=True, random_state=seed)
    for tr, te in folds.split(np.arange(len(examples))):
        blocks, coef, inter = fit(tr)
        oof[te] = predict_rows(blocks, coef, inter, prepared, vectors, y, lexicon, lex_all, te, tr, knn_weight)
    thresholds = np.array(
        [_best_threshold(oof[:, j], y[:, j], GATE_BETA if a in GATE_ACTS else 1.0) for j, a in enumerate(ACTS)],
        dtype=np.float32,
    )

    blocks, coef, inter = fit(np.arange(len(examples)))
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
        "seed": seed,
        "c": c,
        "knn_weight": knn_weight,
        "cv_f1": {a: round(_f1(oof[:, j] >= thresholds[j], y[:, j]), 4) for j, a in enumerate(ACTS)},
    }
    rule = f"gate-beta={GATE_BETA}:{','.join(GATE_ACTS)}|knn={KNN_K}x{knn_weight}"  # these decide readings too
    meta["version"] = hashlib.sha256(
        f"{digest}|{embedder.name}|{FEATURE_VERSION}|{seed}|{c}|{rule}".encode()
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
