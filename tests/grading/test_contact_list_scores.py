"""The contact list's score column: read from grading's current scorecards through the reader grading registers
in contacts (contacts imports no grading module)."""

from __future__ import annotations

import re

from contacts.models import Contact
from extensions import db
from grading.models import Scorecard

from .. import factories


def test_contact_list_shows_the_current_scorecards_total(app, client, auth):
    """A contact with a current scorecard shows its total (pass/fail, gate); a superseded row is not shown, and a
    contact without a scorecard has no score."""
    with app.app_context():
        factories.user("g1", role="grader")
        graded = Contact(channel="chat", queue="chat.general", status="closed", lang="en", ended_at=100)
        plain = Contact(channel="chat", queue="chat.general", status="closed", lang="en", ended_at=200)
        db.session.add_all([graded, plain])
        db.session.flush()
        for total, current in ((41.0, False), (87.0, True)):
            db.session.add(Scorecard(contact_id=graded.id, rubric_id="en-chat", level="L4", total=total,
                                     passed=current, gated=current, data={"items": []},
                                     content_hash=f"h{total}", current=current))  # fmt: skip
        db.session.commit()
        graded_id, plain_id = graded.id, plain.id
    auth.login("g1")
    html = client.get("/contacts").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-contact-id="(\d+)">(.*?)</tr>', html, re.S))
    assert re.search(r'class="score pass"[^>]*>87</a> <span class="tag warn">', rows[str(graded_id)])
    assert ">41<" not in rows[str(graded_id)]
    assert 'class="score' not in rows[str(plain_id)]
