"""Every page of every role, for the page checks (test_pages.py) and the screenshots (screenshots.py): a crawler
that starts from each role's navigation and follows same-site links, one page per kind of address (/contacts/12
and /contacts/13 are the same page), and the checks run on each page: no code shown as stored, no ``\\u`` escape,
and axe-core's accessibility rules."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

ROLES = ("trainee4", "lead", "grader", "admin")
LANGS = ("zh_CN", "en")

# Pages no navigation link reaches (customer-side pages, forms opened by buttons).
EXTRA = {
    "trainee4": ["/customer/chat", "/customer/call"],
    "lead": ["/review/panels/new", "/floor/sessions", "/theory/manage", "/theory/analysis"],
    "grader": [],
    "admin": [],
}

SKIP = re.compile(
    r"(^/api/|/logout|/export|\.json$|\.xlsx$|\.pdf$|\.wav$|\.webm$|\.mkv$|/recording/|/attachments/|/with-images"
    r"|/start$|/finish$|/release$|/guest/|/join/|/static/|/present$)"
)


def page_kind(path: str) -> str:
    """/contacts/12/scorecard -> /contacts/#/scorecard: the template, not the record."""
    path = re.sub(r"^/kb/(zh_CN|en)/[^/]+", "/kb/#", path)  # knowledge-base articles
    return re.sub(r"/(\d+|[A-Z]{1,4}-?\d[\w-]*|kb-[\w-]+)(?=/|$)", "/#", path)


def crawl(page, base: str, role: str, lang: str, limit: int = 60) -> list[str]:
    """The site paths ``role`` reaches (logged in on ``page``), one per page kind, nav first."""
    seen_kinds: set[str] = set()
    out: list[str] = []
    queue = deque(["/"] + EXTRA.get(role, []))
    while queue and len(out) < limit:
        path = queue.popleft()
        kind = page_kind(path)
        if kind in seen_kinds or SKIP.search(path):
            continue
        seen_kinds.add(kind)
        resp = page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
        if resp is None or resp.status >= 400:
            continue
        final = urlsplit(page.url).path
        if final != path and page_kind(final) in seen_kinds and path != "/":
            continue
        seen_kinds.add(page_kind(final))
        out.append(final)
        hrefs = page.eval_on_selector_all("a[href]", "as => as.map((a) => a.getAttribute('href'))")
        for href in hrefs:
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/") or href.startswith("//"):
                continue
            if page_kind(parts.path) not in seen_kinds and not SKIP.search(parts.path):
                queue.append(parts.path)
    return out


# Visible text only: scripts, styles and elements marked translate="no" (user names, e-mail addresses, order
# numbers: data, not interface) are left out.
VISIBLE_TEXT = """() => {
  const out = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { out.push(node.textContent); return; }
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    if (['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE'].includes(node.tagName)) return;
    if (node.getAttribute('translate') === 'no') return;
    // content written in the other language (an English scenario's title on a Chinese page) says so with lang
    if (node.hasAttribute('lang') && node.getAttribute('lang') !== document.documentElement.lang) return;
    if (node.hidden) return;
    for (const c of node.childNodes) walk(c);
    if (node.tagName === 'OPTION' || node.tagName === 'BUTTON') out.push(' ');
  };
  walk(document.body);
  return out.join(' ');
}"""

CHANNEL_CODES = r"(?:chat|email|voice|video|group|livestream|ticket|contact|call|crm|kb|monitor)"
# Codes as the database stores them: snake_case words, dotted queue ids and event types, wrap-up codes,
# scenario ids, Python literals, JSON escapes.
CODE_PATTERNS = [
    ("json escape", re.compile(r"\\u[0-9a-fA-F]{4}")),
    ("snake_case code", re.compile(r"(?<![\w@./-])[a-z]+(?:_[a-z0-9]+)+(?![\w@.-])")),
    ("dotted code", re.compile(rf"(?<![\w@./-]){CHANNEL_CODES}\.[a-z_]+(?![\w@-])")),
    ("upper-case code", re.compile(r"(?<![\w-])[A-Z]{2,}(?:_[A-Z]+)+(?![\w-])")),
    ("scenario id", re.compile(r"(?<![\w/-])(?:zh|en)-[a-z0-9]+(?:-[a-z0-9]+)+(?![\w-])")),
    ("python literal", re.compile(r"(?<![\w])(?:True|False)(?![\w])")),
]
# On Chinese pages, English words that are stored codes (statuses, tiers) are untranslated too.
ZH_CODE_WORDS = re.compile(
    r"(?<![A-Za-z])(?:submitted|delivered|shipped|refunded|cancelled|silver|gold|diamond|standard|active|closed|"
    r"queued|abandoned|pending|resolved|escalated|available|offline|wrap-up|transferred|practice|exam|running|"
    r"finished|planned|stopped|trainee|lead|grader|admin|customer|agent|system|simulator|assigned|released|"
    r"draft|normal|urgent|medium|crisis)(?![A-Za-z])"
)


def untranslated(text: str, lang: str) -> list[str]:
    """What in ``text`` (a page's visible text) is a code shown as stored."""
    hits = []
    for name, pattern in CODE_PATTERNS:
        hits += [f"{name}: {m.group(0)}" for m in pattern.finditer(text)]
    if lang == "zh_CN":
        hits += [f"English code word: {m.group(0)}" for m in ZH_CODE_WORDS.finditer(text)]
    return sorted(set(hits))


_AXE_SOURCE: list[str] = []


def _axe_source() -> str:
    if not _AXE_SOURCE:
        _AXE_SOURCE.append(AXE.read_text(encoding="utf-8") + "\n;window.axe = axe; true;")
    return _AXE_SOURCE[0]


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """axe-core's violations of ``impacts`` on the page as it is now (WCAG 2.x A and AA rules)."""
    if not page.evaluate("() => !!window.axe"):
        # evaluated through the DevTools protocol: the pages' Content-Security-Policy forbids inline scripts
        page.evaluate(_axe_source())
    result = page.evaluate(
        """async () => {
            const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
            const r = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
            return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
        }"""
    )
    return [v for v in result if v["impact"] in impacts]
