"""Sending a knowledge-base article into a chat."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from contacts.actions import ActionError, do_post_message, do_record_desk_event
from contacts.models import Contact
from contacts.transaction import atomic
from extensions import db
from knowledge_base.models import Article


def do_send_article(contact: Contact, agent, slug: str, text: str | None = None) -> dict:
    """Send the customer the article's customer-facing part (``text``: the agent's edit of it) and record
    ``kb.send``. The article's body is internal (agent instructions, field names) and is never sent; an article
    without a customer-facing part needs the agent's own ``text``."""
    if contact.status != "active":
        raise ActionError(f"contact {contact.id} is {contact.status}")
    article = db.session.scalar(select(Article).where(Article.slug == slug, Article.lang == contact.lang))
    if article is None:
        raise ActionError(f"no article {slug!r} in {contact.lang}")
    limit = current_app.config["MAX_MESSAGE_CHARS"]
    text = (text if text is not None else article.customer_text or "").strip()
    if not text:
        raise ActionError(f"article {slug!r} has no customer-facing text: write the answer in your own words")
    if len(text) > limit:
        raise ActionError(f"the message is {len(text)} characters; the limit is {limit}")
    with atomic():  # the kb.send and the message that carries the article are recorded together
        do_record_desk_event(
            contact, agent, "kb.send", {"slug": article.slug, "title": article.title, "version": article.version}
        )
        ev, _ = do_post_message(contact, "agent", text, actor_id=agent.id)
    return ev
