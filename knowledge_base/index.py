"""An in-memory inverted index per language, ranked with BM25F (title and tags weigh more than body).

Each posting holds a document's saturated term weight, computed when the document is added, so a query
costs one pass over the postings of its own terms and never touches the other documents. The weights
depend on the average field lengths; when those drift by more than ``REWEIGHT_DRIFT`` from the averages
the weights were computed with, every posting is reweighted from the stored term counts (no re-cutting).

Thread safety: one lock per index guards the postings and documents. Tokenising happens outside it
(``prepare_doc``), so a writer holds the lock only for dictionary updates, and readers only for scoring.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter

from .text import WordIndex, terms, word_index

# Field order everywhere: title, tags, body.
FIELD_WEIGHTS = (3.0, 2.5, 1.0)
FIELD_B = (0.5, 0.3, 0.75)  # length normalisation per field; tags lists are short and similar in length
K1 = 1.2
REWEIGHT_DRIFT = 0.10


@dataclass(frozen=True)
class Doc:
    """One published article as the index sees it (immutable: readers may hold it after the lock is gone)."""

    article_id: int
    lang: str
    slug: str
    title: str
    category: str
    body: str
    tags: tuple[str, ...]
    version: int
    updated_at: float
    lens: tuple[int, int, int]
    flat_body: str = field(repr=False, compare=False)  # whitespace collapsed once, for snippets
    body_words: WordIndex = field(repr=False, compare=False)  # stems and offsets in flat_body, for highlights
    tfs: dict[str, tuple[int, int, int]] = field(repr=False, hash=False, compare=False)


def prepare_doc(
    *,
    article_id: int,
    lang: str,
    slug: str,
    title: str,
    category: str,
    body: str,
    tags,
    version: int = 1,
    updated_at: float = 0.0,
) -> Doc:
    """Cut an article into per-field term counts. The slow part of indexing; call it outside any lock."""
    tags = tuple(str(t) for t in (tags or ()))
    per_field = (terms(title, lang), terms(" ".join(tags), lang), terms(body, lang))
    counts = [Counter(f) for f in per_field]
    tfs: dict[str, tuple[int, int, int]] = {}
    for term in set().union(*counts):
        tfs[term] = (counts[0].get(term, 0), counts[1].get(term, 0), counts[2].get(term, 0))
    lens = (len(per_field[0]), len(per_field[1]), len(per_field[2]))
    flat = " ".join(body.split())
    words = word_index(flat)
    return Doc(
        article_id, lang, slug, title, category, body, tags, int(version), float(updated_at), lens, flat, words, tfs
    )


def idf(n_docs: int, df: int) -> float:
    """BM25's idf, floored at zero by the +1 (a term in every document adds almost nothing, never less)."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


class LangIndex:
    """The inverted index of one language's published articles."""

    def __init__(self, lang: str):
        self.lang = lang
        self.lock = threading.Lock()
        self.docs: dict[int, Doc] = {}
        self.by_slug: dict[str, int] = {}
        self.postings: dict[str, dict[int, float]] = {}
        self._len_sum = [0, 0, 0]
        self._weighted_avg = (1.0, 1.0, 1.0)  # the averages the stored weights were computed with
        self.version_sum = 0

    # -- writing -------------------------------------------------------------------------------------
    def bulk_load(self, docs) -> None:
        """Fill an empty index in one go (start-up and rebuilds): weights computed once, with final averages."""
        with self.lock:
            for doc in docs:
                self._insert_doc(doc)
            self._reweight_all()

    def put(self, doc: Doc) -> None:
        """Add or replace one article (incremental update after an approval)."""
        with self.lock:
            self._remove(doc.article_id)
            self._insert_doc(doc)
            avg = self._averages()
            if any(abs(a - w) > REWEIGHT_DRIFT * w for a, w in zip(avg, self._weighted_avg, strict=True)):
                self._reweight_all()
            else:
                self._post(doc, self._weighted_avg)

    def remove(self, article_id: int) -> None:
        with self.lock:
            self._remove(article_id)

    def _insert_doc(self, doc: Doc) -> None:
        old_id = self.by_slug.get(doc.slug)
        if old_id is not None and old_id != doc.article_id:
            self._remove(old_id)
        self.docs[doc.article_id] = doc
        self.by_slug[doc.slug] = doc.article_id
        for i in range(3):
            self._len_sum[i] += doc.lens[i]
        self.version_sum += doc.version

    def _remove(self, article_id: int) -> None:
        doc = self.docs.pop(article_id, None)
        if doc is None:
            return
        if self.by_slug.get(doc.slug) == article_id:
            del self.by_slug[doc.slug]
        for i in range(3):
            self._len_sum[i] -= doc.lens[i]
        self.version_sum -= doc.version
        for term in doc.tfs:
            plist = self.postings.get(term)
            if plist is not None:
                plist.pop(article_id, None)
                if not plist:
                    del self.postings[term]

    def _averages(self) -> tuple[float, float, float]:
        n = max(len(self.docs), 1)
        return tuple(max(s / n, 1.0) for s in self._len_sum)

    def _reweight_all(self) -> None:
        self.postings = {}
        self._weighted_avg = self._averages()
        for doc in self.docs.values():
            self._post(doc, self._weighted_avg)

    def _post(self, doc: Doc, avg) -> None:
        (wt, wg, wb), (bt, bg, bb) = FIELD_WEIGHTS, FIELD_B
        nt = wt / (1 - bt + bt * doc.lens[0] / avg[0])
        ng = wg / (1 - bg + bg * doc.lens[1] / avg[1])
        nb = wb / (1 - bb + bb * doc.lens[2] / avg[2])
        postings = self.postings
        aid = doc.article_id
        for term, (ft, fg, fb) in doc.tfs.items():
            x = ft * nt + fg * ng + fb * nb
            plist = postings.get(term)
            if plist is None:
                plist = postings[term] = {}
            plist[aid] = x / (K1 + x)

    # -- reading -------------------------------------------------------------------------------------
    def size(self) -> int:
        return len(self.docs)

    def get(self, slug: str) -> Doc | None:
        aid = self.by_slug.get(slug)
        return self.docs.get(aid) if aid is not None else None

    def signature(self) -> tuple[int, int, float]:
        """(count, sum of versions, latest updated_at): compared with the database to spot changes made
        by another process."""
        with self.lock:
            latest = max((d.updated_at for d in self.docs.values()), default=0.0)
            return len(self.docs), self.version_sum, latest

    def known_versions(self) -> dict[int, tuple[int, float]]:
        with self.lock:
            return {d.article_id: (d.version, d.updated_at) for d in self.docs.values()}

    def idf_of(self, term: str) -> float:
        plist = self.postings.get(term)
        return idf(len(self.docs), len(plist)) if plist else 0.0

    def rank(self, weights: dict[str, float], limit: int, category: str | None = None) -> list[tuple[float, Doc]]:
        """Top ``limit`` documents for weighted query terms: sum over terms of weight * idf * saturated tf."""
        with self.lock:
            n = len(self.docs)
            lists = [(qw, self.postings.get(term)) for term, qw in weights.items()]
            lists = sorted(((qw, pl) for qw, pl in lists if pl), key=lambda x: len(x[1]), reverse=True)
            acc: dict[int, float] = {}
            if lists:
                # The longest list seeds the accumulator in one comprehension (C-speed dict building);
                # the shorter ones are added to it.
                qw, plist = lists[0]
                w = qw * idf(n, len(plist))
                acc = {aid: w * s for aid, s in plist.items()}
            get = acc.get
            for qw, plist in lists[1:]:
                w = qw * idf(n, len(plist))
                for aid, s in plist.items():
                    acc[aid] = get(aid, 0.0) + w * s
            docs = self.docs
            if category:
                items = ((aid, sc) for aid, sc in acc.items() if docs[aid].category == category)
            else:
                items = acc.items()
            top = heapq.nlargest(limit, items, key=itemgetter(1))
            return [(score, docs[aid]) for aid, score in top]
