"""Email evaluators: the standard email format of each reply, forbidden phrases in replies, and reply time
against the SLA.

An email contact's agent turns are ``email.sent`` events (the body text is the event text; ``data`` carries the
ticket number the reply was sent under) and the customer's turns are ``email.received`` events. The format is
recomputed from the recorded text with ``channels.email.format_check.check_email_format`` (a pure function of
the text, the pack, the scenario and that ticket number), so grading never trusts a stored verdict and a
regrade with a changed lexicon gives the new answer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from channels.email.format_check import CHECKS, check_email_format

from ..recording import Event, Recording
from .base import N_, BaseEvaluator, ItemResult, evidence

EMAIL = frozenset({"email"})
Part = Literal["salutation", "acknowledgement", "answer", "next_steps", "closing", "signature"]


def replies(recording: Recording) -> list[Event]:
    """The agent's sent emails, in order."""
    return [e for e in recording.of_type("email.sent") if e.actor == "agent"]


def reply_format(recording: Recording, reply: Event) -> dict:
    """The format check of one recorded reply (see ``check_email_format``)."""
    return check_email_format(
        reply.text or "",
        lang=recording.lang,
        pack=recording.pack,
        ticket_number=reply.fields.ticket_number,
        scenario=recording.scenario,
    )


class EmailFormatParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    part: Part | None = None  # None: all six parts; fraction = parts present / 6 (averaged over the replies)
    replies: Literal["every", "first"] = "every"


class EmailFormat(BaseEvaluator):
    """Each reply has ``part`` of the standard email format (salutation, acknowledgement of the issue, answer,
    next steps with the ticket number and timing, closing, signature), recognised by the channel's format check.

    ``replies`` every: all replies must have it (fraction = share that do); first: only the first reply is
    judged. With no ``part``: fraction = share of the six parts present, pass when all are. Evidence quotes the
    phrase that showed each part, or names the reply that lacks it. N/A when the agent sent no email."""

    name = "email_format"
    channels = EMAIL
    Params = EmailFormatParams

    def evaluate(self, recording: Recording, params: EmailFormatParams) -> ItemResult:
        sent = replies(recording)
        if not sent:
            return ItemResult.na(N_("the agent sent no email"))
        if params.replies == "first":
            sent = sent[:1]
        parts = [params.part] if params.part else list(CHECKS)
        ev, got, total = [], 0, 0
        for reply in sent:
            fmt = reply_format(recording, reply)
            for part in parts:
                total += 1
                if fmt["checks"][part]:
                    got += 1
                    ev.append(evidence(reply, N_("{part}: present", part=part), quote=fmt["evidence"][part]))
                else:
                    if part == "next_steps" and fmt["ticket_number"]:
                        note = N_("{part}: missing (no ticket number with a timing)", part=part)
                    else:
                        note = N_("{part}: missing", part=part)
                    ev.append(evidence(reply, note, quote=""))
        fraction = got / total
        if params.part:
            note = N_(
                "{got} of {total} {part} present in {replies} reply(ies)",
                got=got,
                total=total,
                part=params.part,
                replies=len(sent),
            )
        else:
            note = N_(
                "{got} of {total} format parts present in {replies} reply(ies)", got=got, total=total, replies=len(sent)
            )
        return ItemResult.of(got == total, ev, note, fraction=fraction)


class EmailForbiddenParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmailForbiddenPhrases(BaseEvaluator):
    """No reply uses a forbidden phrase: the pack's forbidden lexicon, the scenario's
    ``expected.forbidden_phrases`` and the email-specific list (no-reply wording, brush-offs). Fails quoting
    each phrase and the reply it is in. N/A when the agent sent no email."""

    name = "email_forbidden_phrases"
    channels = EMAIL
    Params = EmailForbiddenParams

    def evaluate(self, recording: Recording, params: EmailForbiddenParams) -> ItemResult:
        sent = replies(recording)
        if not sent:
            return ItemResult.na(N_("the agent sent no email"))
        ev = []
        for reply in sent:
            for phrase in reply_format(recording, reply)["forbidden"]:
                ev.append(evidence(reply, N_("forbidden phrase"), quote=phrase))
        if ev:
            return ItemResult.of(False, ev, N_("{n} forbidden phrase(s)", n=len(ev)))
        return ItemResult.of(True, [], N_("none in {replies} reply(ies)", replies=len(sent)))


class EmailResponseTimeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    within_seconds: float = Field(3600, gt=0)  # the SLA for answering a customer's email
    clock_from: Literal["received", "assigned"] = "received"
    pass_share: float = Field(1.0, gt=0, le=1)


class EmailResponseTime(BaseEvaluator):
    """Every customer email is answered within the SLA (``within_seconds``), measured from when it was
    received (or, with ``clock_from: assigned``, from when an agent held the contact, if later) to the next
    reply. Several customer emails before one reply are one turn, timed from the first. A turn still open when
    the contact ended counts as late only if it had already waited past the SLA. fraction = share of turns in
    time; pass at ``pass_share``. Evidence: the customer's email and the reply, with the wait. N/A when the
    contact holds no customer email."""

    name = "email_response_time"
    channels = EMAIL
    Params = EmailResponseTimeParams

    def evaluate(self, recording: Recording, params: EmailResponseTimeParams) -> ItemResult:
        turns: list[tuple[Event, Event | None, float]] = []
        waiting: Event | None = None
        start = 0.0
        assigned_at: float | None = None
        end_at: float | None = None
        for e in recording.events:
            if e.type == "assignment" and assigned_at is None:
                assigned_at = e.ts
                if waiting is not None and params.clock_from == "assigned":
                    start = max(start, e.ts)
            elif e.type == "email.received" and waiting is None:
                waiting = e
                start = e.ts
                if params.clock_from == "assigned":
                    start = max(e.ts, assigned_at) if assigned_at is not None else float("inf")
            elif e.type == "email.sent" and e.actor == "agent" and waiting is not None:
                turns.append((waiting, e, max(0.0, e.ts - start)))
                waiting = None
            elif e.type in ("contact.ended", "contact.abandoned", "wrap_up") and end_at is None:
                end_at = e.ts
        if waiting is not None:
            open_for = (end_at - start) if end_at is not None and start != float("inf") else 0.0
            turns.append((waiting, None, max(0.0, open_for)))
        if not turns:
            return ItemResult.na(N_("no customer email in this contact"))
        limit = params.within_seconds
        ev = []
        late = 0
        for mail, reply, wait in turns:
            if wait > limit:
                late += 1
                if reply is None:
                    ev.append(
                        evidence(
                            mail,
                            N_(
                                "unanswered for {wait:.0f} s until the contact ended (SLA {limit:g} s)",
                                wait=wait,
                                limit=limit,
                            ),
                        )
                    )
                else:
                    ev.append(
                        evidence(mail, N_("answered after {wait:.0f} s (SLA {limit:g} s)", wait=wait, limit=limit))
                    )
                    ev.append(evidence(reply, N_("the late reply")))
            elif reply is not None:
                ev.append(evidence(mail, N_("answered after {wait:.0f} s", wait=wait), quote=""))
                ev.append(evidence(reply, N_("the reply"), quote=reply.fields.subject or ""))
        share = (len(turns) - late) / len(turns)
        note = N_(
            "{answered} of {total} customer emails answered within {limit:g} s",
            answered=len(turns) - late,
            total=len(turns),
            limit=limit,
        )
        return ItemResult.of(share >= params.pass_share, ev, note, fraction=share)
