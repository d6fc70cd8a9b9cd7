"""Sending a knowledge-base article into a chat."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from contacts.actions import ActionError, do_post_message, do_record_desk_event
from contacts.models import Contact
from extensions import db
from knowledge_base.models import Article


def do_send_article(contact: Contact, agent, slug: str) -> dict:
    """Post the article (title and body, cut to the message limit) to the customer and record ``kb.send``."""
    if contact.status != "active":
        raise ActionError(f"contact {contact.id} is {contact.status}")
    article = db.session.scalar(select(Article).where(Article.slug == slug, Article.lang == contact.lang))
    if article is None:
        raise ActionError(f"no article {slug!r} in {contact.lang}")
    limit = current_app.config["MAX_MESSAGE_CHARS"]
    text = f"【{article.title}】\n{article.body}"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    do_record_desk_event(
        contact, agent, "kb.send", {"slug": article.slug, "title": article.title, "version": article.version}
    )
    ev, _ = do_post_message(contact, "agent", text, actor_id=agent.id)
    return ev
