"""The contacts auto-grading could not grade (``UngradeableContact``), as the panels page lists them to leads and
graders under "Could not be graded": who handled each, its scenario and channel, the reason and when it was found.

Scoped as every contact is (accounts/scope.py, ``may_see_contact``): graders and admins see every listed contact; a
lead those of the agents they supervise (their groups' members and themselves), and one nobody holds or is reserved
for; anyone else none. The rule is applied in the query, so a lead's page does not read the whole centre's list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from accounts.models import User
from accounts.scope import supervised_ids
from contacts.models import Contact
from extensions import db

from .models import UngradeableContact

LIMIT = 200  # the newest; the rest are for `flask grading regrade --ungradeable`
# What kind of reason a recorded one is (grading/actions.py's GradingError messages), in the reader's language: the
# message itself is English, kept beside it for whoever fixes the cause.
REASONS = (
    (re.compile(r"was never handled by an agent"), _l("Never handled by an agent")),
    (re.compile(r"^no \S+ rubric in "), _l("No rubric for its channel, language and level")),
    (re.compile(r"could not be loaded"), _l("Its recording could not be loaded")),
    (re.compile(r"^no contact "), _l("The contact no longer exists")),
    # grading.regrade.NOT_STORED: the database refused the scorecard (its old one, if any, stays current)
    (re.compile(r"^its scorecard could not be stored"), _l("Its new scorecard could not be stored")),
)


def reason_label(reason: str):
    """The kind of a recorded reason, as a label in the request's language."""
    for pattern, label in REASONS:
        if pattern.search(reason or ""):
            return label
    return _l("Grading failed")


@dataclass(frozen=True)
class UngradeableRow:
    contact_id: int
    trainee: str | None
    scenario_id: str | None
    channel: str
    reason: str
    recorded_at: float

    @property
    def reason_label(self):
        return reason_label(self.reason)


def ungradeable_for(user, limit: int = LIMIT) -> tuple[list[UngradeableRow], int]:
    """The listed contacts ``user`` may see, newest first (up to ``limit``), and how many there are in all."""
    if user.role in ("grader", "admin"):
        scope = None
    elif user.role == "lead":
        ids = supervised_ids(user) or set()
        holder = func.coalesce(Contact.agent_id, Contact.reserved_agent_id)  # scope.holder_id, in SQL
        scope = or_(holder.in_(ids), holder.is_(None))
    else:
        return [], 0
    q = select(UngradeableContact, Contact).join(Contact, Contact.id == UngradeableContact.contact_id)
    count = (
        select(func.count()).select_from(UngradeableContact).join(Contact, Contact.id == UngradeableContact.contact_id)
    )
    if scope is not None:
        q, count = q.where(scope), count.where(scope)
    rows = db.session.execute(
        q.order_by(UngradeableContact.recorded_at.desc(), UngradeableContact.contact_id.desc()).limit(limit)
    ).all()
    holders = {c.agent_id or c.reserved_agent_id for _, c in rows} - {None}
    names = (
        {u.id: u.display_name or u.username for u in db.session.scalars(select(User).where(User.id.in_(holders)))}
        if holders
        else {}
    )
    listed = [
        UngradeableRow(
            contact_id=c.id,
            trainee=names.get(c.agent_id or c.reserved_agent_id),
            scenario_id=c.scenario_id,
            channel=c.channel,
            reason=u.reason,
            recorded_at=u.recorded_at,
        )
        for u, c in rows
    ]
    return listed, int(db.session.scalar(count) or 0)
