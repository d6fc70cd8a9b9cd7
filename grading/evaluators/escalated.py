"""Evaluators of contacts passed up the line and of customer care at the senior levels (standard L4/1.2.1,
L4/2.3.1, L4/2.4.1, L3/2.1.2, L3/2.1.3, L3/2.2.2).

A contact is *passed up* when it reached the trainee from a colleague: a ``transfer`` recorded before the
trainee's own ``assignment``, or a scenario whose story starts after a junior's hand-off (one of the rubric's
``tags`` on the scenario: "passed up", "转派"). Only what the trainee did after taking the contact over counts: a
junior's messages and desk actions before the transfer are theirs, not the trainee's.

Each evaluator is N/A when its occasion did not arise (the contact was not passed up, the case carries no high
risk, the trainee's level is not one of ``levels``), so adding its item to a channel's standard rubric changes
nothing for the other scenarios. What the trainee's words did is the shared reading (grading.phrases)."""

from __future__ import annotations

from abc import abstractmethod

from pydantic import BaseModel, ConfigDict, Field

from ..phrases import agent_readings, reading_has
from ..recording import Event, Recording
from .base import N_, BaseEvaluator, Evidence, ItemResult, evidence, join_notes

# The ticket risk scale, lowest first (tickets.models.RISK_LEVELS; repeated so grading reads no other package).
RISK_ORDER = ("none", "low", "medium", "high", "crisis")
DESK_LOOKUPS = ("crm.lookup", "crm.open", "crm.verify", "ticket.linked", "kb.open")
TEXT_CHANNELS = frozenset({"chat"})
DESK_CHANNELS = frozenset({"chat", "email", "voice", "video"})


class OccasionParams(BaseModel):
    """When an item applies: ``levels`` of the trainee (empty: every level)."""

    model_config = ConfigDict(extra="forbid")
    levels: list[str] = []


class PassedUpParams(OccasionParams):
    tags: list[str] = []  # scenario tags that mark a case passed up by a colleague before the trainee got it


def takeover(recording: Recording) -> Event | None:
    """The trainee's own assignment: the last ``assignment`` to the contact's agent (or the last one)."""
    mine = [e for e in recording.of_type("assignment") if e.fields.agent_id == recording.agent_id]
    return (mine or recording.of_type("assignment") or [None])[-1]


def passed_up(recording: Recording, tags: list[str]) -> Evidence | None:
    """Evidence that the contact came up the line to the trainee, or None."""
    took = takeover(recording)
    if took is not None and (took.fields.after_transfer or _transfers_before(recording, took)):
        note = N_("taken over after a transfer")
        return evidence(took, note, quote="")
    sc = recording.scenario
    hit = next((t for t in (sc.tags if sc else []) if t in tags), None)
    if hit is not None:
        return evidence(None, N_("the case reaches the trainee passed up by a colleague (tag {tag})", tag=hit))
    return None


def _transfers_before(recording: Recording, took: Event) -> bool:
    return any(e.seq < took.seq for e in recording.of_type("transfer"))


def _since_takeover(recording: Recording) -> list[Event]:
    took = takeover(recording)
    return [e for e in recording.events if took is None or e.seq > took.seq]


def _readings_since(recording: Recording) -> list[tuple[Event, object]]:
    took = takeover(recording)
    return [(m, r) for m, r in agent_readings(recording) if took is None or m.seq > took.seq]


def _first_act(readings, act: str) -> Event | None:
    return next((m for m, r in readings if reading_has(r, act)), None)


def _ev(event: Event | None, note: str, quote: str | None = None) -> Evidence | None:
    """Evidence of a part done, or None when ``event`` is None (the part was not done)."""
    return evidence(event, note, quote=quote) if event is not None else None


def _risk(level):
    """A ticket risk level as a note of its own, so the scorecard shows it by its label ("危机", not "crisis")."""
    return N_(level) if level in RISK_ORDER else level


def _not_applicable(recording: Recording, params: OccasionParams) -> ItemResult | None:
    """N/A when the item's occasion did not arise: the trainee's level is not one of ``levels`` or, for an item
    with ``tags`` (PassedUpParams), the contact was not passed up. None when the item applies."""
    if params.levels and recording.level not in params.levels:
        return ItemResult.na(
            N_("applies to trainees at {levels}, not {level}", levels=", ".join(params.levels), level=recording.level)
        )
    if isinstance(params, PassedUpParams) and passed_up(recording, params.tags) is None:
        return ItemResult.na(N_("the contact was not passed up"))
    return None


class OccasionEvaluator(BaseEvaluator):
    """An item of this module: N/A when its occasion did not arise (``_not_applicable``), else what ``assess``
    finds, so every item opens with the same level and passed-up guard."""

    def evaluate(self, recording: Recording, params: OccasionParams) -> ItemResult:
        skip = _not_applicable(recording, params)
        return skip if skip is not None else self.assess(recording, params)

    @abstractmethod
    def assess(self, recording: Recording, params: OccasionParams) -> ItemResult:
        """Grade a recording the item applies to."""


def _parts(parts: list[tuple[str, Evidence | None, Evidence]], what: str) -> ItemResult:
    """``parts``: (name, evidence when done else None, evidence when missing); pass when every part is done."""
    done = [p for p in parts if p[1] is not None]
    ev = [p[1] if p[1] is not None else p[2] for p in parts]
    missing = [p[0] for p in parts if p[1] is None]
    note = N_("{done} of {n} {what}", done=len(done), n=len(parts), what=what)
    if missing:
        note = N_("{note}; missing: {missing}", note=note, missing=", ".join(missing))
    return ItemResult.of(not missing, ev, note, fraction=len(done) / len(parts))


class EscalatedEnquiry(OccasionEvaluator):
    """L4/1.2.1: an enquiry passed up the line is handled in the chat. After taking it over the trainee (1) looks
    the case up in the system (CRM, the linked ticket or the KB) instead of starting from nothing, (2) shows the
    customer, who has already told their story once, empathy, and (3) gives the answer (the scenario's correct
    answer, as the shared reading recognises it). fraction = parts done / 3. N/A when the contact was not passed
    up."""

    name = "escalated_enquiry"
    channels = TEXT_CHANNELS
    Params = PassedUpParams

    def assess(self, recording: Recording, params: PassedUpParams) -> ItemResult:
        since = _since_takeover(recording)
        readings = _readings_since(recording)
        look = next((e for e in since if e.type in DESK_LOOKUPS), None)
        empathy, answer = _first_act(readings, "empathy"), _first_act(readings, "answer")
        no_look = evidence(None, N_("never looked the case up in the CRM, ticket or KB after taking it over"))
        parts = [
            ("look-up", _ev(look, N_("looked the case up ({how})", how=look.type if look else ""), ""), no_look),
            ("empathy", _ev(empathy, N_("empathy for a customer passed along")), evidence(None, N_("no empathy"))),
            ("answer", _ev(answer, N_("the answer given")), evidence(None, N_("the answer was never given"))),
        ]
        return _parts(parts, N_("parts of an escalated enquiry"))


class ReportBackParams(PassedUpParams):
    min_chars: int = Field(15, ge=1)  # a result note shorter than this tells the originator nothing


class ReportBack(OccasionEvaluator):
    """L4/2.3.1: a transferred enquiry is taken in the system and its result reported back. After taking the
    contact over the trainee (1) has it on a ticket (created or linked, or a ticket the contact already had) and
    (2) writes the result for the colleague who passed it on: a ticket note, or an escalation or wrap-up with a
    reason, of at least ``min_chars`` characters. fraction = parts done / 2. N/A when the contact was not passed
    up."""

    name = "report_back"
    channels = DESK_CHANNELS
    Params = ReportBackParams

    def assess(self, recording: Recording, params: ReportBackParams) -> ItemResult:
        since = _since_takeover(recording)
        on_ticket = next((e for e in since if e.type in ("ticket.created", "ticket.linked")), None)
        ticket_ev = (
            evidence(on_ticket, N_("on ticket {number}", number=on_ticket.fields.number), quote="")
            if on_ticket
            else None
        )
        if ticket_ev is None and recording.tickets:
            ticket_ev = evidence(None, N_("the contact is on ticket {number}", number=recording.tickets[0].number))
        report_types = ("ticket.note", "ticket.escalated", "wrap_up")
        reports = [e for e in since if e.type in report_types and len((e.text or "").strip()) >= params.min_chars]
        report = reports[-1] if reports else None
        no_report = evidence(None, N_("no result of {n}+ characters reported back on the ticket", n=params.min_chars))
        parts = [
            ("ticket", ticket_ev, evidence(None, N_("the enquiry was never put on a ticket"))),
            ("result", _ev(report, N_("result recorded ({how})", how=report.type if report else "")), no_report),
        ]
        return _parts(parts, N_("parts of taking a transferred enquiry"))


class RiskFlaggedParams(OccasionParams):
    risk_levels: list[str] = ["high", "crisis"]  # the case's expected risk levels that make this item apply


class RiskFlagged(OccasionEvaluator):
    """L4/2.4.1: a high-risk or crisis event is recognised as one: after taking the contact over the trainee
    records a ticket risk level (ticket created, updated or escalated) at least as high as the case's. One step
    lower (high for a crisis) earns half; lower or never earns nothing. N/A when the scenario's expected risk level
    is not one of ``risk_levels``."""

    name = "risk_flagged"
    channels = DESK_CHANNELS
    Params = RiskFlaggedParams

    def assess(self, recording: Recording, params: RiskFlaggedParams) -> ItemResult:
        sc = recording.scenario
        expected = (sc.expected.ticket or {}).get("risk_level") if sc else None
        if expected not in params.risk_levels or expected not in RISK_ORDER:
            return ItemResult.na(
                N_(
                    "the case's risk level {level} is not one of {levels}",
                    level=_risk(expected),
                    levels=join_notes([_risk(r) for r in params.risk_levels], ", "),
                )
            )
        best: tuple[int, Event] | None = None
        for e in _since_takeover(recording):
            level = None
            if e.type in ("ticket.created", "ticket.escalated"):
                level = e.fields.risk_level
            elif e.type == "ticket.updated":
                level = ((e.fields.changes or {}).get("risk_level") or [None, None])[1]
            if level in RISK_ORDER and (best is None or RISK_ORDER.index(level) > best[0]):
                best = (RISK_ORDER.index(level), e)
        want = RISK_ORDER.index(expected)
        if best is None:
            return ItemResult.of(
                False,
                [evidence(None, N_("no risk level recorded; the case is {expected}", expected=_risk(expected)))],
                N_("not flagged"),
            )
        got, ev = best
        fraction = 1.0 if got >= want else 0.5 if got == want - 1 and got >= RISK_ORDER.index("high") else 0.0
        note = N_(
            "risk recorded as {got}; the case is {expected}", got=_risk(RISK_ORDER[got]), expected=_risk(expected)
        )
        return ItemResult.of(fraction == 1.0, [evidence(ev, note, quote="")], note, fraction=fraction)


class OwnsComplaint(OccasionEvaluator):
    """L3/2.1.2: a complaint passed up by a colleague is dealt with here, not passed on again. After taking it
    over the trainee (1) does not transfer it and escalates only to the scenario's expected target (none when
    the case expects none), (2) gives the answer and (3) closes the loop: a follow-up promised in words or a
    callback scheduled. fraction = parts done / 3. N/A when the contact was not passed up."""

    name = "owns_complaint"
    channels = TEXT_CHANNELS
    Params = PassedUpParams

    def assess(self, recording: Recording, params: PassedUpParams) -> ItemResult:
        sc = recording.scenario
        target = sc.expected.escalation_target if sc else None
        since = _since_takeover(recording)
        readings = _readings_since(recording)
        passed_on = next(
            (e for e in since if e.type == "transfer" or (e.type == "ticket.escalated" and e.fields.target != target)),
            None,
        )
        if passed_on is None:
            kept = (
                evidence(
                    None,
                    N_("kept at this desk (escalated only to {target})", target=target)
                    if target
                    else N_("kept at this desk"),
                ),
                None,
            )
        else:
            kept = (
                None,
                evidence(
                    passed_on,
                    N_("passed on again ({how} to {target})", how=passed_on.type, target=passed_on.fields.target),
                    quote="",
                ),
            )
        answer = _first_act(readings, "answer")
        loop = _first_act(readings, "promise_followup") or next(
            (e for e in since if e.type == "callback.scheduled"), None
        )
        parts = [
            ("kept", kept[0], kept[1] or evidence(None, "")),
            ("answer", _ev(answer, N_("the answer given")), evidence(None, N_("the answer was never given"))),
            ("follow-up", _ev(loop, N_("the loop closed (follow-up)")), evidence(None, N_("no follow-up or callback"))),
        ]
        return _parts(parts, N_("parts of owning an escalated complaint"))


class WithinAuthority(OccasionEvaluator):
    """L3/2.1.3: the trainee adjusts the case's business on the desk, within their permissions. After taking a
    passed-up contact over they (1) set the ticket's category and (2) priority to what the case is (a ticket they
    created or updated; the scenario's expected ticket), and (3) every change stays within their authority: no
    ``ticket.updated`` over the compensation limit (the desk records ``over_limit``). Parts the scenario expects
    nothing of are left out. fraction = parts done / parts. N/A when the contact was not passed up."""

    name = "within_authority"
    channels = DESK_CHANNELS
    Params = PassedUpParams

    def assess(self, recording: Recording, params: PassedUpParams) -> ItemResult:
        sc = recording.scenario
        expected = dict(sc.expected.ticket or {}) if sc else {}
        since = _since_takeover(recording)
        parts = []
        for field in ("category", "priority"):
            if field not in expected:
                continue
            setter = None
            for e in since:
                value = getattr(e.fields, field) if e.type == "ticket.created" else None
                if e.type == "ticket.updated":
                    value = ((e.fields.changes or {}).get(field) or [None, None])[1]
                if value is not None:
                    setter = (e, value)  # the last value the trainee set counts
            said = N_("set to {value}", value=setter[1]) if setter else N_("never set")
            right = setter is not None and setter[1] == expected[field]
            done = _ev(setter[0], N_("{field} {said}", field=field, said=said), "") if right else None
            missing = evidence(
                setter[0] if setter else None,
                N_("{field} {said}; the case is {expected}", field=field, said=said, expected=expected[field]),
                quote="",
            )
            parts.append((field, done, missing))
        over = next((e for e in since if e.type == "ticket.updated" and e.fields.over_limit), None)
        within = None if over else evidence(None, N_("no change beyond the level's authority"))
        beyond = _ev(over, N_("compensation over the limit of {limit}", limit=over.fields.limit if over else ""), "")
        parts.append(("authority", within, beyond or evidence(None, "")))
        return _parts(parts, N_("parts of handling the business within authority"))


class ExtraHelpParams(OccasionParams):
    customer_types: list[str] = []  # the scenario's customer types this applies to (empty: every customer)
    extra_acts: list[str] = ["offer_compensation", "promise_followup"]
    extra_events: list[str] = ["kb.send", "callback.scheduled"]


class ExtraHelp(OccasionEvaluator):
    """L3/2.2.2: the basic need is met and then something more is done for the customer. Basic: the answer (the
    shared reading's ``answer`` act); extra, in the same message or after it: one of ``extra_acts`` (goodwill
    offered, a follow-up promised) or a desk action of ``extra_events`` (an article sent to the customer, a
    callback scheduled). Half for the answer alone; nothing when the need is not met. N/A for customers not of
    ``customer_types``."""

    name = "extra_help"
    channels = TEXT_CHANNELS
    Params = ExtraHelpParams

    def assess(self, recording: Recording, params: ExtraHelpParams) -> ItemResult:
        sc = recording.scenario
        kind = sc.customer.type if sc else None
        if params.customer_types and kind not in params.customer_types:
            return ItemResult.na(
                N_(
                    "the customer is {kind}, not one of {kinds}",
                    kind=kind or "unscripted",
                    kinds=", ".join(params.customer_types),
                )
            )
        readings = _readings_since(recording)
        answer = _first_act(readings, "answer")
        if answer is None:
            return ItemResult.of(
                False, [evidence(None, N_("the basic need was never met (no answer)"))], N_("need not met")
            )
        later = [(m, r) for m, r in readings if m.seq >= answer.seq]
        extra = next(((m, a) for m, r in later for a in params.extra_acts if reading_has(r, a)), None)
        if extra is not None:
            ev = evidence(extra[0], N_("extra help: {how}", how=extra[1]))
        else:
            hit = next((e for e in recording.events if e.seq > answer.seq and e.type in params.extra_events), None)
            ev = evidence(hit, N_("extra help: {how}", how=hit.type), quote="") if hit else None
        base = evidence(answer, N_("the basic need met"))
        if ev is None:
            nothing = evidence(None, N_("nothing beyond the basic answer"))
            return ItemResult.of(False, [base, nothing], N_("no extra help"), fraction=0.5)
        return ItemResult.of(True, [base, ev], N_("need met and extra help given"))
