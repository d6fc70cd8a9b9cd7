"""A call graded before its transcript landed is graded again once it lands: grading registers that regrade with
the voice channel (channels.voice.transcripts.on_transcript), which imports no grading module."""

from __future__ import annotations

from channels.voice.transcripts import _record_transcript
from contacts.models import Contact, ContactEvent
from extensions import db
from grading import actions
from grading.models import Scorecard

TRANSCRIPT = {"status": "done", "segments": [{"speaker": "agent", "text": "Hello", "start": 0.0, "end": 1.0}]}


def _call(graded: bool) -> int:
    contact = Contact(channel="voice", queue="voice.general", status="closed", lang="en", ended_at=100)
    db.session.add(contact)
    db.session.flush()
    if graded:
        db.session.add(Scorecard(contact_id=contact.id, rubric_id="en-voice", level="L4", total=50.0, passed=False,
                                 data={"items": []}, content_hash="h", current=True))  # fmt: skip
    db.session.commit()
    return contact.id


def test_a_graded_call_is_regraded_when_its_transcript_is_recorded_and_an_ungraded_one_is_not(app, monkeypatch):
    """The transcript is recorded either way; only the call that already had a scorecard is graded again."""
    regraded = []
    monkeypatch.setattr(actions, "do_grade_contact", lambda contact_id: regraded.append(contact_id))
    with app.app_context():
        graded, ungraded = _call(graded=True), _call(graded=False)
        _record_transcript(graded, TRANSCRIPT)
        _record_transcript(ungraded, TRANSCRIPT)
        recorded = db.session.scalars(db.select(ContactEvent.contact_id).where(ContactEvent.type == "call.transcript"))
        assert sorted(recorded) == [graded, ungraded]
    assert regraded == [graded]
