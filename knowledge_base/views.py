"""Knowledge-base pages (read, propose, review) and the JSON the trainee desk calls.

Routes stay thin: validate, call a ``do_*`` action or the search service, respond.
"""

from __future__ import annotations

import difflib
from datetime import UTC, datetime

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from accounts.models import ROLES
from accounts.roles import role_required
from contacts.models import Contact, ContactEvent
from extensions import db
from i18n import current_lang
from security import MAX_ID

from . import search as kb_search
from .actions import (
    PROPOSER_ROLES,
    REVIEWER_ROLES,
    KbError,
    do_approve_proposal,
    do_propose_edit,
    do_record_kb_open,
    do_record_kb_search,
    do_reject_proposal,
)
from .forms import ProposalForm, ReviewForm
from .models import Article, ArticleProposal, ArticleVersion, Category

bp = Blueprint("knowledge_base", __name__)

MAX_QUERY_CHARS = 200
SUGGEST_FROM_MESSAGES = 6  # the customer's latest messages say what the contact is about now


@bp.app_template_filter("kb_time")
def kb_time(ts: float | None) -> str:
    """Sandbox-clock seconds as a short UTC date and time for the KB pages."""
    if not ts:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _kb_lang(value: str | None) -> str:
    return value if value in kb_search.LANGS else current_lang()


def _categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.code)))


def _category_name(cat: Category, lang: str) -> str:
    return cat.name_zh if lang == "zh_CN" else cat.name_en


def _published(lang: str, slug: str) -> Article | None:
    return db.session.scalar(
        select(Article).where(Article.lang == lang, Article.slug == slug, Article.status == "published")
    )


def paragraphs(body: str) -> list[list[str]]:
    """Body text as paragraphs (split on blank lines), each a list of lines; the template escapes them."""
    out = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        lines = [line.rstrip() for line in block.strip("\n").split("\n")]
        if any(lines):
            out.append(lines)
    return out


# -- pages -----------------------------------------------------------------------------------------------
@bp.route("/kb")
@role_required(*ROLES)
def kb_index():
    lang = _kb_lang(request.args.get("kb_lang"))
    q = request.args.get("q", "").strip()[:MAX_QUERY_CHARS]
    category = request.args.get("category") or None
    cats = _categories()
    results = kb_search.search(q, lang, limit=20, category=category) if q else []
    articles = db.session.scalars(
        select(Article).where(Article.lang == lang, Article.status == "published").order_by(Article.title)
    ).all()
    by_cat: dict[str, list[Article]] = {}
    for a in articles:
        by_cat.setdefault(a.category_code, []).append(a)
    known = {c.code for c in cats}
    sections = [(c.code, _category_name(c, lang), by_cat.get(c.code, [])) for c in cats]
    sections += [(code, code, items) for code, items in sorted(by_cat.items()) if code not in known]
    mine = []
    if current_user.role in PROPOSER_ROLES:
        mine = db.session.scalars(
            select(ArticleProposal)
            .where(ArticleProposal.proposer_id == current_user.id)
            .order_by(ArticleProposal.created_at.desc())
            .limit(20)
        ).all()
    pending = 0
    if current_user.role in REVIEWER_ROLES:
        pending = db.session.scalar(
            select(db.func.count(ArticleProposal.id)).where(ArticleProposal.status == "pending")
        )
    return render_template(
        "knowledge_base/index.html",
        lang=lang,
        q=q,
        category=category,
        categories=cats,
        sections=[s for s in sections if s[2] or not q],
        results=results,
        mine=mine,
        pending=pending,
        can_propose=current_user.role in PROPOSER_ROLES,
        category_name=lambda c: _category_name(c, lang),
    )


@bp.route("/kb/<lang>/<slug>")
@role_required(*ROLES)
def kb_article(lang, slug):
    article = _published(lang, slug) if lang in kb_search.LANGS else None
    if article is None:
        abort(404)
    form = _proposal_form(obj=article) if current_user.role in PROPOSER_ROLES else None
    return _render_article(article, form, request.args.get("v", type=int))


def _render_article(article: Article, form: ProposalForm | None, v: int | None = None, status: int = 200):
    versions = db.session.scalars(
        select(ArticleVersion).where(ArticleVersion.article_id == article.id).order_by(ArticleVersion.version.desc())
    ).all()
    shown = article
    if v is not None and v != article.version:
        shown = next((ver for ver in versions if ver.version == v), None)
        if shown is None:
            abort(404)
    cat = db.session.scalar(select(Category).where(Category.code == article.category_code))
    html = render_template(
        "knowledge_base/article.html",
        article=article,
        shown=shown,
        shown_version=shown.version,
        paragraphs=paragraphs(shown.body),
        versions=versions,
        category=_category_name(cat, article.lang) if cat else article.category_code,
        form=form,
    )
    return html, status


def _proposal_form(obj: Article | None = None) -> ProposalForm:
    form = ProposalForm()
    lang = obj.lang if obj is not None else _kb_lang(request.args.get("kb_lang"))
    form.category.choices = [SelectChoice(c.code, _category_name(c, lang)) for c in _categories()]
    if obj is not None:
        del form.lang  # an edit stays in its article's language
    if obj is not None and request.method == "GET":
        form.title.data = obj.title
        form.body.data = obj.body
        form.tags.data = ", ".join(obj.tags or [])
        form.category.data = obj.category_code
    elif request.method == "GET":
        form.lang.data = lang
    return form


@bp.route("/kb/<lang>/<slug>/propose", methods=["POST"])
@role_required(*PROPOSER_ROLES)
def kb_propose_edit(lang, slug):
    if lang not in kb_search.LANGS:
        abort(404)
    article = _published(lang, slug)
    if article is None:
        abort(404)
    form = _proposal_form(obj=article)
    if form.validate_on_submit():
        try:
            do_propose_edit(
                current_user,
                article,
                form.title.data,
                form.body.data,
                form.tags.data,
                form.category.data,
                article.lang,
                form.reason.data,
            )
        except KbError as e:
            flash(str(e), "error")
        else:
            flash(_("Your proposal was sent to a team lead for review."), "ok")
            return redirect(url_for("knowledge_base.kb_article", lang=lang, slug=slug))
    # Show the page again with what was typed, so nothing is lost.
    return _render_article(article, form, status=400)


@bp.route("/kb/new", methods=["GET", "POST"])
@role_required(*PROPOSER_ROLES)
def kb_propose_new():
    form = _proposal_form()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                do_propose_edit(
                    current_user,
                    None,
                    form.title.data,
                    form.body.data,
                    form.tags.data,
                    form.category.data,
                    form.lang.data,
                    form.reason.data,
                )
            except KbError as e:
                flash(str(e), "error")
            else:
                flash(_("Your proposal was sent to a team lead for review."), "ok")
                return redirect(url_for("knowledge_base.kb_index", kb_lang=form.lang.data))
        return render_template("knowledge_base/propose.html", form=form), 400
    return render_template("knowledge_base/propose.html", form=form)


@bp.route("/kb/proposals")
@role_required(*REVIEWER_ROLES)
def kb_proposals():
    pending = db.session.scalars(
        select(ArticleProposal).where(ArticleProposal.status == "pending").order_by(ArticleProposal.created_at)
    ).all()
    reviewed = db.session.scalars(
        select(ArticleProposal)
        .where(ArticleProposal.status != "pending")
        .order_by(ArticleProposal.reviewed_at.desc())
        .limit(30)
    ).all()
    diffs = {p.id: _diff(p) for p in pending}
    return render_template(
        "knowledge_base/proposals.html", pending=pending, reviewed=reviewed, diffs=diffs, form=ReviewForm()
    )


def _diff(p: ArticleProposal) -> list[str]:
    """Line diff of the proposed text against the article as it is now (all lines added for a new one)."""

    def lines(title, category, tags, body):
        return [f"# {title}", f"[{category}] {', '.join(tags or [])}", "", *body.splitlines()]

    a = p.article
    before = [] if a is None else lines(a.title, a.category_code, a.tags, a.body)
    after = lines(p.title, p.category_code, p.tags, p.body)
    lines = list(difflib.unified_diff(before, after, lineterm="", n=2))
    return lines[2:]  # without the ---/+++ header lines


def _review(pid: int, approve: bool):
    proposal = db.session.get(ArticleProposal, pid)
    if proposal is None:
        abort(404)
    form = ReviewForm()
    if not form.validate_on_submit():
        for err in form.note.errors:
            flash(f"{form.note.label.text}: {err}", "error")
        return redirect(url_for("knowledge_base.kb_proposals"))
    try:
        if approve:
            article = do_approve_proposal(current_user, proposal, form.note.data)
            flash(_("Published %(title)s (version %(v)s).", title=article.title, v=article.version), "ok")
        else:
            do_reject_proposal(current_user, proposal, form.note.data)
            flash(_("Proposal rejected."), "ok")
    except KbError as e:
        flash(str(e), "error")
    return redirect(url_for("knowledge_base.kb_proposals"))


@bp.route("/kb/proposals/<int:pid>/approve", methods=["POST"])
@role_required(*REVIEWER_ROLES)
def kb_approve(pid):
    return _review(pid, approve=True)


@bp.route("/kb/proposals/<int:pid>/reject", methods=["POST"])
@role_required(*REVIEWER_ROLES)
def kb_reject(pid):
    return _review(pid, approve=False)


# -- JSON for the trainee desk ---------------------------------------------------------------------------
def _error(message: str, status: int):
    return jsonify(error=message), status


def _own_contact(raw: str | None, required: bool = False):
    """(contact or None, error response or None) for a ``contact_id`` argument: it must be the caller's."""
    if raw is None or raw.strip() == "":
        return None, (_error("contact_id is required", 400) if required else None)
    try:
        cid = int(raw)
    except ValueError:
        return None, _error(f"contact_id must be a number, not {raw[:40]!r}", 400)
    contact = db.session.get(Contact, cid) if 0 < cid <= MAX_ID else None  # beyond any id: not a 500
    if contact is None:
        return None, _error(f"no contact {cid}", 404)
    if contact.agent_id != current_user.id:
        return None, _error("this contact is not on your desk", 403)
    return contact, None


def _record(fn, *args, **kwargs):
    """Record a kb.* event; a closed contact's recording is final, so the lookup is served but not recorded."""
    try:
        return fn(*args, **kwargs)
    except KbError:
        return None


@bp.route("/api/kb/search")
@role_required(*ROLES)
def api_search():
    q = request.args.get("q", "").strip()
    if not q:
        return _error("empty query", 400)
    if len(q) > MAX_QUERY_CHARS:
        return _error(f"query is {len(q)} characters; the limit is {MAX_QUERY_CHARS}", 400)
    limit = request.args.get("limit", 10)
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        return _error("limit must be a number", 400)
    if not 1 <= limit <= kb_search.MAX_LIMIT:
        return _error(f"limit must be between 1 and {kb_search.MAX_LIMIT}", 400)
    contact, err = _own_contact(request.args.get("contact_id"))
    if err:
        return err
    lang = request.args.get("lang") or (contact.lang if contact else current_lang())
    if lang not in kb_search.LANGS:
        return _error(f"unknown language {lang[:20]!r}; expected one of {', '.join(kb_search.LANGS)}", 400)
    results = kb_search.search(q, lang, limit=limit, category=request.args.get("category") or None)
    event = _record(do_record_kb_search, contact, current_user, q, results, lang=lang) if contact else None
    return jsonify(query=q, lang=lang, results=results, recorded=event is not None, event_id=event and event["id"])


@bp.route("/api/kb/articles/<lang>/<slug>")
@role_required(*ROLES)
def api_article(lang, slug):
    if lang not in kb_search.LANGS:
        return _error(f"unknown language {lang[:20]!r}", 404)
    contact, err = _own_contact(request.args.get("contact_id"))
    if err:
        return err
    article = _published(lang, slug)
    if article is None:
        return _error(f"no article {slug[:80]!r} in {lang}", 404)
    event = _record(do_record_kb_open, contact, current_user, article) if contact else None
    return jsonify(
        article={
            "slug": article.slug,
            "lang": article.lang,
            "title": article.title,
            "body": article.body,
            "customer_text": article.customer_text or "",
            "tags": list(article.tags or []),
            "category": article.category_code,
            "version": article.version,
            "updated_at": article.updated_at,
        },
        recorded=event is not None,
        event_id=event and event["id"],
    )


@bp.route("/api/kb/suggest")
@role_required(*ROLES)
def api_suggest():
    contact, err = _own_contact(request.args.get("contact_id"), required=True)
    if err:
        return err
    lang = request.args.get("lang") or contact.lang
    if lang not in kb_search.LANGS:
        return _error(f"unknown language {lang[:20]!r}", 400)
    texts = db.session.scalars(
        select(ContactEvent.text)
        .where(ContactEvent.contact_id == contact.id, ContactEvent.type == "message", ContactEvent.actor == "customer")
        .order_by(ContactEvent.seq.desc())
        .limit(SUGGEST_FROM_MESSAGES)
    ).all()
    conversation = "\n".join(t for t in reversed(texts) if t)
    if not conversation:
        return jsonify(contact_id=contact.id, lang=lang, keywords=[], suggestions=[])
    keywords = kb_search.extract_keywords(conversation, lang)
    suggestions = kb_search.suggest(conversation, lang, limit=5)
    return jsonify(contact_id=contact.id, lang=lang, keywords=keywords, suggestions=suggestions)
