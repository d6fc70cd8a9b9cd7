"""Knowledge-base actions: propose an edit, approve or reject it, and record an agent's KB use on a contact.

Every state change is one ``do_*`` function: it commits, then publishes a typed event. Proposals and
publications are not about a contact, so they publish with ``send_event`` (Redis and in-process listeners);
``kb.search`` and ``kb.open`` are part of a contact's recording and go through ``append_event``.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from clock import clock
from contacts.events import append_event, publish_contact_event, send_event
from extensions import db

from .models import Article, ArticleProposal, ArticleVersion, Category
from .search import LANGS, index_article

PROPOSER_ROLES = ("trainee", "lead", "admin")
REVIEWER_ROLES = ("lead", "admin")
MAX_TITLE = 200
MAX_BODY = 20000
MAX_REASON = 2000
MAX_TAGS = 12
MAX_TAG_CHARS = 40
OPEN_STATUSES = ("queued", "active", "wrap_up")  # a closed recording is final: nothing more is added to it


class KbError(ValueError):
    """A refused knowledge-base action; the message is shown to the user as is."""


def parse_tags(tags) -> list[str]:
    """Tags from a list or from text separated by commas (, ， 、), trimmed, without repeats, in order."""
    if tags is None:
        return []
    items = re.split(r"[,，、;；\n]", tags) if isinstance(tags, str) else list(tags)
    out: list[str] = []
    for t in items:
        t = str(t).strip()
        if not t or t in out:
            continue
        if len(t) > MAX_TAG_CHARS:
            raise KbError(f"tag {t[:20]!r}… is longer than {MAX_TAG_CHARS} characters")
        out.append(t)
    if len(out) > MAX_TAGS:
        raise KbError(f"at most {MAX_TAGS} tags")
    return out


def _text(value, name: str, limit: int, required: bool = True) -> str:
    value = (value or "").strip() if isinstance(value, str | type(None)) else None
    if value is None:
        raise KbError(f"{name} must be text")
    if required and not value:
        raise KbError(f"{name} is empty")
    if len(value) > limit:
        raise KbError(f"{name} is {len(value)} characters; the limit is {limit}")
    return value


def do_propose_edit(user, article, title, body, tags, category, lang, reason) -> ArticleProposal:
    """Propose a new article (``article`` None) or an edit of ``article``; a lead reviews it.

    Trainees, leads and admins may propose (PermissionError otherwise). Refuses (KbError) an empty or
    over-long title/body, an unknown category or language, and an edit that changes nothing.
    """
    if user.role not in PROPOSER_ROLES:
        raise PermissionError(f"role '{user.role}' may not propose knowledge-base edits")
    title = _text(title, "title", MAX_TITLE)
    body = _text(body, "body", MAX_BODY)
    reason = _text(reason, "reason", MAX_REASON, required=False) or None
    tags = parse_tags(tags)
    if article is not None:
        lang = lang or article.lang
        if lang != article.lang:
            raise KbError(f"article {article.slug!r} is in {article.lang}, not {lang}")
    if lang not in LANGS:
        raise KbError(f"unknown language {lang!r}")
    category = (category or (article.category_code if article is not None else "") or "").strip()
    if db.session.scalar(select(Category.id).where(Category.code == category)) is None:
        raise KbError(f"unknown category {category!r}")
    if article is not None and (article.title, article.body, list(article.tags or []), article.category_code) == (
        title,
        body,
        tags,
        category,
    ):
        raise KbError("the proposal changes nothing")
    proposal = ArticleProposal(
        article_id=article.id if article is not None else None,
        base_version=article.version if article is not None else None,
        lang=lang,
        category_code=category,
        title=title,
        body=body,
        tags=tags,
        reason=reason,
        proposer_id=user.id,
        status="pending",
    )
    db.session.add(proposal)
    db.session.commit()
    send_event({"type": "kb.proposed", "proposal": proposal_summary(proposal)})
    return proposal


def _claim(proposal: ArticleProposal, lead, status: str, note: str | None) -> None:
    """Move a pending proposal to ``status`` in one conditional UPDATE, so two reviewers cannot both win."""
    done = db.session.execute(
        update(ArticleProposal)
        .where(ArticleProposal.id == proposal.id, ArticleProposal.status == "pending")
        .values(status=status, reviewer_id=lead.id, review_note=note, reviewed_at=clock.timestamp())
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        db.session.rollback()
        db.session.refresh(proposal)
        raise KbError(f"proposal {proposal.id} is already {proposal.status}")


def _check_reviewer(lead, proposal: ArticleProposal) -> None:
    if lead.role not in REVIEWER_ROLES:
        raise PermissionError(f"role '{lead.role}' may not review knowledge-base proposals")
    if proposal.status != "pending":
        raise KbError(f"proposal {proposal.id} is already {proposal.status}")


def _slug_for(title: str, lang: str, proposal_id: int) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-") or f"article-{proposal_id}"
    slug, n = base, 1
    while db.session.scalar(select(Article.id).where(Article.slug == slug, Article.lang == lang)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def do_approve_proposal(lead, proposal: ArticleProposal, note: str | None = None) -> Article:
    """Publish a pending proposal: a new ArticleVersion, Article.version bumped (or a new article at
    version 1), and the search index updated at once.

    Leads and admins only (PermissionError). Refuses (KbError) a proposal already reviewed, and an edit
    written against an older version than the article now has (approving it would silently undo the
    newer edit; the proposer should propose again from the current text).
    """
    _check_reviewer(lead, proposal)
    note = _text(note, "note", MAX_REASON, required=False) or None
    now = clock.timestamp()
    article = db.session.get(Article, proposal.article_id) if proposal.article_id else None
    if proposal.article_id and article is None:
        raise KbError(f"the article of proposal {proposal.id} no longer exists")
    if article is not None and proposal.base_version is not None and article.version != proposal.base_version:
        raise KbError(
            f"the article is at version {article.version}; this edit was written against version "
            f"{proposal.base_version}"
        )
    _claim(proposal, lead, "approved", note)
    try:
        if article is None:
            article = Article(
                slug=_slug_for(proposal.title, proposal.lang, proposal.id),
                lang=proposal.lang,
                category_code=proposal.category_code,
                title=proposal.title,
                body=proposal.body,
                tags=list(proposal.tags or []),
                version=1,
                status="published",
                updated_at=now,
            )
            db.session.add(article)
            db.session.flush()
        else:
            _keep_current_version(article)
            old = article.version
            # Conditional on the version we read: a concurrent approval of another edit makes this match nothing.
            bumped = db.session.execute(
                update(Article)
                .where(Article.id == article.id, Article.version == old)
                .values(
                    version=old + 1,
                    title=proposal.title,
                    body=proposal.body,
                    tags=list(proposal.tags or []),
                    category_code=proposal.category_code,
                    status="published",
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if bumped != 1:
                raise KbError("the article changed while this proposal was being approved; try again")
            db.session.expire(article)
        db.session.add(
            ArticleVersion(
                article_id=article.id,
                version=article.version,
                title=proposal.title,
                body=proposal.body,
                tags=list(proposal.tags or []),
                author_id=proposal.proposer_id,
                created_at=now,
            )
        )
        db.session.execute(
            update(ArticleProposal)
            .where(ArticleProposal.id == proposal.id)
            .values(article_id=article.id)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except IntegrityError as e:
        db.session.rollback()
        raise KbError("could not publish: an article with that address was created meanwhile; try again") from e
    except KbError:
        db.session.rollback()
        raise
    db.session.refresh(proposal)
    db.session.refresh(article)
    index_article(article)
    send_event({"type": "kb.published", "article": article_summary(article), "proposal_id": proposal.id})
    return article


def _keep_current_version(article: Article) -> None:
    """Articles loaded from a content pack may have no version rows; keep the text being replaced."""
    exists = db.session.scalar(
        select(ArticleVersion.id).where(
            ArticleVersion.article_id == article.id, ArticleVersion.version == article.version
        )
    )
    if exists is None:
        db.session.add(
            ArticleVersion(
                article_id=article.id,
                version=article.version,
                title=article.title,
                body=article.body,
                tags=list(article.tags or []),
                author_id=None,
                created_at=article.updated_at or clock.timestamp(),
            )
        )


def do_reject_proposal(lead, proposal: ArticleProposal, note: str) -> ArticleProposal:
    """Reject a pending proposal with a note saying why (the proposer reads it). Leads and admins only."""
    _check_reviewer(lead, proposal)
    note = _text(note, "note", MAX_REASON)
    _claim(proposal, lead, "rejected", note)
    db.session.commit()
    db.session.refresh(proposal)
    send_event({"type": "kb.rejected", "proposal": proposal_summary(proposal)})
    return proposal


def _check_agent(contact, agent) -> None:
    if contact.agent_id is None or contact.agent_id != agent.id:
        raise PermissionError("this contact is not on your desk")
    if contact.status not in OPEN_STATUSES:
        raise KbError(f"contact {contact.id} is {contact.status}; its recording is final")


def do_record_kb_search(contact, agent, query: str, results: list[dict], lang: str | None = None) -> dict:
    """Record on the agent's own contact that they searched the KB (``kb.search``: query, language and the
    slugs found, best first). PermissionError when the contact is not the agent's."""
    _check_agent(contact, agent)
    data = {"query": query, "lang": lang or contact.lang, "results": [r["slug"] for r in results]}
    ev, _ = append_event(contact, "kb.search", "agent", actor_id=agent.id, text=query, data=data)
    publish_contact_event(ev)
    return ev.as_dict()


def do_record_kb_open(contact, agent, article: Article) -> dict:
    """Record on the agent's own contact that they opened an article (``kb.open``: slug, lang, title and
    the version read). PermissionError when the contact is not the agent's."""
    _check_agent(contact, agent)
    data = {"slug": article.slug, "lang": article.lang, "title": article.title, "version": article.version}
    ev, _ = append_event(contact, "kb.open", "agent", actor_id=agent.id, data=data)
    publish_contact_event(ev)
    return ev.as_dict()


def article_summary(article: Article) -> dict:
    return {
        "id": article.id,
        "slug": article.slug,
        "lang": article.lang,
        "title": article.title,
        "category": article.category_code,
        "version": article.version,
    }


def proposal_summary(p: ArticleProposal) -> dict:
    return {
        "id": p.id,
        "article_id": p.article_id,
        "lang": p.lang,
        "title": p.title,
        "status": p.status,
        "proposer_id": p.proposer_id,
        "reviewer_id": p.reviewer_id,
    }
