"""Knowledge-base categories, articles, versions and edit proposals."""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clock import clock
from extensions import db


class Category(db.Model):
    __tablename__ = "kb_categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # orders, delivery, returns, billing, ...
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    parent_code: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Article(db.Model):
    """The current version of an article; older versions live in ArticleVersion."""

    __tablename__ = "kb_articles"
    __table_args__ = (UniqueConstraint("slug", "lang", name="uq_kb_slug_lang"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), index=True)
    lang: Mapped[str] = mapped_column(String(8), index=True)
    category_code: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # What an agent may send the customer (the desk's "Send to customer", edited first); the body is internal
    # (agent instructions, field names) and never leaves the desk. None: the agent answers in their own words.
    customer_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(12), default="published")
    updated_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())

    versions = relationship("ArticleVersion", back_populates="article", order_by="ArticleVersion.version")


class ArticleVersion(db.Model):
    __tablename__ = "kb_article_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id"), index=True)
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())

    article = relationship("Article", back_populates="versions")
    author = relationship("User", foreign_keys=[author_id])


class ArticleProposal(db.Model):
    """A trainee's proposed edit (or new article); a lead approves or rejects it."""

    __tablename__ = "kb_proposals"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("kb_articles.id"), nullable=True, index=True)
    lang: Mapped[str] = mapped_column(String(8))
    category_code: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The article version the edit was written against; approving it over a newer version would lose an edit.
    base_version: Mapped[int | None] = mapped_column(nullable=True)
    proposer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, approved, rejected
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())
    reviewed_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    article = relationship("Article")
    proposer = relationship("User", foreign_keys=[proposer_id])
    reviewer = relationship("User", foreign_keys=[reviewer_id])
