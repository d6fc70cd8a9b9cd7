"""Back-office tasks in Chromium (issue 17): a lead assigns a data task and a QA-evaluation task through the tasks
page, the trainee works each on its page and submits, the QA task's coaching notes are graded by a grader, and
the trainee and the lead see the results."""

from __future__ import annotations

import re

from .conftest import login

TRAINEE = "trainee3"  # L3: both tasks are open to that level
DATA = "en-task-data-unresolved-complaints"
QA = "en-task-qa-junior-refund-call"


def _assign(lead, base, spec_id: str) -> int:
    """The lead picks the task and the trainee on /tasks and assigns; returns the new item's id."""
    lead.goto(f"{base}/tasks?lang=en")
    lead.select_option("#assign-form select[name=spec_id]", spec_id)
    tid = lead.evaluate(
        "(u) => [...document.querySelectorAll('#assign-form select[name=trainee_id] option')]"
        ".find((o) => o.textContent.includes(`(${u},`)).value",
        TRAINEE,
    )
    lead.select_option("#assign-form select[name=trainee_id]", tid)
    lead.click("#assign-form button[type=submit]")
    lead.wait_for_load_state()
    flash = lead.inner_text("body")
    found = re.search(r"Work item (\d+) assigned", flash)
    assert found, flash[:500]
    return int(found.group(1))


def _grid(page) -> list[dict]:
    """The records table as the trainee sees it: one dict per row, by column."""
    return page.evaluate(
        """() => {
      const cols = [...document.querySelectorAll('#task-grid thead th')].map((th) => th.dataset.col);
      return [...document.querySelectorAll('#task-grid tbody tr')].map((tr) =>
        Object.fromEntries([...tr.cells].map((td, i) => [cols[i], td.textContent])));
    }"""
    )


def _submit(page) -> None:
    page.once("dialog", lambda d: d.accept())
    page.click("#task-submit")
    page.wait_for_url(re.compile(r"/tasks/\d+/result"))


def test_lead_assigns_trainee_works_and_both_see_the_results(live_server, browser_context):
    """Data task: answers worked out from the page's own records score 100. QA task: scores near the expert key and
    coaching notes are submitted; the grader scores the notes; the trainee's result then shows the full scorecard."""
    ctx = browser_context()
    lead, trainee, grader = ctx.new_page(), browser_context().new_page(), browser_context().new_page()
    login(lead, live_server, "lead")
    login(trainee, live_server, TRAINEE)
    login(grader, live_server, "grader")
    data_id = _assign(lead, live_server, DATA)
    qa_id = _assign(lead, live_server, QA)

    # The data task: read the records on the page, answer the four questions, submit.
    trainee.goto(f"{live_server}/tasks?lang=en")
    trainee.click(f"a[href='/tasks/{data_id}']")
    trainee.wait_for_selector("#task-grid tbody tr")
    rows = _grid(trainee)
    stale = sorted(
        r["id"]
        for r in rows
        if r["category"] == "complaint" and r["status"] != "resolved" and float(r["age_hours"]) > 48
    )
    csat = [float(r["csat"]) for r in rows if r["status"] == "resolved" and r["csat"].strip()]
    answers = {
        "q1": ", ".join(reversed(stale)),
        "q2": str(sum(r["status"] == "open" for r in rows)),
        "q3": f"{100 * sum(r['category'] == 'complaint' for r in rows) / len(rows):.1f}%",
        "q4": f"{sum(csat) / len(csat):.2f}",
    }
    for q, value in answers.items():
        trainee.fill(f"[data-answer={q}]", value)
    _submit(trainee)
    assert trainee.inner_text("#task-total") == "100.00"

    # The QA task: score the recording against the rubric, write coaching notes, submit.
    trainee.goto(f"{live_server}/tasks/{qa_id}?lang=en")
    trainee.wait_for_selector("#qa-grid")
    for item, value in {"greeting": 1, "empathy": 0, "verification": 3, "accuracy": 4, "ownership": 1}.items():
        trainee.select_option(f"[data-score={item}]", str(value))
    trainee.fill(
        "[data-field=notes]",
        "No greeting at the start; acknowledge the customer's feelings; offer to follow up yourself.",
    )
    _submit(trainee)
    assert trainee.is_visible("#task-items tr[data-item=coaching][data-status=pending]")

    # The grader scores the coaching notes; the trainee's result is complete.
    grader.goto(f"{live_server}/tasks/{qa_id}/grade?lang=en")
    assert "No greeting at the start" in grader.inner_text("body")
    grader.select_option("select[name=score-coaching]", "3")
    grader.fill("input[name=note-coaching]", "specific and kind")
    grader.click("button[type=submit].primary")
    grader.wait_for_load_state()
    trainee.goto(f"{live_server}/tasks/{qa_id}/result?lang=en")
    assert trainee.get_attribute("#task-items tr[data-item=coaching]", "data-status") == "pass"
    assert float(trainee.inner_text("#task-total")) > 70

    # The lead's list shows both graded with their scores.
    lead.goto(f"{live_server}/tasks?lang=en")
    for iid in (data_id, qa_id):
        row = lead.inner_text(f"#work-items tr[data-item='{iid}']")
        assert "graded" in row.lower() and re.search(r"\d+\.\d\d", row), row
