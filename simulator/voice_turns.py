"""How a simulated caller makes and times its lines (a mixin of ``simulator.voice_customer.VoiceCustomer``): a
human pause before answering, a line said now (the caller is busy while it speaks), the persona's reaction as lines,
a turn in which nothing observable happened (the stage's next line, a nudge, an "mm-hm"), cutting in on a long
monologue, and what a long hold does to emotion and patience. Pure Python, deterministic for the caller's seed.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import voice_lines
from .persona import Reaction, _clamp

INTERRUPT_COOLDOWN_S = 15.0


@dataclass(frozen=True)
class Utterance:
    """One line the caller says. ``move`` names the kind of line (opening, pickup, rule, reply, stage, nudge,
    ack, silence, interrupt, long_hold, complaint, hold, followup, satisfied, abandon); ``interrupt`` means say
    it now, over the agent; ``emotion`` (0..3) is for the voice (media.tts); ``end`` = satisfied/abandoned means
    the caller hangs up after it (the text is empty when a caller on hold hangs up silently)."""

    text: str
    move: str
    interrupt: bool = False
    emotion: int = 0
    end: str | None = None


class CallerTurns:
    """The lines of VoiceCustomer (which provides lang, rng, mind, script, pending, busy_until, agent_started,
    last_interrupt, on_hold_since, hold_steps and stage_used)."""

    def _impatient(self) -> bool:
        m = self.mind
        return m.emotion >= 2 and m.patience_left < 0.5 * m.patience_budget

    def _gap(self) -> float:
        """A human pause before answering: 0.3-0.9 s, shorter when upset, longer for elderly callers."""
        base = self.rng.uniform(0.3, 0.9) * (1 - 0.15 * self.mind.emotion)
        return round(base * (1.6 if self.mind.type == "elderly" else 1.0), 3)

    def _generic(self, kind: str, angry: bool = False) -> str:
        emotion = self.mind.emotion
        variant = ("furious" if emotion >= 3 else "angry") if angry and emotion >= 2 else None
        if kind == "interrupt" and emotion >= 3:
            variant = "furious"
        return voice_lines.pick(self.lang, kind, self.rng, variant)

    def _line(self, text: str, move: str, end: str | None = None) -> Utterance:
        return Utterance(text, move, False, self.mind.emotion, end)

    def _say(
        self,
        text: str,
        move: str,
        at: float | None,
        *,
        interrupt: bool = False,
        end: str | None = None,
        emotion: int | None = None,
    ) -> Utterance:
        """A line said now: the caller is busy while it speaks, and its wait for the agent starts after."""
        emotion = self.mind.emotion if emotion is None else emotion
        if at is not None:
            self.busy_until = max(self.busy_until, at) + voice_lines.speaking_seconds(text, self.lang, emotion)
            self.mind._start_wait(self.busy_until)
        return Utterance(text, move, interrupt, emotion, end)

    def _schedule(self, lines: list[Utterance], due: float | None) -> None:
        self.pending += [(due, u) for u in lines]

    def _from_reaction(self, r: Reaction, plain: bool) -> list[Utterance]:
        """The persona's reaction as lines; with ``plain`` its filler kinds (nudge, silent) are dropped."""
        if plain and r.kind in ("nudge", "silent") and not r.end:
            return []
        kind = r.kind
        lines = [self._line(t, kind) for t in r.lines]
        if r.end and lines:
            lines[-1] = self._line(lines[-1].text, kind, r.end)
        elif r.end:
            lines = [self._line("", kind, r.end)]
        return lines

    def _plain_turn(self, at: float) -> list[Utterance]:
        """Nothing observable happened in the agent's turn: the stage's next line, else one nudge, else ack."""
        for i, stage in enumerate(self.script.stages):
            if all(g in self.mind.goals_done for g in stage.until):
                continue
            used = self.stage_used.get(i, 0)
            if used < len(stage.say):
                self.stage_used[i] = used + 1
                return [self._line(stage.say[used], "stage")]
            break
        r = self.mind._react([], at, spoken=True)
        if r.end:
            return self._from_reaction(r, plain=False)  # a settled caller taking its leave hangs up after it
        if r.lines:
            return [self._line(t, "nudge") for t in r.lines]
        return [self._line(self._generic("ack"), "ack")]

    def _maybe_interrupt(self, at: float) -> list[Utterance]:
        limit = self.script.interrupt_after * (0.6 if self.mind.emotion >= 3 else 1.0)
        if (
            self.agent_started is None
            or not self._impatient()
            or at - self.agent_started < limit
            or at - self.last_interrupt < INTERRUPT_COOLDOWN_S
        ):
            return []
        self.last_interrupt = at
        return [self._say(self._generic("interrupt"), "interrupt", at, interrupt=True)]

    def _hold_effects(self, at: float) -> list[Utterance]:
        """Past ``hold_seconds`` on hold: emotion +1 per period, patience drains; at zero the caller hangs up."""
        held = at - self.on_hold_since
        over = held - self.script.hold_seconds
        if over <= 0:
            return []
        m = self.mind
        steps = int(held // self.script.hold_seconds)
        if steps > self.hold_steps:
            m.emotion = _clamp(m.emotion + steps - self.hold_steps)
            self.hold_steps = steps
        last = max(m.last_tick or at, self.on_hold_since + self.script.hold_seconds)
        m.patience_left -= max(0.0, at - last) * (1 + 0.5 * m.emotion)
        m.last_tick = at
        if m.patience_left <= 0 and not m.finished:
            m.finished = "abandoned"
            self.pending = []
            return [Utterance("", "abandon", False, m.emotion, "abandoned")]
        return []
