"""Desk-action evaluators: verification before disclosure, ticket end state, escalation, compensation limit,
KB article, transfer note and wrap-up code. They compare what the agent did on the desk (recorded events) and
the end state of linked tickets with the scenario's expected outcome, in the manner of τ²-bench."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from understanding.facts import private_data

from ..recording import Event, Recording, TicketState
from .base import N_, BaseEvaluator, ItemResult, evidence, join_notes, recorded_or

TICKET_FIELDS = ("category", "priority", "status", "risk_level", "escalation_target")


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerifyBeforeDiscloseParams(_P):
    always: bool = False  # also grade account figures on contacts whose scenario does not require verification


_DIGITS = re.compile(r"\d")


def _digits(text: str) -> str:
    return "".join(_DIGITS.findall(text or ""))


class VerifyBeforeDisclose(BaseEvaluator):
    """Nothing private is disclosed before the customer's identity is verified, on the desk or in the agent's words.

    The occasions, wherever they happen, with or without a scenario:
    - a ``crm.disclose`` (full details shown on the desk) while not verified;
    - an agent message stating private data in full (phone, ID, card or bank number, address, email; the language
      understanding's ``private`` reading) that the customer had not written themself;
    - where the scenario requires verification (``expected.verify_before_disclose``, or ``always``): an agent
      message giving account facts (a substantive answer stating figures: balance, points, amounts) before it.
    Verified means a ``crm.verify`` with result verified earlier in the recording. N/A when none of these occasions
    arose and the scenario does not require verification."""

    name = "verify_before_disclose"
    Params = VerifyBeforeDiscloseParams

    def evaluate(self, recording: Recording, params: VerifyBeforeDiscloseParams) -> ItemResult:
        from ..phrases import agent_readings

        sc = recording.scenario
        required = params.always or bool(sc and sc.expected.verify_before_disclose)
        readings = {m.seq: r for m, r in agent_readings(recording)}
        verified_at: Event | None = None
        customer_said = ""
        bad, ok = [], []
        for e in recording.events:
            if e.type == "crm.verify" and e.fields.result == "verified" and verified_at is None:
                verified_at = e
            elif e.type == "crm.disclose":
                who = e.fields.customer_ref or e.fields.customer_id
                if not e.fields.verified or verified_at is None:
                    bad.append(evidence(e, N_("details of {who} disclosed before verification", who=who), quote=""))
                else:
                    ok.append(evidence(e, N_("details of {who} disclosed after verification", who=who), quote=""))
            elif e.type == "message" and e.actor == "customer":
                customer_said += " " + _digits(e.text) + " " + (e.text or "").lower()
            elif e.type == "message" and e.actor == "agent":
                reading = readings.get(e.seq)
                private = [p for p in private_data(e.text or "") if not _echoed(p.value, customer_said)]
                if verified_at is not None:
                    if private:
                        ok.append(evidence(e, N_("private data written after verification")))
                elif private:
                    kinds = join_notes([PRIVATE_KINDS[k] for k in sorted({p.kind for p in private})], ", ")
                    bad.append(
                        evidence(e, N_("private data ({kinds}) written in full before verification", kinds=kinds))
                    )
                elif required and hasattr(reading, "has") and reading.has("answer") and reading.figures:
                    bad.append(evidence(e, N_("account facts given before verification")))
        if bad:
            return ItemResult.of(False, bad, N_("disclosed before verifying identity"))
        if not required and not ok:
            return ItemResult.na(N_("nothing private was disclosed and the scenario does not require verification"))
        ev = (
            [evidence(verified_at, N_("verified by {method}", method=recorded_or(verified_at.fields.method, "?")))]
            if verified_at
            else []
        ) + ok
        return ItemResult.of(True, ev, N_("no disclosure before verification"))


# understanding.facts.Private kinds as the scorecard names them (a code is never shown).
PRIVATE_KINDS = {
    "phone": N_("phone number"),
    "id_number": N_("ID number"),
    "card": N_("card or bank account number"),
    "email": N_("email address"),
    "address": N_("street address"),
}


def _echoed(value: str, customer_said: str) -> bool:
    """The customer wrote this value themself (repeating it back to confirm is not a disclosure)."""
    digits = _digits(value)
    if len(digits) >= 6:
        return digits in customer_said.replace(" ", "")
    return bool(value) and value.lower() in customer_said


def _setting_event(recording: Recording, ticket: TicketState, field: str) -> Event | None:
    """The last event that set ``field`` on this ticket (ticket.created data or ticket.updated changes)."""
    found = None
    for e in recording.of_type("ticket.created", "ticket.updated"):
        if e.fields.ticket_id != ticket.id:
            continue
        if (e.type == "ticket.created" and field in e.data) or (
            e.type == "ticket.updated" and field in (e.fields.changes or {})
        ):
            found = e
    return found


class TicketEndStateParams(_P):
    fields: list[str] = list(TICKET_FIELDS)  # which expected fields this item checks

    @field_validator("fields")
    @classmethod
    def known(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if f not in TICKET_FIELDS]
        if bad or not v:
            raise ValueError(f"fields must be some of {list(TICKET_FIELDS)}")
        return v


class TicketEndState(BaseEvaluator):
    """The end state of the contact's linked tickets matches the scenario: ``expected.ticket`` fields
    (category, priority, risk_level, status) and ``expected.escalation_target``, limited to ``fields``. With
    several tickets the best-matching one counts. fraction = matching fields / expected fields; pass when all
    match. N/A when the scenario expects none of these fields."""

    name = "ticket_end_state"
    Params = TicketEndStateParams

    def evaluate(self, recording: Recording, params: TicketEndStateParams) -> ItemResult:
        sc = recording.scenario
        expected: dict[str, str] = {}
        if sc is not None:
            expected.update({k: v for k, v in (sc.expected.ticket or {}).items() if k in params.fields})
            if sc.expected.escalation_target and "escalation_target" in params.fields:
                expected["escalation_target"] = sc.expected.escalation_target
        if not expected:
            return ItemResult.na(N_("the scenario expects no ticket"))
        if not recording.tickets:
            return ItemResult.of(
                False, [evidence(None, N_("no ticket linked; expected {expected}", expected=expected))], N_("no ticket")
            )
        keys = sorted(expected)

        def score(t: TicketState) -> int:
            return sum(1 for k in keys if t.get(k) == expected[k])

        best = max(recording.tickets, key=lambda t: (score(t), -t.id))
        ev = []
        for k in keys:
            got = best.get(k)
            if got == expected[k]:
                note = N_("{ticket} {field} = {got!r}: matches", ticket=best.number, field=k, got=got)
            else:
                note = N_(
                    "{ticket} {field} = {got!r}: expected {expected!r}",
                    ticket=best.number,
                    field=k,
                    got=got,
                    expected=expected[k],
                )
            ev.append(evidence(_setting_event(recording, best, k), note, quote=""))
        n = score(best)
        note = N_("{n} of {total} ticket fields as expected ({ticket})", n=n, total=len(keys), ticket=best.number)
        return ItemResult.of(n == len(keys), ev, note, fraction=n / len(keys))


class EscalationParams(_P):
    risk_levels: list[str] = []  # only when the scenario's expected risk level is one of these (empty: any)


class Escalation(BaseEvaluator):
    """The case is escalated to the scenario's ``expected.escalation_target``: a ``ticket.escalated`` event with
    that target, or a linked ticket ending with it. With ``risk_levels`` (e.g. [high, crisis]) the item only
    applies when the scenario's expected ticket risk level is one of them: a missed crisis escalation. N/A when
    the scenario expects no escalation (or another risk level)."""

    name = "escalation"
    Params = EscalationParams

    def evaluate(self, recording: Recording, params: EscalationParams) -> ItemResult:
        sc = recording.scenario
        target = sc.expected.escalation_target if sc else None
        if not target:
            return ItemResult.na(N_("the scenario expects no escalation"))
        risk = (sc.expected.ticket or {}).get("risk_level")
        if params.risk_levels and risk not in params.risk_levels:
            return ItemResult.na(
                N_("risk level {risk!r} is not one of {risk_levels}", risk=risk, risk_levels=params.risk_levels)
            )
        escalations = recording.of_type("ticket.escalated")
        hit = next((e for e in escalations if e.fields.target == target), None)
        if hit is not None:
            return ItemResult.of(
                True,
                [evidence(hit, N_("escalated to {target}", target=target))],
                N_("escalated to {target}", target=target),
            )
        ticket = next((t for t in recording.tickets if t.escalation_target == target), None)
        if ticket is not None:
            ev = evidence(
                _setting_event(recording, ticket, "escalation_target"),
                N_("{number} ends with {target}", number=ticket.number, target=target),
            )
            return ItemResult.of(True, [ev], N_("escalated to {target}", target=target))
        ev = [
            evidence(e, N_("escalated to {got!r}, expected {target!r}", got=e.fields.target, target=target))
            for e in escalations
        ]
        return ItemResult.of(
            False,
            ev or [evidence(None, N_("never escalated to {target}", target=target))],
            N_("no escalation to {target}", target=target),
        )


class CompensationLimitParams(_P):
    pass


class CompensationLimit(BaseEvaluator):
    """Compensation put on the contact's tickets stays within the limit: the scenario's
    ``expected.compensation_limit``, else the pack's discretionary limit for the trainee's level. The amount
    offered is the highest ``compensation_amount`` any ``ticket.updated`` set, or a linked ticket ends with.
    N/A when nothing was offered and the scenario sets no limit."""

    name = "compensation_limit"
    Params = CompensationLimitParams

    def evaluate(self, recording: Recording, params: CompensationLimitParams) -> ItemResult:
        sc = recording.scenario
        limit = sc.expected.compensation_limit if sc else None
        offers: list[tuple[float, Event | None, str]] = []
        for e in recording.of_type("ticket.updated"):
            change = (e.fields.changes or {}).get("compensation_amount")
            if change and change[1] is not None:
                offers.append((float(change[1]), e, e.fields.number or ""))
        for t in recording.tickets:
            if t.compensation_amount is not None:
                offers.append((t.compensation_amount, _setting_event(recording, t, "compensation_amount"), t.number))
        offers = [o for o in offers if o[0] > 0]
        if not offers and limit is None:
            return ItemResult.na(N_("no compensation offered and none expected"))
        if limit is None:
            limits = recording.pack.compensation_limits if recording.pack else {}
            limit = limits.get(recording.level, 0)
        if not offers:
            return ItemResult.of(True, [], N_("no compensation offered (limit {limit:g})", limit=limit))
        top = max(offers, key=lambda o: (o[0], o[1].seq if o[1] else 0))
        ok = top[0] <= limit
        if ok:
            note = N_(
                "compensation {amount:g} on {what} within the limit of {limit:g}",
                amount=top[0],
                what=top[2],
                limit=limit,
            )
        else:
            note = N_(
                "compensation {amount:g} on {what} over the limit of {limit:g}", amount=top[0], what=top[2], limit=limit
            )
        return ItemResult.of(ok, [evidence(top[1], note, quote="")], note)


class KbArticleParams(_P):
    require_send: bool = False  # the article must have been sent to the customer, not only opened


class KbArticle(BaseEvaluator):
    """The agent used a right knowledge-base article: a ``kb.open`` (or, with ``require_send``, a ``kb.send``)
    of one of the scenario's ``expected.kb_articles``. N/A when the scenario names no articles."""

    name = "kb_article"
    Params = KbArticleParams

    def evaluate(self, recording: Recording, params: KbArticleParams) -> ItemResult:
        expected = recording.scenario.expected.kb_articles if recording.scenario else []
        if not expected:
            return ItemResult.na(N_("the scenario names no knowledge-base article"))
        types = ("kb.send",) if params.require_send else ("kb.open", "kb.send")
        used = recording.of_type(*types)
        hit = next((e for e in used if e.fields.slug in expected), None)
        if hit is not None:
            return ItemResult.of(
                True,
                [evidence(hit, N_("{type} {slug}", type=hit.type, slug=hit.fields.slug), quote="")],
                N_("right article"),
            )
        ev = [
            evidence(
                e,
                N_("{type} {slug}: not one of {expected}", type=e.type, slug=e.fields.slug, expected=expected),
                quote="",
            )
            for e in used
        ]
        return ItemResult.of(
            False,
            ev or [evidence(None, N_("no article used; expected one of {expected}", expected=expected))],
            N_("no right article"),
        )


class TransferNoteParams(_P):
    min_chars: int = Field(5, ge=1)


class TransferNote(BaseEvaluator):
    """Every transfer carries a note for the receiver of at least ``min_chars`` characters. fraction = share of
    transfers with such a note. N/A when the contact was not transferred."""

    name = "transfer_note"
    Params = TransferNoteParams

    def evaluate(self, recording: Recording, params: TransferNoteParams) -> ItemResult:
        transfers = recording.of_type("transfer")
        if not transfers:
            return ItemResult.na(N_("no transfer"))
        ev, good = [], 0
        for e in transfers:
            note = (e.text or "").strip()
            if len(note) >= params.min_chars:
                good += 1
                ev.append(evidence(e, N_("transfer to {target} with a note", target=e.fields.target)))
            else:
                ev.append(evidence(e, N_("transfer to {target} without a useful note", target=e.fields.target)))
        note = N_("{good} of {total} transfers with a note", good=good, total=len(transfers))
        return ItemResult.of(good == len(transfers), ev, note, fraction=good / len(transfers))


class WrapUpCode(BaseEvaluator):
    """The wrap-up code chosen matches the scenario's ``expected.wrap_up_code``; fails when it differs or the
    contact was never wrapped up. N/A when the scenario expects no code."""

    name = "wrap_up_code"

    def evaluate(self, recording: Recording, params: BaseModel) -> ItemResult:
        expected = recording.scenario.expected.wrap_up_code if recording.scenario else None
        if not expected:
            return ItemResult.na(N_("the scenario expects no wrap-up code"))
        wraps = recording.of_type("wrap_up")
        if not wraps:
            return ItemResult.of(
                False, [evidence(None, N_("not wrapped up; expected {expected}", expected=expected))], N_("no wrap-up")
            )
        last = wraps[-1]
        code = last.fields.code
        ok = code == expected
        note = (
            N_("wrap-up {code}", code=code)
            if ok
            else N_("wrap-up {code}, expected {expected}", code=code, expected=expected)
        )
        return ItemResult.of(ok, [evidence(last, note, quote="")], note)
