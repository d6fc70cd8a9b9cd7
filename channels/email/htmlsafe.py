"""Customer HTML for the desk: sanitised (nh3), remote images blocked until the agent asks for them, and a
plain-text rendering for the recording.

A remote image is a tracking beacon: fetching it tells the sender that, when and from where the mail was read.
``block_remote_images`` removes every image source that is not inline data, so the default view fetches
nothing; ``allow_remote_images`` keeps only absolute http(s) sources (a relative one would call our own server).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

MAX_HTML_CHARS = 200_000


def sanitise_html(markup: str) -> str:
    """HTML safe to show in the desk: nh3 drops scripts, styles, event handlers and javascript: links."""
    return nh3.clean(markup[:MAX_HTML_CHARS])


def _remote(value: str) -> bool:
    v = value.strip().lower()
    return v.startswith(("http:", "https:", "//"))


def block_remote_images(markup: str) -> tuple[str, int]:
    """(sanitised HTML without remote image sources, how many were removed)."""
    blocked = 0

    def drop_src(tag, attr, value):
        nonlocal blocked
        if tag == "img" and attr == "src":
            if _remote(value):
                blocked += 1
            return None  # relative sources go too: they would call our own server
        return value

    return nh3.clean(markup[:MAX_HTML_CHARS], attribute_filter=drop_src), blocked


def allow_remote_images(markup: str) -> str:
    """Sanitised HTML whose images are absolute http(s) only (what "load images" shows)."""

    def keep_remote(tag, attr, value):
        if tag == "img" and attr == "src" and not _remote(value):
            return None
        return value

    return nh3.clean(markup[:MAX_HTML_CHARS], attribute_filter=keep_remote)


def html_to_text(markup: str) -> str:
    """A plain-text rendering of HTML: block elements on their own lines, scripts and styles dropped."""
    parser = _TextParser()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:
        return re.sub(r"<[^>]*>", " ", markup)
    text = "".join(parser.out)
    text = re.sub(r"[ \t\xa0]+", " ", text)
    return re.sub(r"\n\s*\n\s*\n+", "\n\n", text).strip()


class _TextParser(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote"}
    SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.out.append(data)
