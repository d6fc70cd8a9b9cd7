"""Work-item actions: one ``do_*`` per state change, each one transaction that appends its events and
publishes after the commit. Routes stay thin (validate -> action -> respond)."""

from __future__ import annotations

import contextlib
import random

from sqlalchemy import select, update

from accounts.models import LEVEL_RANK, Group, User
from clock import clock
from contacts.events import send_event
from extensions import db
from grading.exams import ExamError, refresh_skill_exam_result
from grading.models import SkillExam

from . import events
from .content import get_spec
from .kinds import TaskError, get_kind
from .models import WorkItem, WorkItemEvent, WorkItemFile
from .schema import TaskSpec
from .scoring import score
from .uploads import UploadError, kind_of, read

OPEN = ("assigned", "in_progress")


def _append(item: WorkItem, type_: str, actor: User | None, data: dict, text: str | None = None) -> WorkItemEvent:
    """The only writer of WorkItemEvent: validated by the type's schema, numbered per item."""
    item.event_count = (item.event_count or 0) + 1
    ev = WorkItemEvent(work_item_id=item.id, seq=item.event_count, type=type_, actor_id=actor.id if actor else None,
                       data=events.validate(type_, data), text=text, ts=clock.timestamp())  # fmt: skip
    db.session.add(ev)
    return ev


def _publish(item: WorkItem, type_: str) -> None:
    payload = {"type": "work_item", "event": type_, "work_item": {"id": item.id, "status": item.status,
               "title": item.title, "kind": item.kind}}  # fmt: skip
    rooms = [("/floor", "floor")]
    if item.assignee_id:
        rooms.append(("/desk", f"agent:{item.assignee_id}"))
    send_event(payload, rooms)


def _spec(spec_id: str) -> TaskSpec:
    spec = get_spec(spec_id)
    if spec is None:
        raise TaskError(f"no task {spec_id!r} is loaded", 404)
    return spec


def _new_item(spec: TaskSpec, lang: str, seed: int | None) -> WorkItem:
    kind = get_kind(spec.kind)
    seed = random.SystemRandom().randint(1, 2**31 - 1) if seed is None else int(seed)
    data, truth = kind.generate(spec.parsed_params(), seed, lang)
    return WorkItem(spec_id=spec.id, kind=spec.kind, lang=lang, level=spec.level, title=spec.title, seed=seed,
                    spec=spec.model_dump(), data=data, truth=truth, draft={}, manual_scores={})  # fmt: skip


def _spec_lang(spec_id: str) -> str:
    from .models import TaskSpecRecord

    return db.session.get(TaskSpecRecord, spec_id).lang


def may_manage(user: User, trainee: User) -> bool:
    return user.role in ("lead", "admin") and user.leads_group_of(trainee)


def do_assign_work_item(lead: User, spec_id: str, assignee: User, *, seed: int | None = None,
                        exam_id: int | None = None, due_at: float | None = None) -> WorkItem:  # fmt: skip
    """A lead (of the trainee's group) or an admin gives a trainee a work item, its data generated from
    ``seed`` (random when None) so the truth is known."""
    if not may_manage(lead, assignee):
        raise TaskError("only the trainee's lead or an admin may assign work", 403)
    if assignee.role != "trainee":
        raise TaskError(f"{assignee.username} is not a trainee")
    spec = _spec(spec_id)
    if LEVEL_RANK.get(spec.level, 0) > LEVEL_RANK.get(assignee.level or "", 0):
        raise TaskError(f"task {spec_id} is {spec.level}, above {assignee.username}'s level {assignee.level}")
    item = _new_item(spec, _spec_lang(spec_id), seed)
    item.status, item.assignee_id, item.group_id, item.assigned_by_id = (
        "assigned",
        assignee.id,
        assignee.group_id,
        lead.id,
    )
    item.exam_id = exam_id
    item.due_at = due_at if due_at is not None else clock.timestamp() + spec.minutes * 60 * 3
    db.session.add(item)
    db.session.flush()
    _append(item, "work_item.assigned", lead, {"assignee_id": assignee.id, "spec_id": spec.id, "seed": item.seed,
                                               "exam_id": exam_id})  # fmt: skip
    db.session.commit()
    _publish(item, "work_item.assigned")
    return item


def do_queue_work_items(lead: User, spec_id: str, group: Group, count: int = 1) -> list[WorkItem]:
    """Put ``count`` work items in a group's back-office queue; trainees take them with "take next"."""
    if lead.role not in ("lead", "admin") or (lead.role == "lead" and group.lead_id != lead.id):
        raise TaskError("only the group's lead or an admin may queue work for it", 403)
    if not 1 <= int(count) <= 50:
        raise TaskError("queue 1 to 50 items at a time")
    spec = _spec(spec_id)
    lang = _spec_lang(spec_id)
    items = []
    for _ in range(int(count)):
        item = _new_item(spec, lang, None)
        item.status, item.group_id, item.assigned_by_id = "queued", group.id, lead.id
        db.session.add(item)
        db.session.flush()
        _append(item, "work_item.queued", lead, {"group_id": group.id, "spec_id": spec.id, "seed": item.seed})
        items.append(item)
    db.session.commit()
    for item in items:
        _publish(item, "work_item.queued")
    return items


def do_claim_next_work_item(trainee: User) -> WorkItem | None:
    """The trainee takes the oldest queued item of their group at or below their level; a conditional update
    makes two trainees taking at once get different items."""
    if trainee.role != "trainee" or trainee.group_id is None:
        raise TaskError("only a trainee in a group takes queued work", 403)
    ok_levels = [lvl for lvl, r in LEVEL_RANK.items() if r <= LEVEL_RANK.get(trainee.level or "", 0)]
    for _attempt in range(5):
        cand = db.session.scalar(
            select(WorkItem.id)
            .where(WorkItem.group_id == trainee.group_id, WorkItem.status == "queued", WorkItem.level.in_(ok_levels))
            .order_by(WorkItem.id)
            .limit(1)  # fmt: skip
        )
        if cand is None:
            return None
        res = db.session.execute(
            update(WorkItem)
            .where(WorkItem.id == cand, WorkItem.status == "queued")
            .values(status="assigned", assignee_id=trainee.id)  # fmt: skip
        )
        if res.rowcount == 1:
            item = db.session.get(WorkItem, cand)
            db.session.refresh(item)
            spec_minutes = TaskSpec.model_validate(item.spec).minutes
            item.due_at = clock.timestamp() + spec_minutes * 60 * 3
            _append(item, "work_item.claimed", trainee, {"assignee_id": trainee.id})
            db.session.commit()
            _publish(item, "work_item.claimed")
            return item
        db.session.rollback()
    return None


def _own(trainee: User, item: WorkItem) -> None:
    if item.assignee_id != trainee.id:
        raise TaskError("this work item belongs to someone else", 403)


def _still_open(item: WorkItem) -> None:
    if item.status not in OPEN:
        raise TaskError(f"this work item is {item.status}; it can no longer be changed", 409)
    due = item.due_at
    if item.exam_id:  # an exam's work opens when the exam starts and closes when it ends
        exam = db.session.get(SkillExam, item.exam_id)
        if exam is None or exam.status != "running":
            raise TaskError("this work item is part of a skill exam that is not running", 409)
        due = exam.ends_at
    if due is not None and clock.timestamp() > due:
        raise TaskError("the time for this work item is up", 409)


def do_open_work_item(trainee: User, item: WorkItem) -> WorkItem:
    """The trainee opens an assigned item (first time: recorded, the item is in progress)."""
    _own(trainee, item)
    if item.exam_id:  # an exam's work is seen only while the exam runs
        _still_open(item)
    if item.status == "assigned":
        item.status, item.opened_at = "in_progress", clock.timestamp()
        _append(item, "work_item.opened", trainee, {})
        db.session.commit()
        _publish(item, "work_item.opened")
    return item


def do_save_work_item_draft(trainee: User, item: WorkItem, body: dict) -> WorkItem:
    """Save unsubmitted work (validated like a submission, so what is saved can be submitted)."""
    _own(trainee, item)
    _still_open(item)
    kind = get_kind(item.kind)
    draft = kind.clean_submission(kind.Params.model_validate(item.spec["params"]), item.data, body or {})
    item.draft = draft
    if item.status == "assigned":
        item.status, item.opened_at = "in_progress", clock.timestamp()
    _append(item, "work_item.draft_saved", trainee, {"keys": sorted(draft)})
    db.session.commit()
    return item


def latest_files(item: WorkItem) -> dict[str, dict]:
    """File kind -> what was read from the latest upload of that kind."""
    rows = db.session.scalars(
        select(WorkItemFile).where(WorkItemFile.work_item_id == item.id).order_by(WorkItemFile.id)
    )
    return {f.kind: f.extracted for f in rows}


def do_upload_work_item_file(trainee: User, item: WorkItem, filename: str, content: bytes) -> WorkItemFile:
    """Attach an office file. A file that cannot be read is refused with the reason (recorded as
    ``work_item.file_rejected``); nothing saved before is touched."""
    _own(trainee, item)
    _still_open(item)
    kind = get_kind(item.kind)
    try:
        fkind = kind_of(filename)
        if fkind not in kind.uploads:
            raise UploadError(f"this task takes {', '.join('.' + u for u in kind.uploads) or 'no files'}, not .{fkind}")
        extracted = read(fkind, content)
    except UploadError as e:
        db.session.rollback()
        _append(item, "work_item.file_rejected", trainee, {"filename": (filename or "")[:200], "reason": str(e)})
        db.session.commit()
        raise TaskError(str(e)) from e
    f = WorkItemFile(work_item_id=item.id, filename=filename[:200], kind=fkind, size=len(content), content=content,
                     extracted=extracted)  # fmt: skip
    db.session.add(f)
    db.session.flush()
    _append(item, "work_item.file_uploaded", trainee, {"file_id": f.id, "filename": f.filename, "kind": fkind,
                                                       "size": len(content)})  # fmt: skip
    db.session.commit()
    return f


def grade_work_item(item: WorkItem) -> dict:
    """The scorecard of a submitted item from its recording (spec snapshot, data, truth, submission, files,
    manual scores): the same inputs always give the same scorecard."""
    spec = TaskSpec.model_validate(item.spec)
    return score(spec, get_kind(item.kind), item.level, item.data, item.truth, item.submission or {},
                 latest_files(item), item.manual_scores or {})  # fmt: skip


def _store_grade(item: WorkItem, actor: User | None) -> None:
    card = grade_work_item(item)
    item.scorecard, item.total, item.passed = card, card["total"], card["passed"]
    item.status = "graded" if card["complete"] else "submitted"
    if card["complete"]:
        item.graded_at = clock.timestamp()
    _append(item, "work_item.graded", actor, {"total": card["total"], "passed": card["passed"],
                                              "complete": card["complete"], "pending": card["pending"]})  # fmt: skip


def do_submit_work_item(trainee: User, item: WorkItem, body: dict | None = None) -> WorkItem:
    """Submit the work (the body, else the saved draft): automatic items are graded at once; the item is
    graded when no manual item is pending. A second submit is refused."""
    _own(trainee, item)
    _still_open(item)
    kind = get_kind(item.kind)
    params = kind.Params.model_validate(item.spec["params"])
    sub = kind.clean_submission(params, item.data, body) if body else (item.draft or None)
    if sub is None:
        sub = kind.clean_submission(params, item.data, {})
    res = db.session.execute(
        update(WorkItem).where(WorkItem.id == item.id, WorkItem.status.in_(OPEN)).values(status="submitted")
    )
    if res.rowcount != 1:
        db.session.rollback()
        raise TaskError("this work item was submitted already", 409)
    db.session.refresh(item)
    item.submission, item.submitted_at = sub, clock.timestamp()
    _append(item, "work_item.submitted", trainee, {})
    _store_grade(item, None)
    db.session.commit()
    _publish(item, "work_item.submitted")
    return item


def may_grade(user: User, item: WorkItem) -> bool:
    if user.role in ("grader", "admin"):
        return True
    trainee = db.session.get(User, item.assignee_id) if item.assignee_id else None
    return trainee is not None and may_manage(user, trainee)


def do_score_work_item(grader: User, item: WorkItem, scores: dict) -> WorkItem:
    """A grader (or the trainee's lead) scores manual items: ``{item_id: {"value": 0..N | "na", "note"}}``;
    the scorecard is recomputed (the lead's approval of a KB article is such an item)."""
    if not may_grade(grader, item):
        raise TaskError("you may not grade this work item", 403)
    if item.status not in ("submitted", "graded"):
        raise TaskError("work is graded after it is submitted", 409)
    spec = TaskSpec.model_validate(item.spec)
    manual = {i.id: i for i in spec.items if i.scoring == "manual"}
    merged = dict(item.manual_scores or {})
    for iid, entry in (scores or {}).items():
        if iid not in manual:
            raise TaskError(f"{iid!r} is not a manual item of this task")
        value = entry.get("value") if isinstance(entry, dict) else entry
        if value in (None, ""):
            continue
        if value != "na":
            try:
                value = int(value)
            except (TypeError, ValueError) as e:
                raise TaskError(f"{iid}: a score is a whole number or na") from e
            if not 0 <= value <= manual[iid].scale_max:
                raise TaskError(f"{iid}: a score is from 0 to {manual[iid].scale_max}")
        note = str(entry.get("note") or "")[:2000] if isinstance(entry, dict) else ""
        merged[iid] = {"value": value, "note": note, "by": grader.username}
    item.manual_scores = merged
    _append(item, "work_item.manual_scored", grader, {"items": {k: v["value"] for k, v in merged.items()}})
    _store_grade(item, grader)
    db.session.commit()
    _publish(item, "work_item.graded")
    if item.exam_id:
        _refresh_exam(item.exam_id)
    return item


def _refresh_exam(exam_id: int) -> None:
    exam = db.session.get(SkillExam, exam_id)
    if exam is not None and exam.status in ("finished", "graded"):
        with contextlib.suppress(ExamError):  # grading says why it cannot refresh; the scores are stored
            refresh_skill_exam_result(exam)


def result_withheld(user: User, item: WorkItem) -> bool:
    """An exam's work item: its candidate sees the grade only once the lead released the exam result."""
    if not item.exam_id or user.id != item.assignee_id:
        return False
    exam = db.session.get(SkillExam, item.exam_id)
    return exam is not None and exam.released_at is None
