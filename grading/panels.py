"""Grader panels: an odd number (≥ 3) of graders score the manual items of a set of contacts independently; the
median per item becomes the contact's manual score (merged into its scorecard through
``grading.actions.set_manual_scores``), with the spread and agreement statistics for the panel. A calibration
panel also carries an expert key, and each grader is compared with it.

Independence: a grader sees only their own scores for a contact until they have submitted it; leads and admins
see everything. Panel rows never touch the recording (grading reads it, so writing to it would change the next
regrade).
"""

from __future__ import annotations

from statistics import median_low

from sqlalchemy import select

from accounts.models import User
from clock import clock
from contacts.models import Contact
from contacts.views import can_view
from extensions import db
from scenarios import registry

from .actions import GRADABLE_STATUSES, GradingError, current_scorecard, do_grade_contact, set_manual_scores
from .models import Panel, PanelAssignment, PanelScore
from .rubric import Rubric, RubricItem

MANAGERS = ("lead", "admin")


class PanelError(Exception):
    """A refused panel action; ``status`` is the HTTP status a route answers with (400, 403, 404, 409)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def rubric_of(contact_id: int) -> Rubric | None:
    """The rubric of the contact's current scorecard (panels score the manual items of that rubric)."""
    row = current_scorecard(contact_id)
    return registry.get_rubric(row.rubric_id) if row is not None else None


def manual_items(rubric: Rubric | None) -> list[RubricItem]:
    return [i for i in rubric.items if i.scoring == "manual"] if rubric is not None else []


def _ids(values, what: str) -> list[int]:
    out: list[int] = []
    for v in values or ():
        try:
            i = int(v)
        except (TypeError, ValueError) as e:
            raise PanelError(f"{what} ids must be numbers, not {v!r}") from e
        if i not in out:
            out.append(i)
    return out


def open_panel_of(contact_id: int) -> Panel | None:
    """The open panel scoring this contact, if any (a contact is in at most one open panel)."""
    return db.session.scalars(
        select(Panel)
        .join(PanelAssignment, PanelAssignment.panel_id == Panel.id)
        .where(PanelAssignment.contact_id == contact_id, Panel.status == "open")
    ).first()


def do_create_panel(creator: User, contact_ids, grader_ids, name: str, calibration: bool = False) -> Panel:
    """Create a panel: every contact assigned to every grader (an odd number, at least 3, all with the grader
    role). Leads (for contacts of their groups) and admins create panels. Contacts are graded first when they
    have no scorecard; each needs manual items to score and may be in only one open panel. A calibration
    panel adds one expert-key assignment per contact, scored by a lead or admin. Raises PanelError."""
    if creator.role not in MANAGERS:
        raise PanelError("only leads and admins create panels", 403)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise PanelError("give the panel a name of at most 120 characters")
    contacts, graders = _ids(contact_ids, "contact"), _ids(grader_ids, "grader")
    if not contacts:
        raise PanelError("pick at least one contact")
    if len(graders) < 3 or len(graders) % 2 == 0:
        raise PanelError(f"a panel needs an odd number of graders, at least 3 (got {len(graders)})")
    for gid in graders:
        user = db.session.get(User, gid)
        if user is None:
            raise PanelError(f"no user {gid}", 404)
        if user.role != "grader" or not user.active:
            raise PanelError(f"{user.username} is not an active grader")
    for cid in contacts:
        contact = db.session.get(Contact, cid)
        if contact is None:
            raise PanelError(f"no contact {cid}", 404)
        if not can_view(creator, contact):
            raise PanelError(f"contact {cid} is not in your groups", 403)
        if contact.agent_id is None or contact.status not in GRADABLE_STATUSES:
            raise PanelError(f"contact {cid} has not been handled and wrapped up yet")
        busy = open_panel_of(cid)
        if busy is not None:
            raise PanelError(f"contact {cid} is already in open panel #{busy.id}", 409)
        if current_scorecard(cid) is None:
            try:
                do_grade_contact(cid)
            except GradingError as e:
                raise PanelError(str(e)) from e
        if not manual_items(rubric_of(cid)):
            raise PanelError(f"contact {cid}'s rubric has no manual items to score")
    panel = Panel(
        name=name, created_by=creator.id, calibration=bool(calibration), contact_ids=contacts, grader_ids=graders
    )
    db.session.add(panel)
    db.session.flush()
    for cid in contacts:
        for gid in graders:
            db.session.add(PanelAssignment(panel_id=panel.id, contact_id=cid, grader_id=gid))
        if calibration:
            db.session.add(PanelAssignment(panel_id=panel.id, contact_id=cid, grader_id=None, is_key=True))
    db.session.commit()
    return panel


def _assignment_for(user: User, assignment_id) -> PanelAssignment:
    try:
        a = db.session.get(PanelAssignment, int(assignment_id))
    except (TypeError, ValueError):
        a = None
    if a is None:
        raise PanelError(f"no panel assignment {assignment_id}", 404)
    if a.is_key:
        mine = user.role in MANAGERS and may_view_panel(user, db.session.get(Panel, a.panel_id))
    else:
        mine = a.grader_id == user.id
    if not mine:
        raise PanelError("you may score only your own assignments" if not a.is_key else "only leads and admins "
                         "enter the expert key", 403)  # fmt: skip
    if a.status == "submitted":
        raise PanelError("this assignment is already submitted", 409)
    if db.session.get(Panel, a.panel_id).status != "open":
        raise PanelError("this panel is finished", 409)
    return a


def parse_value(item: RubricItem, raw) -> int:
    """A grader's value on the item's scale: yes/no (also true/false, 1/0) or a whole number 0..N."""
    if isinstance(raw, str):
        raw = raw.strip().lower()
        raw = {"yes": 1, "true": 1, "no": 0, "false": 0}.get(raw, raw)
    if isinstance(raw, bool):
        raw = int(raw)
    try:
        value = int(raw)
        if value != float(raw):
            raise ValueError
    except (TypeError, ValueError) as e:
        raise PanelError(f"{item.id}: {raw!r} is not a value on the scale {item.scale}") from e
    if not 0 <= value <= item.scale_max:
        raise PanelError(f"{item.id}: {value} is outside the scale {item.scale}")
    return value


def do_save_panel_score(user: User, assignment_id, scores: dict) -> PanelAssignment:
    """Save (or change) values for manual items of a pending assignment: ``{item_id: value}`` or
    ``{item_id: {"value": v, "note": "..."}}``. Graders save only their own assignments, leads and admins
    the expert key. Unknown item ids and values off the scale are refused before anything is saved."""
    a = _assignment_for(user, assignment_id)
    if not isinstance(scores, dict) or not scores:
        raise PanelError("send scores as {item_id: value}")
    rubric = rubric_of(a.contact_id)
    parsed = []
    for item_id, raw in scores.items():
        item = rubric.item(str(item_id)) if rubric else None
        if item is None or item.scoring != "manual":
            raise PanelError(f"{item_id!r} is not a manual item of this contact's rubric")
        value, note = (raw.get("value"), raw.get("note")) if isinstance(raw, dict) else (raw, None)
        note = (str(note).strip() or None) if note is not None else None
        if note and len(note) > 2000:
            raise PanelError(f"{item.id}: the note is over 2000 characters")
        parsed.append((item.id, parse_value(item, value), note))
    existing = {s.item_id: s for s in db.session.scalars(select(PanelScore).where(PanelScore.assignment_id == a.id))}
    for item_id, value, note in parsed:
        row = existing.get(item_id) or PanelScore(assignment_id=a.id, item_id=item_id)
        row.value, row.note = value, note
        db.session.add(row)
    db.session.commit()
    return a


def do_submit_panel_assignment(user: User, assignment_id) -> PanelAssignment:
    """Submit a scored assignment (every manual item needs a value). When the last grader of a contact
    submits, the median per item is merged into the contact's scorecard and its total recomputed; when every
    grader assignment of the panel is in, the panel is finished. Submitting twice is refused (409)."""
    a = _assignment_for(user, assignment_id)
    needed = {i.id for i in manual_items(rubric_of(a.contact_id))}
    have = set(db.session.scalars(select(PanelScore.item_id).where(PanelScore.assignment_id == a.id)))
    missing = sorted(needed - have)
    if missing:
        raise PanelError(f"score every manual item before submitting; missing: {', '.join(missing)}")
    a.status, a.submitted_at, a.submitted_by = "submitted", clock.timestamp(), user.id
    db.session.commit()
    panel = db.session.get(Panel, a.panel_id)
    if not a.is_key:
        _merge_if_complete(panel, a.contact_id)
    pending = db.session.scalar(
        select(PanelAssignment.id).where(
            PanelAssignment.panel_id == panel.id,
            PanelAssignment.is_key.is_(False),
            PanelAssignment.status != "submitted",
        )
    )
    if pending is None and panel.status == "open":
        panel.status, panel.finished_at = "finished", clock.timestamp()
        db.session.commit()
    return a


def _merge_if_complete(panel: Panel, contact_id: int) -> None:
    rows = _assignments(panel, contact_id)
    graders = [a for a in rows if not a.is_key]
    if any(a.status != "submitted" for a in graders):
        return
    medians = {}
    for item in manual_items(rubric_of(contact_id)):
        values = [scores[item.id] for a in graders if (scores := _values(a)) and item.id in scores]
        medians[item.id] = {
            "value": median_low(values),  # an odd panel: the middle value, always a point on the scale
            "by": f"panel #{panel.id}",
            "note": f"median of {len(values)} graders ({', '.join(str(v) for v in values)})",
        }
    try:
        set_manual_scores(current_scorecard(contact_id), medians)
    except GradingError as e:
        raise PanelError(str(e)) from e


def _assignments(panel: Panel, contact_id: int | None = None) -> list[PanelAssignment]:
    q = select(PanelAssignment).where(PanelAssignment.panel_id == panel.id)
    if contact_id is not None:
        q = q.where(PanelAssignment.contact_id == contact_id)
    return list(db.session.scalars(q.order_by(PanelAssignment.id)))


def _values(a: PanelAssignment) -> dict[str, int]:
    return {s.item_id: s.value for s in db.session.scalars(select(PanelScore).where(PanelScore.assignment_id == a.id))}


def assignment_scores(a: PanelAssignment) -> dict[str, dict]:
    """``{item_id: {"value": v, "note": n}}`` saved in one assignment."""
    rows = db.session.scalars(select(PanelScore).where(PanelScore.assignment_id == a.id))
    return {s.item_id: {"value": s.value, "note": s.note} for s in rows}


def pending_assignment(user: User, contact_id: int) -> PanelAssignment | None:
    """The assignment ``user`` scores for this contact in its open panel: their own, or for a lead/admin the
    pending expert key of a calibration panel."""
    panel = open_panel_of(contact_id)
    if panel is None:
        return None
    for a in _assignments(panel, contact_id):
        if (a.grader_id == user.id and not a.is_key) or (
            a.is_key and user.role in MANAGERS and may_view_panel(user, panel)
        ):
            return a
    return None


def may_view_panel(user: User, panel: Panel) -> bool:
    """Admins every panel; a lead the panels they created or whose contacts are all of their groups; a
    grader the panels they score."""
    if user.role == "admin":
        return True
    if user.role == "lead":
        if panel.created_by == user.id:
            return True
        return all(
            (c := db.session.get(Contact, cid)) is not None and can_view(user, c) for cid in panel.contact_ids or []
        )
    return user.role == "grader" and user.id in (panel.grader_ids or [])


def manual_total(items: list[RubricItem], values: dict[str, int]) -> float:
    """The manual part of a scorecard in points: Σ points × value / scale top."""
    return round(sum(i.points * values[i.id] / i.scale_max for i in items if i.id in values), 4)


def _hidden_for(viewer: User, a: PanelAssignment, mine: PanelAssignment | None) -> bool:
    """Whether ``a``'s values are hidden from ``viewer``: drafts are private; submitted scores are shown to
    leads/admins and to graders who have submitted the same contact themselves."""
    if a.grader_id == viewer.id and not a.is_key:
        return False
    if a.status != "submitted":
        return True
    return not (viewer.role in MANAGERS or (mine is not None and mine.status == "submitted"))


def panel_result(panel: Panel, viewer: User) -> dict:
    """What the panel result page shows to ``viewer``: per contact and manual item each grader's value (or
    "hidden"/"pending"), the median once every grader has submitted, the spread of the submitted values, the
    graders' manual totals; and, for viewers who may see every score, ICC(2,k) on the totals of the complete
    contacts and Fleiss' kappa on their yes/no items (subjects = contact × item, raters = graders)."""
    from .agreement import Agreement, category_counts, fleiss_kappa, icc2k

    graders = [db.session.get(User, g) for g in panel.grader_ids]
    contacts, totals_matrix, yes_no = [], [], []
    for cid in panel.contact_ids:
        rows = _assignments(panel, cid)
        by_grader = {a.grader_id: a for a in rows if not a.is_key}
        key = next((a for a in rows if a.is_key), None)
        mine = by_grader.get(viewer.id)
        values = {g: (None if _hidden_for(viewer, a, mine) else _values(a)) for g, a in by_grader.items()}
        complete = all(a.status == "submitted" for a in by_grader.values())
        sees_all = complete and all(v is not None for v in values.values())
        items = manual_items(rubric_of(cid))
        item_rows = []
        for item in items:
            shown = [v[item.id] for g, v in values.items() if v is not None and by_grader[g].status == "submitted"
                     and item.id in v]  # fmt: skip
            item_rows.append(
                {
                    "id": item.id,
                    "title": item.title,
                    "scale": item.scale,
                    "points": item.points,
                    "scores": {g: (v.get(item.id) if v is not None else None) for g, v in values.items()},
                    "median": median_low(shown) if sees_all and shown else None,
                    "spread": max(shown) - min(shown) if shown else None,
                }
            )
        if complete:
            full = [_values(by_grader[g]) for g in panel.grader_ids]
            totals_matrix.append([manual_total(items, v) for v in full])
            yes_no.extend([v[i.id] for v in full] for i in items if i.scale == "yes_no")
        contacts.append(
            {
                "contact_id": cid,
                "complete": complete,
                "status": {g: a.status for g, a in by_grader.items()},
                "items": item_rows,
                "totals": {g: (manual_total(items, v) if v is not None else None) for g, v in values.items()},
                "key_status": key.status if key is not None else None,
            }
        )
    my_rows = [a for a in _assignments(panel) if a.grader_id == viewer.id and not a.is_key]
    may_see_agreement = viewer.role in MANAGERS or (my_rows and all(a.status == "submitted" for a in my_rows))
    agreement = None
    if may_see_agreement:
        none_yet = Agreement(None, "no contact has every grader's scores yet", 0, len(graders))
        agreement = {
            "icc2k": (icc2k(totals_matrix) if totals_matrix else none_yet).as_dict(),
            "fleiss_kappa": (
                fleiss_kappa(category_counts(yes_no, (0, 1)))
                if yes_no
                else Agreement(None, "no yes/no item scored by every grader yet", 0, len(graders))
            ).as_dict(),  # fmt: skip
        }
    return {"panel": panel, "graders": graders, "contacts": contacts, "agreement": agreement}


def calibration_report(panel: Panel) -> dict:
    """Each grader against the expert key, over the contacts where both have submitted: the mean absolute
    deviation per item (in scale steps) and on the manual totals (in points), and how many items differ."""
    graders = [db.session.get(User, g) for g in panel.grader_ids]
    per = {g.id: {"items": {}, "totals": [], "disagreements": 0, "compared": 0} for g in graders}
    titles: dict[str, str] = {}
    key_contacts = 0
    for cid in panel.contact_ids:
        rows = _assignments(panel, cid)
        key = next((a for a in rows if a.is_key and a.status == "submitted"), None)
        if key is None:
            continue
        key_contacts += 1
        items = manual_items(rubric_of(cid))
        kv = _values(key)
        for a in rows:
            if a.is_key or a.status != "submitted" or a.grader_id not in per:
                continue
            gv, mine = _values(a), per[a.grader_id]
            for item in items:
                titles.setdefault(item.id, item.title)
                d = abs(gv[item.id] - kv[item.id])
                mine["items"].setdefault(item.id, []).append(d)
                mine["compared"] += 1
                mine["disagreements"] += int(d != 0)
            mine["totals"].append(abs(manual_total(items, gv) - manual_total(items, kv)))

    def mean(xs):
        return round(sum(xs) / len(xs), 4) if xs else None

    report = []
    for g in graders:
        mine = per[g.id]
        report.append(
            {
                "grader": g,
                "items": {i: mean(ds) for i, ds in mine["items"].items()},
                "total_mad": mean(mine["totals"]),
                "contacts": len(mine["totals"]),
                "disagreements": mine["disagreements"],
                "compared": mine["compared"],
            }
        )
    return {"panel": panel, "items": titles, "graders": report, "key_contacts": key_contacts}
