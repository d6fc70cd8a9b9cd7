"""Call evaluators: dead air, overtalk, response latency, talk-to-listen ratio and hold, from the recording.

The metrics come from the ``call.metrics`` event the voice channel appends at hang-up (``media.call_metrics``
computed them from the two recorded legs; times there are seconds from the start of the recording). Evidence
points at that event, with the moment in the call as sandbox time (``call.recording``'s ``started_at`` plus
the offset) and the offset itself in the note (m:ss), so a grader can jump to it in the player. Holds are read
from ``call.held`` / ``call.resumed`` events themselves. A contact without metrics (never connected, or the
files were damaged: the event then holds an ``error``) is N/A for the metric items, never failed.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..recording import Event, Recording
from .base import N_, BaseEvaluator, Evidence, ItemResult, evidence

CALL_CHANNELS = frozenset({"voice", "video"})


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


def mmss(seconds: float) -> str:
    """An offset into the call as m:ss.s, as the player shows it."""
    seconds = max(0.0, float(seconds))
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


class _Metrics:
    """The call's metrics event and how to place its offsets in sandbox time."""

    def __init__(self, event: Event, start: float | None):
        self.event = event
        self.fields = event.fields
        self.start = start

    def at(self, offset: float, note: str) -> Evidence:
        ts = self.start + offset if self.start is not None else self.event.ts
        return Evidence(self.event.id, self.event.seq, ts, "", N_("{note} at {offset}", note=note, offset=mmss(offset)))

    def whole(self, note: str) -> Evidence:
        return evidence(self.event, note, quote="")


def call_metrics(recording: Recording) -> tuple[_Metrics | None, str]:
    """The last usable ``call.metrics`` of the call, or None and why there is none."""
    events = recording.of_type("call.metrics")
    if not events:
        return None, N_("no call metrics recorded (the call never connected or is not over)")
    last = events[-1]
    if last.fields.error or "legs" not in last.data:
        return None, N_("call metrics unavailable: {error}", error=last.fields.error or "no legs")
    started = recording.of_type("call.recording")
    start = started[0].fields.started_at if started else None
    return _Metrics(last, float(start) if start is not None else None), ""


class CallEvaluator(BaseEvaluator):
    """An item graded on one view of a call (its metrics, its transcript): ``call_view`` gives the view, or None
    and why the call has none, and the item is then N/A with that reason; else ``assess`` grades the view."""

    channels = CALL_CHANNELS

    @abstractmethod
    def call_view(self, recording: Recording) -> tuple[Any, str]:
        """The view of the call this item reads, or None and why there is none."""

    @abstractmethod
    def assess(self, view: Any, params: BaseModel) -> ItemResult:
        """Grade the call's view against ``params``."""

    def evaluate(self, recording: Recording, params: BaseModel) -> ItemResult:
        view, why = self.call_view(recording)
        if view is None:
            return ItemResult.na(why)
        return self.assess(view, params)


class MetricsEvaluator(CallEvaluator):
    """An item graded on the call's metrics (``call_metrics``)."""

    def call_view(self, recording: Recording) -> tuple[_Metrics | None, str]:
        return call_metrics(recording)


class DeadAirParams(_Params):
    max_periods: int = Field(0, ge=0)  # dead-air periods allowed
    min_seconds: float = Field(5.0, gt=0)  # count only silences longer than this (the metrics hold those > 5 s)


class DeadAir(MetricsEvaluator):
    """Dead air: both sides silent for more than ``min_seconds`` outside hold. Pass with at most
    ``max_periods`` such silences; evidence gives each one's moment and length."""

    name = "dead_air"
    Params = DeadAirParams

    def assess(self, m: _Metrics, params: DeadAirParams) -> ItemResult:
        periods = [(s, e) for s, e in m.fields.dead_air["intervals"] if e - s > params.min_seconds]
        ev = [m.at(s, N_("dead air {value:.1f} s", value=e - s)) for s, e in periods]
        note = N_(
            "{n_periods} silence(s) over {min_seconds:g} s (allowed {max_periods})",
            n_periods=len(periods),
            min_seconds=params.min_seconds,
            max_periods=params.max_periods,
        )
        return ItemResult.of(len(periods) <= params.max_periods, ev or [m.whole(note)], note)


class OvertalkParams(_Params):
    max_periods: int = Field(0, ge=0)
    by: Literal["agent", "any"] = "agent"  # agent: only overtalk the agent started (cutting the customer off)


class Overtalk(MetricsEvaluator):
    """Overtalk: both sides speaking at once for 1 s or more. By default only the agent cutting in counts (an
    angry customer interrupting is not the agent's fault). Pass with at most ``max_periods``."""

    name = "overtalk"
    Params = OvertalkParams

    def assess(self, m: _Metrics, params: OvertalkParams) -> ItemResult:
        found = [o for o in m.fields.overtalk["intervals"] if params.by == "any" or o["by"] == "agent"]
        ev = [
            m.at(o["start"], N_("overtalk {value:.1f} s, {by} cut in", value=o["end"] - o["start"], by=o["by"]))
            for o in found
        ]
        if params.by == "agent":
            note = N_("{n} overtalk period(s) the agent started (allowed {max})", n=len(found), max=params.max_periods)
        else:
            note = N_("{n} overtalk period(s) in all (allowed {max})", n=len(found), max=params.max_periods)
        return ItemResult.of(len(found) <= params.max_periods, ev or [m.whole(note)], note)


class ResponseLatencyParams(_Params):
    max_seconds: float = Field(2.0, gt=0)
    pass_share: float = Field(0.8, gt=0, le=1)


class ResponseLatency(MetricsEvaluator):
    """After the customer stops talking, the agent starts within ``max_seconds``. fraction = share of customer
    turns answered in time; pass at ``pass_share``. N/A when the agent never answered a finished customer turn.
    Evidence: each slow answer, or the slowest when none was slow."""

    name = "response_latency"
    Params = ResponseLatencyParams

    def assess(self, m: _Metrics, params: ResponseLatencyParams) -> ItemResult:
        values = m.fields.response_latency["values"]
        if not values:
            return ItemResult.na(N_("the agent never answered a finished customer turn"))
        slow = [v for v in values if v["latency"] > params.max_seconds]
        share = (len(values) - len(slow)) / len(values)
        ev = [m.at(v["customer_end"], N_("answered after {latency:.1f} s", latency=v["latency"])) for v in slow]
        if not ev:
            worst = max(values, key=lambda v: v["latency"])
            ev = [m.at(worst["customer_end"], N_("slowest answer {latency:.1f} s", latency=worst["latency"]))]
        note = N_(
            "{value} of {n_values} answers within {max_seconds:g} s",
            value=len(values) - len(slow),
            n_values=len(values),
            max_seconds=params.max_seconds,
        )
        return ItemResult.of(share >= params.pass_share, ev, note, fraction=share)


class TalkRatioParams(_Params):
    min_ratio: float = Field(0.4, ge=0)  # agent talk / customer talk
    max_ratio: float = Field(2.5, gt=0)
    max_monologue: float | None = Field(None, gt=0)  # also fail an agent monologue longer than this (seconds)


class TalkRatio(MetricsEvaluator):
    """The agent's talk-to-listen ratio (agent talk time / customer talk time) lies in [min_ratio, max_ratio]:
    neither lecturing nor leaving the customer to do all the talking; with ``max_monologue`` the agent's
    longest monologue must not be longer. N/A when the customer never spoke."""

    name = "talk_ratio"
    Params = TalkRatioParams

    def assess(self, m: _Metrics, params: TalkRatioParams) -> ItemResult:
        agent, customer = m.fields.legs["agent"], m.fields.legs["customer"]
        ratio = agent.get("talk_ratio")
        if ratio is None:
            return ItemResult.na(N_("the customer never spoke"))
        ok = params.min_ratio <= ratio <= params.max_ratio
        note = N_(
            "talk-to-listen {ratio:.2f} (agent {agent:.1f} s, customer {customer:.1f} s; "
            "wanted {min_ratio:g}-{max_ratio:g})",
            ratio=ratio,
            agent=agent["talk_time"],
            customer=customer["talk_time"],
            min_ratio=params.min_ratio,
            max_ratio=params.max_ratio,
        )
        ev = [m.whole(note)]
        longest = agent.get("longest_monologue") or 0.0
        if params.max_monologue is not None and longest > params.max_monologue:
            ok = False
            ev.append(
                m.at(
                    agent.get("longest_monologue_start") or 0.0, N_("agent monologue {longest:.1f} s", longest=longest)
                )
            )
            note = N_(
                "{note}; monologue {longest:.1f} s over {limit:g} s",
                note=note,
                longest=longest,
                limit=params.max_monologue,
            )
        return ItemResult.of(ok, ev, note)


class HoldTimeParams(_Params):
    max_single: float = Field(60, gt=0)  # seconds one hold may last
    max_total: float = Field(120, gt=0)
    ask_first: bool = False  # each hold comes after the "hold" quick phrase (asking the customer to wait)
    ask_within: float = Field(60, gt=0)  # how long before the hold that request may be


class HoldTime(BaseEvaluator):
    """Holds are short: none longer than ``max_single`` and all together at most ``max_total`` seconds; with
    ``ask_first`` each hold follows the agent asking the customer to wait (the ``hold`` quick phrase within
    ``ask_within`` s before). Transfer holds are not counted (the transfer items grade those). N/A with no hold.
    A hold still open at the end lasts until the call ended."""

    name = "hold_time"
    channels = CALL_CHANNELS
    Params = HoldTimeParams

    def evaluate(self, recording: Recording, params: HoldTimeParams) -> ItemResult:
        holds = _holds(recording)
        if not holds:
            return ItemResult.na(N_("the customer was never put on hold"))
        asks = [e.ts for e in recording.of_type("call.quick_phrase") if e.fields.move == "hold"]
        ok, ev, total = True, [], 0.0
        for held, resumed, seconds in holds:
            total += seconds
            long = seconds > params.max_single
            asked = any(held.ts - params.ask_within <= t <= held.ts for t in asks)
            unasked = params.ask_first and not asked
            ok = ok and not long and not unasked
            if long and unasked:
                note = N_(
                    "hold {seconds:.1f} s: over {limit:g} s, without asking the customer to wait",
                    seconds=seconds, limit=params.max_single,
                )  # fmt: skip
            elif long:
                note = N_("hold {seconds:.1f} s: over {limit:g} s", seconds=seconds, limit=params.max_single)
            elif unasked:
                note = N_("hold {seconds:.1f} s: without asking the customer to wait", seconds=seconds)
            else:
                note = N_("hold {seconds:.1f} s", seconds=seconds)
            ev.append(evidence(held, note, quote=""))
            if resumed is not None:
                ev.append(evidence(resumed, N_("resumed"), quote=""))
        if total > params.max_total:
            ok = False
        note = N_(
            "{n} hold(s), {total:.1f} s in all (limit {each:g} s each, {all:g} s)",
            n=len(holds), total=total, each=params.max_single, all=params.max_total,
        )  # fmt: skip
        return ItemResult.of(ok, ev, note)


def _holds(recording: Recording) -> list[tuple[Event, Event | None, float]]:
    """(held event, resumed event or None, seconds) for each hold that is not a transfer's."""
    out, open_hold = [], None
    end = next((e.ts for e in recording.of_type("call.ended", "contact.ended")), None)
    for e in recording.events:
        if e.type == "call.held" and open_hold is None:
            open_hold = e
        elif e.type == "call.resumed" and open_hold is not None:
            if open_hold.fields.reason != "transfer":
                out.append((open_hold, e, e.ts - open_hold.ts))
            open_hold = None
    if open_hold is not None and open_hold.fields.reason != "transfer":
        last = end if end is not None else recording.events[-1].ts
        out.append((open_hold, None, max(0.0, last - open_hold.ts)))
    return out
