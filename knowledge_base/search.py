"""Knowledge-base search (zh_CN and en): the per-app search service and the functions other code calls.

    search(query, lang, limit=10, category=None) -> [{slug, title, category, score, snippet, ...}]
    suggest(conversation_text, lang, limit=5)     -> the same shape, for the desk's suggestion panel
    extract_keywords(text, lang, k=8)             -> the words of a conversation the KB knows best

The index is built from the database on first use (or at start, when the tables exist), updated
incrementally by the knowledge-base actions, and reconciled with the database at most every
``REFRESH_SECONDS`` so that articles published by another process (or a content-pack load) appear too.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from flask import current_app

from extensions import db

from .index import Doc, LangIndex, prepare_doc
from .snippets import find_spans, make_snippet
from .text import Highlighter, terms

LANGS = ("zh_CN", "en")
MAX_LIMIT = 50
REFRESH_SECONDS = 2.0
EXTENSION_KEY = "kefu_kb_search"


def doc_from_article(article) -> Doc:
    """Prepare an Article row (or anything with the same attributes) for the index."""
    return prepare_doc(
        article_id=article.id,
        lang=article.lang,
        slug=article.slug,
        title=article.title,
        category=article.category_code,
        body=article.body,
        tags=article.tags or (),
        version=article.version or 1,
        updated_at=article.updated_at or 0.0,
    )


class KbSearch:
    """One app's search indexes, one per language. ``db_backed=False`` serves in-memory articles only
    (benchmarks): no reads from the database, no reconciling."""

    def __init__(self, db_backed: bool = True):
        self.db_backed = db_backed
        self.indexes: dict[str, LangIndex] = {lang: LangIndex(lang) for lang in LANGS}
        self.builds = 0  # full builds so far; tests use it to show an update was incremental
        self._built = not db_backed
        self._build_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._next_check = 0.0

    # -- building and updating -----------------------------------------------------------------------
    def load(self, articles) -> None:
        """Replace every index with ``articles`` (objects with Article's attributes; published only).

        The new indexes are built aside and swapped in, so searches keep running on the old ones meanwhile.
        """
        by_lang: dict[str, list[Doc]] = {lang: [] for lang in LANGS}
        for a in articles:
            if a.lang in by_lang and (getattr(a, "status", "published") or "published") == "published":
                by_lang[a.lang].append(doc_from_article(a))
        fresh = {}
        for lang, docs in by_lang.items():
            idx = LangIndex(lang)
            idx.bulk_load(docs)
            fresh[lang] = idx
        self.indexes = fresh
        self.builds += 1
        self._built = True

    def rebuild_from_db(self) -> None:
        """Build every index from the published articles in the database."""
        from .models import Article

        rows = db.session.scalars(db.select(Article).where(Article.status == "published")).all()
        self.load(rows)

    def index_article(self, article) -> None:
        """Bring one article's entry up to date: (re)index it when published, drop it otherwise."""
        self.ensure_built()
        idx = self.indexes.get(article.lang)
        if idx is None:
            return
        if (article.status or "published") == "published":
            idx.put(doc_from_article(article))
        else:
            idx.remove(article.id)

    def ensure_built(self) -> None:
        if self._built:
            return
        with self._build_lock:
            if not self._built:
                self.rebuild_from_db()

    def ensure_fresh(self) -> None:
        """Build on first use; then, at most every REFRESH_SECONDS, reconcile with the database."""
        self.ensure_built()
        if not self.db_backed or time.monotonic() < self._next_check:
            return
        if not self._refresh_lock.acquire(blocking=False):
            return  # another thread is reconciling; serve the current index meanwhile
        try:
            self._next_check = time.monotonic() + REFRESH_SECONDS
            self._reconcile()
        finally:
            self._refresh_lock.release()

    def refresh(self) -> None:
        """Reconcile with the database now (build first if needed): pick up articles another process or a
        content-pack load published, changed or withdrew."""
        self.ensure_built()
        with self._refresh_lock:
            self._next_check = time.monotonic() + REFRESH_SECONDS
            self._reconcile()

    def _reconcile(self) -> None:
        from .models import Article

        fn = db.func
        sig_rows = db.session.execute(
            db.select(Article.lang, fn.count(Article.id), fn.sum(Article.version), fn.max(Article.updated_at))
            .where(Article.status == "published")
            .group_by(Article.lang)
        ).all()
        in_db = {lang: (n, int(vsum or 0), float(latest or 0.0)) for lang, n, vsum, latest in sig_rows}
        for lang, idx in self.indexes.items():
            if in_db.get(lang, (0, 0, 0.0)) == idx.signature():
                continue
            have = idx.known_versions()
            rows = db.session.execute(
                db.select(Article.id, Article.version, Article.updated_at).where(
                    Article.lang == lang, Article.status == "published"
                )
            ).all()
            want = {aid: (int(v or 1), float(u or 0.0)) for aid, v, u in rows}
            for aid in set(have) - set(want):
                idx.remove(aid)
            changed = [aid for aid, vu in want.items() if have.get(aid) != vu]
            for start in range(0, len(changed), 500):
                batch = db.session.scalars(db.select(Article).where(Article.id.in_(changed[start : start + 500])))
                for article in batch:
                    idx.put(doc_from_article(article))

    # -- querying ------------------------------------------------------------------------------------
    def _index_for(self, lang: str) -> LangIndex:
        if lang not in LANGS:
            raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
        if self.db_backed:
            self.ensure_fresh()
        return self.indexes[lang]

    def search(self, query: str, lang: str, limit: int = 10, category: str | None = None) -> list[dict]:
        idx = self._index_for(lang)
        weights = Counter(terms(query or "", lang))
        if not weights:
            return []
        limit = max(1, min(int(limit), MAX_LIMIT))
        hits = idx.rank(dict(weights), limit, category or None)
        return _results(hits, Highlighter(weights), lang)

    def extract_keywords(self, text: str, lang: str, k: int = 8) -> list[tuple[str, float]]:
        """The conversation's terms weighted by TF-IDF against this language's index; terms no article
        contains are dropped (they cannot help find one)."""
        idx = self._index_for(lang)
        counts = Counter(terms(text or "", lang))
        scored = []
        for term, tf in counts.items():
            weight = idx.idf_of(term)
            if weight > 0:
                # Repeats matter, but a word said five times is not five times as telling.
                scored.append((term, (1.0 + 0.5 * (tf - 1)) * weight))
        scored.sort(key=lambda tw: (-tw[1], tw[0]))
        return scored[:k]

    def suggest(self, conversation_text: str, lang: str, limit: int = 5) -> list[dict]:
        keywords = self.extract_keywords(conversation_text, lang)
        if not keywords:
            return []
        top = keywords[0][1]
        # The idf is applied again in rank(); pass the TF-IDF weights normalised to the strongest keyword.
        weights = {term: w / top for term, w in keywords}
        limit = max(1, min(int(limit), MAX_LIMIT))
        hits = self._index_for(lang).rank(weights, limit)
        return _results(hits, Highlighter(weights), lang)


def _results(hits: list[tuple[float, Doc]], highlighter: Highlighter, lang: str) -> list[dict]:
    out = []
    for score, doc in hits:
        snippet, spans = make_snippet(doc.flat_body, highlighter, lang, doc.body_words)
        out.append(
            {
                "slug": doc.slug,
                "lang": doc.lang,
                "title": doc.title,
                "category": doc.category,
                "version": doc.version,
                "score": round(score, 4),
                "snippet": snippet,
                "highlights": spans,
                "title_highlights": find_spans(doc.title, highlighter),
            }
        )
    return out


# -- the app's service and the functions other packages call ------------------------------------------
def init_search(app) -> KbSearch:
    """Attach a search service to ``app`` and load jieba now, so the first query is not the slow one."""
    from .text import init_jieba

    init_jieba()
    service = KbSearch()
    app.extensions[EXTENSION_KEY] = service
    return service


def get_search() -> KbSearch:
    return current_app.extensions[EXTENSION_KEY]


def search(query: str, lang: str, limit: int = 10, category: str | None = None) -> list[dict]:
    """Published articles in ``lang`` best matching ``query`` (BM25F; title and tags weigh more than body).

    Each result: slug, lang, title, category, version, score, snippet (plain text) and highlights
    ([start, end) offsets of matched terms in the snippet; title_highlights likewise in the title).
    Raises ValueError for an unknown language; an empty query gives [].
    """
    return get_search().search(query, lang, limit=limit, category=category)


def suggest(conversation_text: str, lang: str, limit: int = 5) -> list[dict]:
    """Articles for the desk's suggestion panel, from the customer's recent words in a conversation."""
    return get_search().suggest(conversation_text, lang, limit=limit)


def extract_keywords(text: str, lang: str, k: int = 8) -> list[str]:
    """The words of ``text`` that best pick out articles (TF-IDF against the index), best first."""
    return [term for term, _w in get_search().extract_keywords(text, lang, k)]


def index_article(article) -> None:
    """Update the index for one article now (the actions call this after a commit; a content-pack loader
    may too, though the periodic reconcile would find the change within REFRESH_SECONDS)."""
    get_search().index_article(article)


def rebuild_index() -> None:
    """Rebuild every language's index from the database."""
    get_search().rebuild_from_db()
