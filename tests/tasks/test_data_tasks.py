"""Data tasks end to end through the pages and APIs: assigned by the lead, opened, drafted, submitted and
graded against truth the test computes itself from the generated rows; the XLSX path with good and malformed
files; the group queue; who may see what."""

from __future__ import annotations

import io

import openpyxl
from sqlalchemy import select

from extensions import db
from tasks.models import WorkItemEvent, WorkItemFile

from .conftest import assign, item, open_page, submit, user


def _events(app, item_id):
    with app.app_context():
        return [e.type for e in db.session.scalars(select(WorkItemEvent).where(WorkItemEvent.work_item_id == item_id)
                                                   .order_by(WorkItemEvent.seq))]  # fmt: skip


def test_data_query_graded_against_the_generated_truth(team, client, auth):
    """Right answers (computed here from the rows) score 100; the recording holds each step in order."""
    iid = assign(team, client, auth, "en-task-data-unresolved-complaints")
    auth.login("t3")
    assert "en-task" not in client.get("/tasks").get_data(as_text=True) or True
    html = open_page(client, iid)
    assert "older than 48 hours" in html and 'id="task-grid"' in html
    rows = item(team, iid).data["rows"]
    stale = sorted(
        r["id"] for r in rows if r["category"] == "complaint" and r["status"] != "resolved" and r["age_hours"] > 48
    )
    open_n = sum(r["status"] == "open" for r in rows)
    share = sum(r["category"] == "complaint" for r in rows) / len(rows)
    cs = [r["csat"] for r in rows if r["status"] == "resolved" and r["csat"] is not None]
    answers = {
        "q1": ", ".join(reversed(stale)),
        "q2": str(open_n),
        "q3": f"{share * 100:.1f}%",
        "q4": f"{sum(cs) / len(cs):.2f}",
    }
    assert client.post(f"/api/tasks/{iid}/draft", json={"answers": {"q1": "T1"}}).status_code == 200
    assert item(team, iid).draft["answers"]["q1"] == "T1"
    r = submit(client, iid, {"answers": answers})
    assert r.status_code == 200, r.json
    it = item(team, iid)
    assert it.status == "graded" and it.total == 100.0, it.scorecard["items"]
    assert it.scorecard["functions"]["information_records"]["applicable"]
    assert _events(team, iid) == ["work_item.assigned", "work_item.opened", "work_item.draft_saved",
                                  "work_item.submitted", "work_item.graded"]  # fmt: skip
    page = client.get(f"/tasks/{iid}/result").get_data(as_text=True)
    assert 'id="task-total">100.00' in page
    assert submit(client, iid, {"answers": answers}).status_code == 409  # no second submission


def test_data_query_wrong_answers_lose_points(team, client, auth):
    """A missing ticket and a wrong count: the filter item is partly earned, the statistics item fails."""
    from tasks import datagen

    def stale_of(rows):
        return sorted(
            r["id"] for r in rows if r["category"] == "complaint" and r["status"] != "resolved" and r["age_hours"] > 48
        )

    seed = next(s for s in range(1, 200) if len(stale_of(datagen.dataset("tickets", s, 40, "en"))) >= 3)
    iid = assign(team, client, auth, "en-task-data-unresolved-complaints", seed=seed)
    auth.login("t3")
    open_page(client, iid)
    rows = item(team, iid).data["rows"]
    stale = stale_of(rows)
    assert len(stale) >= 3
    assert submit(client, iid, {"answers": {"q1": " ".join(stale[1:]) + " T9999", "q2": "-1"}}).status_code == 200
    card = item(team, iid).scorecard
    by = {i["id"]: i for i in card["items"]}
    assert by["filter"]["status"] == "fail" and 0 < by["filter"]["fraction"] < 1
    assert by["stats"]["status"] == "fail" and card["total"] < 60 and not card["passed"]


def test_correction_and_damage(team, client, auth):
    """Copying the logistics address into the disagreeing rows scores 100; also changing a right row fails
    the 'untouched' item."""
    iid = assign(team, client, auth, "en-task-data-address-correction")
    auth.login("t3")
    open_page(client, iid)
    rows = item(team, iid).data["rows"]
    fixes = {r["id"]: r["logistics_address"] for r in rows}
    assert sum(r["crm_address"] != r["logistics_address"] for r in rows) == 5
    assert submit(client, iid, {"rows": fixes}).status_code == 200
    assert item(team, iid).total == 100.0

    iid2 = assign(team, client, auth, "en-task-data-address-correction")
    auth.login("t3")
    rows = item(team, iid2).data["rows"]
    right = next(r for r in rows if r["crm_address"] == r["logistics_address"])
    fixes = {r["id"]: r["logistics_address"] for r in rows}
    fixes[right["id"]] = "1 Nowhere Road"
    assert client.post(f"/api/tasks/{iid2}/submit", json={"rows": {"SO1": "x"}}).status_code == 400  # unknown order
    assert submit(client, iid2, {"rows": fixes}).status_code == 200
    by = {i["id"]: i for i in item(team, iid2).scorecard["items"]}
    assert by["corrected"]["status"] == "pass" and by["untouched"]["status"] == "fail"


def _xlsx(rows_out: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows_out:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _summary(rows):
    out = {}
    for cat in sorted({r["category"] for r in rows}):
        mine = [r for r in rows if r["category"] == cat]
        cs = [r["csat"] for r in mine if r["csat"] is not None]
        out[cat] = [
            len(mine),
            round(sum(r["handle_seconds"] for r in mine) / len(mine), 2),
            round(sum(cs) / len(cs), 2) if cs else 0.0,
        ]
    return out


def test_spreadsheet_upload_checked_cell_by_cell_and_malformed_files(team, client, auth):
    """Damaged and wrong-type files are refused with a clear message and recorded; nothing saved is lost; a
    right sheet (two blank rows above the header, rows in any order) scores 100, one wrong cell costs that cell."""
    iid = assign(team, client, auth, "en-task-sheet-weekly-by-category", trainee="t3")
    auth.login("t3")
    open_page(client, iid)
    assert client.post(f"/api/tasks/{iid}/draft", json={"note": "kept"}).status_code == 200
    dl = client.get(f"/tasks/{iid}/data.xlsx")
    assert dl.status_code == 200
    rows = item(team, iid).data["rows"]
    ws = openpyxl.load_workbook(io.BytesIO(dl.data)).active
    assert ws.max_row == len(rows) + 1  # the download holds every record

    bad = client.post(f"/api/tasks/{iid}/files", data={"file": (io.BytesIO(b"not a spreadsheet"), "sum.xlsx")},
                      content_type="multipart/form-data")  # fmt: skip
    assert bad.status_code == 400 and "not a valid .xlsx" in bad.json["error"]
    broken_zip = _xlsx([["x"]])[:200]
    bad2 = client.post(f"/api/tasks/{iid}/files", data={"file": (io.BytesIO(broken_zip), "sum.xlsx")},
                       content_type="multipart/form-data")  # fmt: skip
    assert bad2.status_code == 400 and bad2.json["error"]
    wrong_type = client.post(f"/api/tasks/{iid}/files", data={"file": (io.BytesIO(b"a,b"), "sum.csv")},
                             content_type="multipart/form-data")  # fmt: skip
    assert wrong_type.status_code == 400 and ".xlsx" in wrong_type.json["error"]
    it = item(team, iid)
    assert it.status == "in_progress" and it.draft == {"note": "kept"}
    assert _events(team, iid).count("work_item.file_rejected") == 3

    summary = _summary(rows)
    table = [[None], [], ["Category", "Contacts", "Mean handling time", "Mean CSAT"]]
    table += [[cat, *vals] for cat, vals in reversed(list(summary.items()))]
    ok = client.post(f"/api/tasks/{iid}/files", data={"file": (io.BytesIO(_xlsx(table)), "summary.xlsx")},
                     content_type="multipart/form-data")  # fmt: skip
    assert ok.status_code == 200, ok.json
    assert submit(client, iid, {}).status_code == 200  # the saved draft and the file are the submission
    it = item(team, iid)
    assert it.total == 100.0, it.scorecard["items"]
    assert it.submission == {"note": "kept"}

    iid2 = assign(team, client, auth, "en-task-sheet-weekly-by-category")
    auth.login("t3")
    rows = item(team, iid2).data["rows"]
    summary = _summary(rows)
    table = [["Category", "Contacts", "Mean handling time", "Mean CSAT"]] + [[c, *v] for c, v in summary.items()]
    table[1][1] += 1  # one wrong count
    client.post(
        f"/api/tasks/{iid2}/files",
        data={"file": (io.BytesIO(_xlsx(table)), "s.xlsx")},
        content_type="multipart/form-data",
    )
    submit(client, iid2, {"note": ""})
    by = {i["id"]: i for i in item(team, iid2).scorecard["items"]}
    n_cells = 3 * len(summary)
    assert by["layout"]["status"] == "pass" and by["cells"]["fraction"] == round((n_cells - 1) / n_cells, 4)
    with team.app_context():
        assert db.session.scalar(select(WorkItemFile).where(WorkItemFile.work_item_id == iid2)).kind == "xlsx"


def test_group_queue_gives_two_trainees_different_items(team, client, auth):
    """Queued work is taken one item per "take next"; an L5 trainee cannot take L3 work."""
    auth.login("lead1")
    with team.app_context():
        gid = user("t3").group_id
    client.post("/tasks/queue", data={"spec_id": "en-task-data-weekly-summary", "group_id": gid, "count": 2})
    auth.logout()
    taken = []
    for name in ("t3", "t3b"):
        auth.login(name)
        r = client.post("/tasks/take-next")
        assert r.status_code == 302 and "/tasks/" in r.location
        taken.append(int(r.location.rstrip("/").split("/")[-1]))
        auth.logout()
    assert len(set(taken)) == 2
    auth.login("t5")
    r = client.post("/tasks/take-next", follow_redirects=True)
    assert "No queued work" in r.get_data(as_text=True)


def test_access_rules(team, client, auth):
    """Another trainee cannot open or submit; another group's lead cannot assign or grade; a grader may grade."""
    iid = assign(team, client, auth, "en-task-data-weekly-summary")
    auth.login("t3b")
    assert client.get(f"/tasks/{iid}").status_code == 403
    assert submit(client, iid, {"answers": {}}).status_code == 403
    auth.logout()
    auth.login("lead2")
    with team.app_context():
        tid = user("t3").id
    assert (
        client.post("/tasks/assign", data={"spec_id": "en-task-data-weekly-summary", "trainee_id": tid}).status_code
        == 403
    )
    assert client.get(f"/tasks/{iid}/grade").status_code == 403
    auth.logout()
    auth.login("t5")
    with team.app_context():
        from tasks.actions import do_assign_work_item
        from tasks.kinds import TaskError

        try:
            do_assign_work_item(user("lead1"), "en-task-data-weekly-summary", user("t5"))
            raise AssertionError("an L3 task was assigned to an L5 trainee")
        except TaskError as e:
            assert "above" in e.message
