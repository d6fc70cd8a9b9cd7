"""Chromium: a real theory exam survives a reload. The lead assigns an exam; the trainee starts it, answers three
questions (autosaved per question), reloads the page and finds the same answers ticked in the same option order;
the submitted result stays hidden until the lead releases it."""

from __future__ import annotations

import pytest

from .conftest import login

pytestmark = pytest.mark.e2e


def _state(page) -> list[dict]:
    """Per question on the page: its id, the option texts in shown order and which inputs are ticked."""
    return page.evaluate(
        """() => [...document.querySelectorAll('fieldset[data-qid]')].map(f => ({
            qid: f.dataset.qid,
            kind: f.dataset.kind,
            labels: [...f.querySelectorAll('label')].map(l => l.textContent.trim()),
            checked: [...f.querySelectorAll('input:checked')].map(i => i.value),
        }))"""
    )


def test_answers_survive_a_reload_and_result_waits_for_release(browser_context, live_server):
    """Answers saved per question are ticked again after a reload; the options keep the candidate's order."""
    lead = browser_context().new_page()
    login(lead, live_server, "lead")
    lead.goto(f"{live_server}/theory/manage")
    target = lead.evaluate(
        "[...document.querySelectorAll('select[name=target] option')].find(o => o.text.includes('trainee_en')).value"
    )
    lead.select_option("select[name=target]", target)
    lead.select_option("select[name=lang]", "en")
    lead.click("#assign-form button[type=submit]")
    lead.wait_for_load_state()

    page = browser_context().new_page()
    login(page, live_server, "trainee_en")
    page.goto(f"{live_server}/theory")
    page.click("#theory-exams button:has-text('Start exam')")
    page.wait_for_selector("fieldset[data-qid]")
    before = _state(page)
    assert len(before) == 100
    picked = {}

    def tick(fieldset, n):
        """Tick the n-th input and wait for its autosave to be answered by the server."""
        with page.expect_response(lambda r: "/answers" in r.url and r.status == 200):
            fieldset.locator("input").nth(n).check()

    for q in before[:3]:
        fieldset = page.locator(f"fieldset[data-qid='{q['qid']}']")
        if q["kind"] == "multiple":
            tick(fieldset, 0)
            tick(fieldset, 2)
            picked[q["qid"]] = ["A", "C"]
        else:
            tick(fieldset, 1)
            picked[q["qid"]] = ["false"] if q["kind"] == "true_false" else ["B"]
    page.locator("#theory-answered", has_text="3").wait_for()

    page.reload()
    page.wait_for_selector("fieldset[data-qid]")
    after = _state(page)
    assert [q["qid"] for q in after] == [q["qid"] for q in before]
    assert [q["labels"] for q in after] == [q["labels"] for q in before]  # same shuffled order after the reload
    for q in after[:3]:
        assert q["checked"] == picked[q["qid"]], q
    assert all(not q["checked"] for q in after[3:])
    assert page.text_content("#theory-answered") == "3"

    page.once("dialog", lambda d: d.accept())
    page.click("#theory-submit")
    page.wait_for_selector("#theory-pending")
    assert page.locator("#theory-score").count() == 0 and page.locator(".theory-key").count() == 0
