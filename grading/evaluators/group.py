"""Group-chat evaluators: distinct needs answered, time to first answer per need, individual needs moved to a
one-to-one chat, forbidden phrases in the agent's posts.

They fold the room's events with the same ``RoomState`` the live room page uses (channels/group/room.py), so
"answered" means on the scorecard what it meant in the room: a post that reached the customer (a mention, a
reply, a cluster answer, an announcement, a post to everyone) and answered their need by its keywords
(channels.group.match). The needs come from the recording's ``group.opened`` event, not from the content
files: grading reads only the recording.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from channels.group.room import RoomState

from ..recording import Event, Recording
from .base import N_, BaseEvaluator, ItemResult, evidence

GROUP = frozenset({"group"})


@dataclass
class NeedFigure:
    """One need as the room saw it: who asked it first and when, and the first post that answered it."""

    need: dict
    asked: Event | None = None
    askers: set = field(default_factory=set)
    answered: Event | None = None
    answered_how: str | None = None
    moved: list[Event] = field(default_factory=list)

    @property
    def seconds_to_answer(self) -> float | None:
        if self.asked is None or self.answered is None:
            return None
        return self.answered.ts - self.asked.ts


def _reader(recording: Recording):
    """The Reader of the recording's pack (None: the app's for the loaded pack of the room's language)."""
    if recording.pack is None:
        return None
    from ..phrases import pack_recogniser

    return pack_recogniser(recording.pack)


def need_figures(recording: Recording) -> dict[str, NeedFigure]:
    """Per need id, in the order of ``group.opened``: first question, askers, first answer, moves to 1:1."""
    state = RoomState(recording.contact_id, reader=_reader(recording))
    figures: dict[str, NeedFigure] = {}
    for e in recording.events:
        ev = {
            "contact_id": recording.contact_id,
            "id": e.id,
            "seq": e.seq,
            "ts": e.ts,
            "type": e.type,
            "actor": e.actor,
            "text": e.text,
            "data": e.data,
        }
        answered = state.apply(ev)
        if e.type == "group.opened":
            figures = {n["id"]: NeedFigure(n) for n in state.needs}
        elif e.type == "message" and e.actor == "customer":
            member = state.members.get(e.fields.member)
            if member is not None and member.need in figures and member.asked_seq == e.seq:
                fig = figures[member.need]
                fig.askers.add(member.id)
                fig.asked = fig.asked or e
        elif e.type == "group.moved_private":
            need = e.fields.need
            if need in figures:
                figures[need].moved.append(e)
        for m in answered:
            fig = figures.get(m.need)
            if fig is not None and fig.answered is None:
                fig.answered, fig.answered_how = e, m.answered_how
    return figures


class NeedsAnsweredParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pass_share: float = Field(0.8, gt=0, le=1)


class GroupNeedsAnswered(BaseEvaluator):
    """Share of the distinct common needs customers asked that the agent answered in the group (at least one
    asker reached by a post answering it). Passes at ``pass_share``; the fraction is the share. Evidence: each
    need's first question and its first answer, or "unanswered". N/A when no common need was asked."""

    name = "group_needs_answered"
    channels = GROUP
    Params = NeedsAnsweredParams

    def evaluate(self, recording: Recording, params: NeedsAnsweredParams) -> ItemResult:
        asked = [f for f in need_figures(recording).values() if f.asked is not None and not f.need.get("individual")]
        if not asked:
            return ItemResult.na(N_("no common need was asked"))
        ev = []
        for f in asked:
            title = f.need.get("title") or f.need["id"]
            if f.answered is not None:
                ev.append(
                    evidence(
                        f.answered,
                        N_(
                            "answers “{title}” ({answered_how}; asked by {n_askers})",
                            title=title,
                            answered_how=f.answered_how,
                            n_askers=len(f.askers),
                        ),
                    )
                )
            else:
                ev.append(
                    evidence(
                        f.asked, N_("unanswered: “{title}” (asked by {n_askers})", title=title, n_askers=len(f.askers))
                    )
                )
        done = sum(1 for f in asked if f.answered is not None)
        share = done / len(asked)
        return ItemResult.of(
            share >= params.pass_share,
            ev,
            N_("{done} of {n_asked} distinct needs answered", done=done, n_asked=len(asked)),
            share,
        )


class AnswerTimeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    within_seconds: float = Field(120, gt=0)
    pass_share: float = Field(0.8, gt=0, le=1)


class GroupAnswerTime(BaseEvaluator):
    """Time to first answer per need: from the first customer asking a common need to the first post answering
    it, within ``within_seconds``. The fraction is the share of asked needs answered in time (unanswered ones
    count as late); passes at ``pass_share``. N/A when no common need was asked."""

    name = "group_answer_time"
    channels = GROUP
    Params = AnswerTimeParams

    def evaluate(self, recording: Recording, params: AnswerTimeParams) -> ItemResult:
        asked = [f for f in need_figures(recording).values() if f.asked is not None and not f.need.get("individual")]
        if not asked:
            return ItemResult.na(N_("no common need was asked"))
        ev, in_time = [], 0
        for f in asked:
            title = f.need.get("title") or f.need["id"]
            secs = f.seconds_to_answer
            if secs is None:
                ev.append(evidence(f.asked, N_("“{title}”: never answered", title=title)))
                continue
            ok = secs <= params.within_seconds
            in_time += ok
            ev.append(
                evidence(
                    f.answered,
                    N_("“{title}”: first answer {secs:.0f} s after the first question", title=title, secs=secs),
                )
            )
        share = in_time / len(asked)
        note = N_(
            "{in_time} of {n_asked} needs answered within {within_seconds:g} s",
            in_time=in_time,
            n_asked=len(asked),
            within_seconds=params.within_seconds,
        )
        return ItemResult.of(share >= params.pass_share, ev, note, share)


class GroupIndividualMoved(BaseEvaluator):
    """Customers with an individual need (identity verification needed) are moved to a one-to-one chat, not
    served in the group. The fraction is the share moved; passes when all were. Evidence: the move, or the
    customer's unmoved question. N/A when nobody asked an individual need."""

    name = "group_individual_moved"
    channels = GROUP

    def evaluate(self, recording: Recording, params) -> ItemResult:
        figs = [f for f in need_figures(recording).values() if f.need.get("individual") and f.asked is not None]
        if not figs:
            return ItemResult.na(N_("no individual need was asked"))
        state = RoomState.replay(
            recording.contact_id,
            reader=_reader(recording),
            events=[
                {
                    "contact_id": recording.contact_id,
                    "seq": e.seq,
                    "ts": e.ts,
                    "type": e.type,
                    "actor": e.actor,
                    "text": e.text,
                    "data": e.data,
                }
                for e in recording.events
            ],
        )
        individual_ids = {f.need["id"] for f in figs}
        askers = [m for m in state.members.values() if m.need in individual_ids]
        moved_events = {e.fields.member: e for f in figs for e in f.moved}
        by_seq = {e.seq: e for e in recording.events}
        ev, moved = [], 0
        for m in askers:
            if m.id in moved_events:
                moved += 1
                ev.append(evidence(moved_events[m.id], N_("{name} moved to one-to-one chat", name=m.name)))
            else:
                ask = by_seq.get(m.asked_seq) if m.asked_seq else None
                ev.append(
                    evidence(
                        ask, N_("{name}: individual need left in the group ({status})", name=m.name, status=m.status)
                    )
                )
        share = moved / len(askers) if askers else 0.0
        return ItemResult.of(
            moved == len(askers),
            ev,
            N_("{moved} of {n_askers} moved to one-to-one", moved=moved, n_askers=len(askers)),
            share,
        )


class GroupForbiddenParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_dismissal: bool = False


class GroupForbiddenPhrases(BaseEvaluator):
    """No agent post in the room (reply or announcement) uses a forbidden phrase of the pack (and brush-offs with
    ``include_dismissal``). Fails quoting every offending post. N/A when the agent posted nothing."""

    name = "group_forbidden_phrases"
    channels = GROUP
    Params = GroupForbiddenParams

    def evaluate(self, recording: Recording, params: GroupForbiddenParams) -> ItemResult:
        posts = [
            e
            for e in recording.events
            if (e.type == "message" and e.actor in ("agent", "lead")) or e.type == "group.announcement"
        ]
        if not posts:
            return ItemResult.na(N_("the agent posted nothing"))
        if recording.pack is None:
            return ItemResult.na(N_("no language pack to read the posts with"))
        from ..phrases import pack_recogniser

        rec = pack_recogniser(recording.pack)
        kinds = ("forbidden", "dismissal") if params.include_dismissal else ("forbidden",)
        ev = []
        for p in posts:
            found = rec.evidence(p.text or "")
            for kind in kinds:
                if kind in found:
                    ev.append(evidence(p, N_("{kind}: “{found}”", kind=kind, found=found[kind])))
        if ev:
            return ItemResult.of(False, ev, N_("{n} forbidden phrase(s)", n=len(ev)))
        return ItemResult.of(True, [], N_("none in {n_posts} posts", n_posts=len(posts)))
