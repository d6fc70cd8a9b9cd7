"""The schemas of the knowledge-base events recorded on a contact (contacts/event_types.py)."""

from __future__ import annotations

from contacts.event_types import EventData, event

DESK = ("agent", "lead")


class Search(EventData):
    query: str
    lang: str
    results: list[str]


class Article(EventData):
    slug: str
    title: str
    version: int
    lang: str | None = None


EVENT_TYPES = [
    event("kb.search", "The agent searched the KB; the text is the query.", Search, actors=DESK, text="optional"),
    event("kb.open", "The agent opened an article (the version read).", Article, actors=DESK),
    event("kb.send", "The agent sent an article to the customer (its message follows).", Article, actors=DESK),
]
