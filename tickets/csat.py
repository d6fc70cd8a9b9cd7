"""CSAT: the survey a customer is invited to when a contact ends, and their 1-5 answer."""

from __future__ import annotations

from sqlalchemy import select, update

from clock import clock
from contacts.events import append_event, publish_contact_event
from contacts.lifecycle import set_contact_csat
from contacts.models import Contact
from contacts.transaction import atomic
from extensions import db

from .models import CsatSurvey
from .policy import TicketError, clean_text

CSAT_SCALE = (1, 5)
COMMENT_MAX = 1000


def survey_for(contact: Contact) -> CsatSurvey | None:
    return db.session.scalar(select(CsatSurvey).where(CsatSurvey.contact_id == contact.id))


def do_invite_csat(contact: Contact) -> CsatSurvey:
    """Invite the customer to rate the contact (``csat.invited``, which the customer sees). Idempotent: a
    second call, even a concurrent one, returns the first survey and records nothing."""
    with atomic():  # inside the ending action (contacts.lifecycle.on_ended): one transaction with the end
        existing = survey_for(contact)
        if existing is not None:
            return existing
        survey = CsatSurvey(contact_id=contact.id, invited_at=clock.timestamp())
        db.session.add(survey)
        db.session.flush()  # the unique contact_id refuses a second survey (the end holds the contact's row)
        ev, _ = append_event(
            contact, "csat.invited", "system", data={"survey_id": survey.id, "scale": list(CSAT_SCALE)}
        )
        publish_contact_event(ev)
    return survey


def _clean_score(score) -> int:
    low, high = CSAT_SCALE
    value = None
    if isinstance(score, int) and not isinstance(score, bool):
        value = score
    elif isinstance(score, str) and score.strip().isdigit():
        value = int(score.strip())
    if value is None or not low <= value <= high:
        raise TicketError(f"CSAT score must be a whole number from {low} to {high}, not {score!r}", "score")
    return value


def do_record_csat(contact: Contact, score, comment: str | None = None) -> CsatSurvey:
    """Record the customer's answer (``csat.answered``): a whole number 1-5 and an optional comment. Once only;
    the contact's ``csat`` is set to the score."""
    value = _clean_score(score)
    comment = clean_text(comment, "comment", max_len=COMMENT_MAX)
    survey = survey_for(contact)
    if survey is None:
        raise TicketError(f"no CSAT survey was sent for contact {contact.id}", "score")
    now = clock.timestamp()
    with atomic():
        answered = db.session.execute(
            update(CsatSurvey)
            .where(CsatSurvey.id == survey.id, CsatSurvey.score.is_(None))
            .values(score=value, comment=comment, answered_at=now)
        ).rowcount
        if not answered:
            raise TicketError(f"the CSAT survey for contact {contact.id} was already answered", "score")
        set_contact_csat(contact, value)
        ev, _ = append_event(
            contact, "csat.answered", "customer", text=comment, data={"survey_id": survey.id, "score": value}
        )
        publish_contact_event(ev)
    db.session.refresh(survey)
    return survey
