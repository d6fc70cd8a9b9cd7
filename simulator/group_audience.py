"""Simulated group-chat customers: who is in the audience and how each one thinks.

``plan_audience`` draws a room's audience from a group scenario, deterministically for a seed: each customer
is an asker (a common need in one of its paraphrases), an individual (an account question that must go to a
one-to-one chat), off-topic or rude, by the scenario's (or the lead's) mix; needs by their weights.

A ``GroupCustomer`` reacts to what the agent posts the way a person in a group does: it notices a post that
is addressed to it (an @mention, a reply to its message) or to everyone (a cluster answer, a pinned
announcement, a post with no mentions), and counts it as answered only when the post answers its need: the
need's keywords (channels.group.match, jieba-aware) in a post the language understanding reads as answering -
the same rule the room view and grading use. Answered:
thanks, sometimes a follow-up. Unanswered: a nudge halfway through its patience, then it leaves.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from channels.group.match import slights
from channels.group.room import answers, post_of

KINDS = ("asker", "individual", "off_topic", "rude")


@dataclass
class Line:
    """Something a customer will do: post ``text`` (with its ``kind`` and ``need`` labels) or leave."""

    delay: float
    text: str | None
    kind: str  # question | nudge | thanks | followup | off_topic | rude | calm | private | leave
    need: str | None = None


@dataclass
class GroupCustomer:
    index: int
    name: str
    kind: str
    need: dict | None
    question: str
    join_after: float
    ask_after: float
    patience: float
    rng: random.Random
    member_id: str | None = None
    status: str = "idle"  # idle | waiting | answered | private | left
    asked_at: float | None = None
    nudged: bool = False
    rude_left: int = 0
    answered_seq: int | None = None
    answered_how: str | None = None
    log: list[dict] = field(default_factory=list)

    def opening(self, scenario) -> list[Line]:
        """The first post, ``ask_after`` seconds after joining."""
        if self.kind == "rude":
            self.rude_left = 1
        return [Line(self.ask_after, self.question, "question" if self.need else self.kind, self._need_id())]

    def _need_id(self) -> str | None:
        return self.need["id"] if self.need else None

    def on_posted(self, ts: float, kind: str) -> None:
        if kind in ("question", "off_topic", "rude") and self.status in ("idle", "answered"):
            self.status, self.asked_at, self.nudged = "waiting", ts, False

    def on_agent_post(self, ev: dict, scenario, lang: str) -> list[Line]:
        """React to an agent reply or announcement (in the room's language ``lang``): answered (thanks, maybe a
        follow-up), calmed, slighted (``_slighted``), or nothing."""
        post = post_of(ev)
        if post is None or self.member_id is None or self.status != "waiting":
            return []
        if post.how(self.member_id) in ("mention", "reply") and slights(post.text, lang):
            return self._slighted(float(ev["ts"]), scenario)
        how = answers(post, self.member_id, None if self.kind in ("off_topic", "rude") else self.need, lang)
        if how is None:
            return []
        self.status, self.answered_seq, self.answered_how = "answered", post.seq, how
        if self.kind == "rude":
            lines = scenario.calm_lines or scenario.nudges
            return [Line(self.rng.uniform(2, 6), self.rng.choice(lines), "calm")]
        if self.kind == "off_topic":
            return []
        out = [Line(self.rng.uniform(2, 8), self.rng.choice(self.need_obj(scenario).thanks), "thanks", self._need_id())]
        followups = self.need_obj(scenario).followups
        if followups and self.rng.random() < 0.25:
            out.append(Line(self.rng.uniform(3, 10), self.rng.choice(followups), "followup", self._need_id()))
        return out

    def _slighted(self, ts: float, scenario) -> list[Line]:
        """A post said to this waiting customer (a mention, a reply) that brushes them off or is rude, and answers
        nothing: half the patience they had left is gone, and they say so at once (their halfway nudge, or a ruder
        line from a rude customer, who is not calmed by it) instead of later."""
        waited = max(0.0, ts - (self.asked_at or ts))
        self.patience = waited + max(0.0, self.patience - waited) / 2
        if self.nudged:
            return []
        self.nudged = True
        if self.kind == "rude" and self.rude_left > 0:
            self.rude_left -= 1
            return [Line(self.rng.uniform(1, 4), self.rng.choice(scenario.rude), "rude")]
        return [Line(self.rng.uniform(1, 4), self.rng.choice(scenario.nudges), "nudge", self._need_id())]

    def need_obj(self, scenario):
        return scenario.need(self._need_id())

    def on_moved(self, scenario) -> list[Line]:
        """The agent moved this customer to a one-to-one chat."""
        self.status = "private"
        need = self.need_obj(scenario) if self.need else None
        lines = (need.in_group_reply or need.thanks) if need is not None else []
        return [Line(self.rng.uniform(1, 4), self.rng.choice(lines), "private", self._need_id())] if lines else []

    def on_tick(self, now: float, scenario) -> list[Line]:
        """Patience: nudge once halfway, leave when it runs out; a rude customer gets ruder first."""
        if self.status != "waiting" or self.asked_at is None:
            return []
        waited = now - self.asked_at
        if waited >= self.patience:
            self.status = "left"
            return [Line(0.0, self.rng.choice(scenario.leave_lines), "leave_line"), Line(1.0, None, "leave")]
        if not self.nudged and waited >= self.patience / 2:
            self.nudged = True
            if self.kind == "rude" and self.rude_left > 0:
                self.rude_left -= 1
                return [Line(0.0, self.rng.choice(scenario.rude), "rude")]
            return [Line(0.0, self.rng.choice(scenario.nudges), "nudge", self._need_id())]
        return []


def plan_audience(scenario, size: int, mix, seed: int) -> list[GroupCustomer]:
    """The audience of a room: ``size`` customers, deterministic for ``seed``."""
    rng = random.Random(f"group|{scenario.id}|{seed}")
    common = [n for n in scenario.needs if not n.individual]
    individual = [n for n in scenario.needs if n.individual]
    names = list(scenario.names)
    rng.shuffle(names)
    out = []
    for i in range(size):
        r = rng.random()
        if r < mix.off_topic:
            kind, need = "off_topic", None
        elif r < mix.off_topic + mix.rude:
            kind, need = "rude", None
        elif r < mix.off_topic + mix.rude + mix.individual and individual:
            kind, need = "individual", rng.choices(individual, [n.weight for n in individual])[0]
        else:
            kind, need = "asker", rng.choices(common, [n.weight for n in common])[0]
        if need is not None:
            question = rng.choice(need.paraphrases)
        else:
            question = rng.choice(scenario.off_topic if kind == "off_topic" else scenario.rude)
        name = names[i % len(names)] + ("" if i < len(names) else str(i // len(names) + 1))
        out.append(
            GroupCustomer(
                index=i,
                name=name,
                kind=kind,
                need=need.snapshot() if need is not None else None,
                question=question,
                join_after=rng.uniform(0, scenario.pace * 0.5),
                ask_after=rng.uniform(2, scenario.pace * 0.5),
                patience=scenario.patience * rng.uniform(0.8, 1.2),
                rng=random.Random(f"{seed}|{i}"),
            )
        )
    return out
