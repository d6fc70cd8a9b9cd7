"""The leads' calibration page: a bad upload is refused naming the file and event (nothing kept); a good one is
replayed by the calibrate command in a process of its own, and its report is shown and exported as XLSX."""

from __future__ import annotations

import io
import json
import time

import pytest

# One session written for this test (not an examiner's): a short, correct delivery-status chat.
SESSION = {
    "id": "PAGE-1",
    "scenario": "en-delivery-status",
    "level": "L4",
    "lang": "en",
    "events": [
        [0, "customer", "say", "Hello, my smartwatch order hasn't arrived yet, where is it?"],
        [6, "agent", "say", "Hi, this is Jo from Kefu Mall. Could you give me the order number?"],
        [15, "customer", "say", "It's US2505280011."],
        [20, "agent", "action", {"crm_lookup": {"query": "US2505280011"}}],
        [30, "agent", "say", "Thanks! It is at the Columbus hub and will be delivered on June 1."],
        [40, "customer", "say", "Great, thank you."],
        [45, "agent", "say", "Anything else I can help with today?"],
        [50, "customer", "say", "No, that's all."],
        [55, "agent", "action", {"close": {"wrapup": "ENQ_DELIVERY"}}],
    ],
    "verdict": {"pass": True, "total": [85, 100], "gates_failed": [], "items": {"greeting": True}},
}


@pytest.fixture
def lead(app, client, auth, make_user, tmp_path):
    app.config["CALIBRATION_DIR"] = str(tmp_path / "calibration")
    make_user("lina", role="lead")
    auth.login("lina")
    return client


def _upload(client, name, body: bytes):
    return client.post(
        "/review/calibration",
        data={"sessions": (io.BytesIO(body), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def test_a_bad_file_is_refused_naming_it_and_the_event(lead, tmp_path):
    bad = dict(SESSION, events=[[0, "customer", "say", "hi"], [1, "agent", "action", {"teleport": {}}]])
    page = _upload(lead, "mine.json", json.dumps(bad).encode())
    assert b"mine.json: event 1: unknown action" in page.data
    assert not any((tmp_path / "calibration").glob("*/sessions/*.json"))


def test_only_leads_and_admins_reach_the_page(client, auth, make_user):
    make_user("tia")
    auth.login("tia")
    assert client.get("/review/calibration").status_code == 403


def test_a_run_replays_the_upload_and_exports_its_report(lead):
    page = _upload(lead, "page-1.json", json.dumps(SESSION).encode())
    assert page.status_code == 200
    run_id = page.request.path.rsplit("/", 1)[-1]
    state = {}
    for _ in range(300):  # the replay process loads both packs and replays the chat (~30-60 s here)
        state = lead.get(f"/review/calibration/{run_id}?format=json").get_json()
        if state["state"] != "running":
            break
        time.sleep(1)
    assert state["state"] == "done", state
    report = state["report"]
    assert report["n"] == 1 and report["sessions"][0]["id"] == "PAGE-1"
    assert report["sessions"][0]["replay_problems"] == []
    assert report["sessions"][0]["grader"]["total"] is not None
    shown = lead.get(f"/review/calibration/{run_id}")
    assert b"PAGE-1" in shown.data and b"cal-xlsx" in shown.data
    xlsx = lead.get(f"/review/calibration/{run_id}/report.xlsx")
    assert xlsx.status_code == 200
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(xlsx.data))
    assert len(wb.sheetnames) == 3 and wb.worksheets[1]["A2"].value == "PAGE-1"
