"""Chromium: every page every role reaches, in both languages, shows no code as stored (snake_case words, queue
ids, wrap-up codes, scenario ids, True/False, English status words on Chinese pages) and no ``\\u`` escape, and
has no serious or critical axe-core violation. A finished practice chat is made first, so the record pages (the
contact, its scorecard, the review page) are among those checked."""

from __future__ import annotations

import pytest

from .conftest import login
from .pages import LANGS, ROLES, VISIBLE_TEXT, axe_violations, crawl, page_kind, untranslated

pytestmark = pytest.mark.e2e


def _finished_practice(page, base) -> int:
    """trainee4 serves a simulated chat for a moment and wraps it up: a graded, finished contact."""
    page.goto(f"{base}/desk?lang=zh_CN")
    page.wait_for_function("window.kefuDesk && window.kefuDesk.socket.connected")
    page.click("#go-available")
    page.wait_for_function("document.getElementById('agent-state').dataset.state === 'available'")
    page.select_option("#practice-scenario", "zh-points-rules")
    page.click("#practice-start")
    page.wait_for_function(
        "[...window.kefuDesk.state.contacts.values()].some((e) => e.contact.scenario_id === 'zh-points-rules'"
        " && e.contact.status === 'active')",
        timeout=30000,
    )
    cid = page.evaluate(
        "[...window.kefuDesk.state.contacts.values()].find((e) => e.contact.scenario_id === 'zh-points-rules'"
        " && e.contact.status === 'active').contact.id"
    )
    page.click(f"#contact-list li[data-contact-id='{cid}']")
    page.fill("#composer", "您好，积分在结算时可以抵扣现金，100 积分抵 1 元。")
    page.click("#send")
    page.wait_for_selector("#messages .msg.agent:not(.pending)")
    page.select_option("#wrap-up-code", index=1)
    page.click("#wrap-up-go")
    page.wait_for_function(f"window.kefuDesk.state.contacts.get({cid}).contact.status === 'closed'")
    page.click("#go-away")
    return cid


def test_every_page_is_translated_and_accessible(live_server, browser_context):
    """No untranslated code, no escape and no serious/critical axe violation on any page of any role."""
    problems: list[str] = []
    checked_axe: set[tuple[str, str]] = set()
    visited = 0
    for role in ROLES:
        page = browser_context().new_page()
        login(page, live_server, role)
        if role == "trainee4":
            _finished_practice(page, live_server)
        for lang in LANGS:
            for path in crawl(page, live_server, role, lang):
                page.goto(f"{live_server}{path}?lang={lang}")
                page.wait_for_timeout(300)  # pages that fill themselves from the socket or an API
                visited += 1
                for hit in untranslated(page.evaluate(VISIBLE_TEXT), lang):
                    problems.append(f"{role} {lang} {path}: {hit}")
                key = (page_kind(path), lang)
                if key in checked_axe:
                    continue
                checked_axe.add(key)
                for v in axe_violations(page):
                    problems.append(f"{role} {lang} {path}: axe {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}")
    assert visited > 40, visited
    assert not problems, "\n".join(problems)
