"""The features the dialogue-act classifier reads (understanding.classifier fits and applies the model).

Five blocks, side by side in one sparse row per message:

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
   and 0.25 less). On the development lines en rose 0.836 -> 0.853 with it. zh_CN uses it since the
   condescension examples (issue 12): CV on the older zh_CN examples 0.832 -> 0.841, development 0.865 ->
   0.869 (understanding.classifier.KNN_WEIGHTS; bench/README.md).

The customer's previous message is not a feature. Version 3 had two flags (the customer asked something; there
was a previous message): only ~4% of the pack examples carry a previous message, but in use every agent line
has one, so the flags taught "after a question, anything is an answer". In a 5-fold cross-validation on the
pack examples, reading the held-out lines after a customer question dropped macro-F1 from 0.850 to 0.819 (en;
`answer` F1 0.79 -> 0.67) and 0.817 -> 0.786 (zh_CN); without the flags it is 0.851 / 0.817 with or without
the question (issue 11, bench/README.md).

The text blocks (``BLOCKS``) are fitted on the training examples (vocabularies, IDF weights); the neighbour block
reads the training examples' embeddings and acts. Changing any block changes ``FEATURE_VERSION``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from scenarios.schema import ACTS

from .text import Views, negation_views, normalise

FEATURE_VERSION = 6  # bump when the features change: older models are then refused
# v6 spells out more chat abbreviations (understanding.text.ABBREVIATIONS): a v5 model was trained on text spelled
# otherwise, so it would read differently under its own version, and a regrade would not give the same result.
READABLE_VERSIONS = (6,)
EMBED_WEIGHT = 1.6  # the embedding block's scale against the TF-IDF blocks (chosen by cross-validation)
LEXICON_WEIGHT = 1.0
# The neighbour block: for each act, the share of the KNN_K training examples nearest in the embedding space that
# perform it (a training example is not its own neighbour). 0 leaves the block out.
KNN_K = 5


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


def vectoriser(settings: dict, **kw):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(sublinear_tf=True, lowercase=False, **settings, **kw)


_WHITE = re.compile(r"\s\s+")


def transform(vec, texts: list[str]) -> sparse.csr_matrix:
    """``vec.transform(texts)`` for a fitted TfidfVectorizer (sublinear tf, l2 norm), computed directly: the
    same numbers (a test checks), without sklearn's per-call validation, which cost ~3 ms a message."""
    vocab = vec.vocabulary_
    idf = vec.idf_
    analyzer = vec.analyzer
    lo, hi = vec.ngram_range
    cols, vals = [], []
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
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
        indptr[r + 1] = indptr[r] + len(counts)
        if not counts:
            continue
        idx = np.fromiter(counts, dtype=np.int64, count=len(counts))
        w = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[idx]
        w /= np.sqrt(np.dot(w, w))
        order = np.argsort(idx)  # canonical CSR: columns in order, as the COO conversion before left them
        idx, w = idx[order], w[order]
        cols.append(idx)
        vals.append(w)
    if not cols:
        return sparse.csr_matrix((len(texts), len(vocab)))
    # Built row by row as CSR (no COO conversion: a third of the cost of a one-line transform).
    return sparse.csr_matrix((np.concatenate(vals), np.concatenate(cols), indptr), shape=(len(texts), len(vocab)))


def view_of(prepared: Prepared, view: str) -> str:
    return (prepared.views.plain if view == "plain" else prepared.views.negated) or " "


def vocab(terms: np.ndarray) -> dict[str, int]:
    return {str(t): i for i, t in enumerate(terms)}


def lexicon_block(prepared: list[Prepared], lexicon) -> np.ndarray:
    return lexicon_rows([lexicon_hits(lexicon, p) for p in prepared])


def lexicon_rows(hits: list[dict[str, str]]) -> np.ndarray:
    """The lexicon block of messages whose ``lexicon_hits`` are known."""
    lex = np.zeros((len(hits), len(ACTS)), dtype=np.float32)
    for i, acts in enumerate(hits):
        for act in acts:
            lex[i, ACTS.index(act)] = LEXICON_WEIGHT
    return lex


def knn_block(
    vectors: np.ndarray,
    ref_vectors: np.ndarray,
    ref_y: np.ndarray,
    weight: float,
    self_rows: bool = False,
    sims: np.ndarray | None = None,
) -> np.ndarray:
    """(n, acts): the share of each row's KNN_K nearest reference examples that perform each act, times
    ``weight`` (no columns when the weight is 0). ``self_rows``: the rows are the references themselves;
    ``sims``: the rows' similarities to the references when the caller has them."""
    if not weight:
        return np.zeros((len(vectors), 0), dtype=np.float32)
    if sims is None:
        sims = np.asarray(vectors, dtype=np.float32) @ np.asarray(ref_vectors, dtype=np.float32).T
    if self_rows:
        np.fill_diagonal(sims, -np.inf)
    k = max(1, min(KNN_K, sims.shape[1] - (1 if self_rows else 0)))
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return (np.asarray(ref_y, dtype=np.float32)[top].mean(axis=1) * weight).astype(np.float32)


def build_features(
    blocks,
    prepared: list[Prepared],
    vectors: np.ndarray,
    lexicon,
    lex: np.ndarray | None = None,
    knn: np.ndarray | None = None,
) -> sparse.csr_matrix:
    texts = [transform(vec, [view_of(p, view) for p in prepared]) for view, vec in blocks]
    if lex is None:
        lex = lexicon_block(prepared, lexicon)
    if knn is None:
        knn = np.zeros((len(prepared), 0), dtype=np.float32)
    dense = sparse.csr_matrix(np.hstack([vectors * EMBED_WEIGHT, lex, knn]))
    return sparse.hstack([*texts, dense], format="csr")
