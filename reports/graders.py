"""The grader report, read from the panel tables (grading_panels, grading_panel_assignments,
grading_panel_scores): agreement per panel and each grader's deviation.

Per panel, over the contacts every grader has submitted: ICC(2,k) on the graders' manual totals and Fleiss'
kappa on the yes/no items (grading.agreement). Per grader, over those same complete contacts of every panel:
items compared, the mean absolute deviation from the panel's median (in scale steps), the share of items equal
to the median, and, on calibration panels, the mean absolute deviation of the manual total from the expert key
(grading.panels.calibration_report).
"""

from __future__ import annotations

from collections import defaultdict
from statistics import median_low

from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import User
from extensions import db
from grading.agreement import category_counts, fleiss_kappa, icc2k
from grading.models import Panel, PanelAssignment, PanelScore
from grading.panels import calibration_report, manual_items, manual_total, rubric_of


def _values(assignment_id: int) -> dict[str, int]:
    rows = db.session.scalars(select(PanelScore).where(PanelScore.assignment_id == assignment_id))
    return {s.item_id: s.value for s in rows}


def grader_report() -> dict:
    """Agreement per panel and deviation per grader; ``empty`` when no panel exists yet."""
    panels = list(db.session.scalars(select(Panel).order_by(Panel.id)))
    dev: dict[int, list[float]] = defaultdict(list)
    same: dict[int, list[int]] = defaultdict(list)
    submitted: dict[int, int] = defaultdict(int)
    key_mad: dict[int, list[float]] = defaultdict(list)
    panel_rows = []
    for panel in panels:
        totals, yes_no = [], []
        for cid in panel.contact_ids or []:
            rows = db.session.scalars(
                select(PanelAssignment).where(
                    PanelAssignment.panel_id == panel.id,
                    PanelAssignment.contact_id == cid,
                    PanelAssignment.is_key.is_(False),
                )
            ).all()
            for a in rows:
                submitted[a.grader_id] += a.status == "submitted"
            if not rows or any(a.status != "submitted" for a in rows):
                continue
            items = manual_items(rubric_of(cid))
            vals = {a.grader_id: _values(a.id) for a in rows}
            order = [g for g in panel.grader_ids if g in vals]
            totals.append([manual_total(items, vals[g]) for g in order])
            for item in items:
                scored = [vals[g][item.id] for g in order if item.id in vals[g]]
                if len(scored) != len(order):
                    continue
                med = median_low(scored)
                for g in order:
                    dev[g].append(abs(vals[g][item.id] - med))
                    same[g].append(int(vals[g][item.id] == med))
                if item.scale == "yes_no":
                    yes_no.append(scored)
        icc = icc2k(totals).as_dict() if totals else {"value": None, "reason": _("no complete contact yet")}
        kappa = (
            fleiss_kappa(category_counts(yes_no, (0, 1))).as_dict()
            if yes_no
            else {"value": None, "reason": _("no yes/no item")}
        )
        if panel.calibration:
            for row in calibration_report(panel)["graders"]:
                if row["total_mad"] is not None:
                    key_mad[row["grader"].id].append(row["total_mad"])
        panel_rows.append(
            [panel.id, panel.name, _("yes") if panel.calibration else _("no"), panel.status,
             len(panel.contact_ids or []), len(totals), icc["value"] if icc["value"] is not None else icc["reason"],
             kappa["value"] if kappa["value"] is not None else kappa["reason"]]
        )  # fmt: skip
    grader_ids = sorted({g for p in panels for g in (p.grader_ids or [])})
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(grader_ids or [-1])))}
    grader_rows = []
    for g in grader_ids:
        d, s, k = dev.get(g, []), same.get(g, []), key_mad.get(g, [])
        grader_rows.append(
            [users[g].display_name if g in users else g, submitted.get(g, 0), len(d),
             round(sum(d) / len(d), 4) if d else "", round(sum(s) / len(s), 4) if s else "",
             round(sum(k) / len(k), 4) if k else ""]
        )  # fmt: skip
    return {
        "kind": "graders",
        "title": _("Grader report"),
        "empty": not panels,
        "summary": [(_("Panels"), len(panels)), (_("Graders"), len(grader_ids))],
        "sections": [
            {
                "key": "panels",
                "title": _("Agreement per panel"),
                "columns": [
                    "#",
                    _("Panel"),
                    _("Calibration"),
                    _("Status"),
                    _("Contacts"),
                    _("Complete contacts"),
                    "ICC(2,k)",
                    _("Fleiss' kappa"),
                ],
                "rows": panel_rows,
            },
            {
                "key": "graders",
                "title": _("Deviation per grader"),
                "columns": [
                    _("Grader"),
                    _("Submitted"),
                    _("Items compared"),
                    _("Mean |score - median|"),
                    _("Agreement with median"),
                    _("Total deviation from key"),
                ],
                "rows": grader_rows,
            },
        ],  # fmt: skip
        "charts": {"bars": [(r[0], r[4]) for r in grader_rows if r[4] != ""]},
    }
