"""The simulated caller of a voice scenario: pure Python, deterministic for a seed, no audio and no database.

It hears words when speech recognition is on (``media.asr``, the default): each agent turn's recognised text
reaches ``on_agent_words`` and is read by the same language understanding as a chat message (the persona's
``on_agent_message``), so the caller reacts to what was said: asked for the order number, it gives it; a
dismissal annoys it; a closing ends the call. Until a turn's words arrive the caller waits (the reply to a turn
is decided by its words, not by its timing alone); a turn whose recognition failed is treated as a turn with
nothing recognisable. With recognition off (``KEFU_ASR=off``) it moves on what it can observe, and the quick
phrases the trainee marks as said stand in for words. Either way:

- turn-taking and timing: when the trainee's turn ends (VAD), the caller answers after a human gap with the
  reaction to what was observable in that turn, else the next line of the current ``voice.stages`` stage (its
  story, told piece by piece), else one nudge, else a short "mm-hm". While the trainee talks the caller waits;
  an angry caller (emotion >= 2) low on patience (< half) cuts in after ``interrupt_after`` seconds of
  monologue (sooner when furious), or at once when it already has a reply waiting.
- silence: when it is the trainee's turn and nothing is said for ``silence_seconds``, the caller asks
  "hello?" and its emotion rises a step per period; patience drains as in chat (simulator/persona.py) until the
  caller hangs up.
- hold: silent while held; the persona's hold budget refills patience; a hold longer than ``hold_seconds`` raises
  emotion a step per period and drains patience, and the caller complains on resume.
- desk actions (identity verified in the CRM, the scenario's KB article opened, ticket created/escalated,
  compensation offered) and quick phrases the trainee marks as said become the persona's moves, so the
  scenario's rules (``on: verify_identity``, ``on: empathy``...) fire exactly as in chat. Opening the scenario's
  answer article counts as giving the answer: on the phone the trainee reads it out.

Emotion, patience, goals and rules are the chat persona's (``CustomerState``); this class adds the timing.
Replies are released by ``tick(at)``; the media side calls it every 100-250 ms and plays what it returns. How
the caller makes and times its lines (pauses, interruptions, holds) is simulator/voice_turns.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from scenarios.schema import EMOTIONS, QUICK_PHRASE_MOVES, PackInfo, Scenario, VoiceScript
from understanding.lexicon import MoveRecogniser

from .persona import CustomerState, Reaction
from .voice_turns import INTERRUPT_COOLDOWN_S, CallerTurns, Utterance

FIRST_WORDS_S = 3.0  # an inbound caller who hears nothing after connecting starts talking
COMPENSATION_KINDS = ("compensation.offered", "ticket.compensation")


def compensation_offered(kind: str, detail: dict) -> bool:
    """Whether a desk event offers the caller compensation: a ticket update that sets a compensation amount
    above zero (``changes.compensation_amount`` = [old, new]) or an explicit compensation event."""
    if kind in COMPENSATION_KINDS:
        return True
    change = (detail.get("changes") or {}).get("compensation_amount") if kind == "ticket.updated" else None
    try:
        return bool(change) and float(change[1] or 0) > 0
    except (TypeError, ValueError, IndexError):
        return False


@dataclass(frozen=True)
class VoiceState:
    """The caller's state as the call pipeline and the lead's view see it."""

    emotion: int
    emotion_name: str
    patience: float
    patience_budget: float
    finished: str | None  # None | satisfied | abandoned
    abandoned: bool
    on_hold: bool
    agent_speaking: bool
    goals_done: tuple[str, ...]


MIN_PATIENCE_AFTER_WAIT = 0.1  # share of the patience budget a caller kept waiting past it still has


def _bare_pack(lang: str) -> PackInfo:
    """A pack with no lexicon: the caller never reads text, so no jieba dictionary is loaded."""
    return PackInfo(lang=lang, name="voice", moves={}, wrap_up_codes=[], queues=[])


class VoiceCustomer(CallerTurns):
    """One caller working through ``scenario`` (see the module docstring). ``pack`` is optional: only its
    language and settings are used."""

    def __init__(
        self,
        scenario: Scenario,
        lang: str,
        seed: int = 0,
        pack: PackInfo | None = None,
        *,
        recogniser=None,
        identity: dict | None = None,
        reference: str = "",
        hears_words: bool = False,
    ):
        """``recogniser``: the language understanding's Reader for what the agent says (a bare lexicon when
        None: the caller then understands only quick phrases); ``identity``/``reference``: as for the chat
        customer (simulator.chat_customers); ``hears_words``: speech recognition is on, so each turn's reply
        waits for ``on_agent_words``."""
        pack = pack or _bare_pack(lang)
        self.scenario = scenario
        self.lang = lang
        self.script = scenario.voice or VoiceScript()
        self.mind = CustomerState(
            scenario,
            pack,
            seed,
            recogniser=recogniser if recogniser is not None else MoveRecogniser(_bare_pack(lang)),
            identity=identity,
            reference=reference,
        )
        self.hears_words = hears_words
        self.awaiting: list[tuple[float, bool, bool]] = []  # turns waiting for words: (end, opening said, held)
        self.rng = self.mind.rng
        self.mind.slow_seconds = self.script.silence_seconds * self.mind.traits.slow
        self.connected_at: float | None = None
        self.opened = False
        self.pending: list[tuple[float | None, Utterance]] = []  # (due, line); due None = after the agent's turn
        self.busy_until = 0.0  # the caller is speaking until then (estimated from the text)
        self.agent_speaking = False
        self.agent_started: float | None = None
        self.last_interrupt = float("-inf")
        self.turn_moves: list[str] = []
        self.on_hold_since: float | None = None
        self.hold_steps = 0
        self.stage_used: dict[int, int] = {}

    def carry_wait(self, waited: float, pack: PackInfo | None = None, seed: int = 0) -> None:
        """The caller waited ``waited`` seconds (in the queue, then ringing) before the answer. The same persona
        waited in the queue (simulator/queued_callers.py: this scenario, ``pack`` and ``seed``), spending patience
        and growing annoyed; the call starts from where that wait left it. A caller kept past their patience (no
        queue simulator ran to hang them up) stays on the line with a tenth of it left, angry, rather than
        hanging up as the agent answers. An outbound call's callee waited for nothing: unchanged."""
        if waited <= 0 or self.script.direction == "outbound":
            return
        queued = CustomerState(
            self.scenario, pack or _bare_pack(self.lang), seed, recogniser=MoveRecogniser(_bare_pack(self.lang))
        )
        queued.opening(ts=0.0)  # dialling: the wait starts there
        queued.on_tick(waited)
        m = self.mind
        spent = 1.0 - max(0.0, queued.patience_left) / queued.patience_budget if queued.patience_budget else 0.0
        m.patience_left = min(m.patience_left, m.patience_budget * max(MIN_PATIENCE_AFTER_WAIT, 1.0 - spent))
        m.emotion = max(m.emotion, queued.emotion)

    # -- the contract -----------------------------------------------------------------------------------

    @property
    def state(self) -> VoiceState:
        """``finished`` / ``abandoned`` turn true only once the caller's last lines have come out of ``tick``,
        so a pipeline that hangs up when they do never cuts off the goodbye."""
        m = self.mind
        finished = None if self.pending else m.finished
        return VoiceState(
            m.emotion,
            EMOTIONS[m.emotion],
            round(m.patience_left, 3),
            m.patience_budget,
            finished,
            finished == "abandoned",
            self.on_hold_since is not None,
            self.agent_speaking,
            tuple(m.goals_done),
        )

    def opening(self, at: float | None = None) -> list[Utterance]:
        """What the caller says as the call connects: an outbound callee picks up ("Hello?"); an inbound caller
        says nothing yet: it waits for the agent's greeting (or FIRST_WORDS_S of silence) and then says the
        scenario's opening."""
        if at is not None:
            self.connected_at = at
        if self.script.direction == "outbound":
            text = self.rng.choice(self.script.answer_say) if self.script.answer_say else self._generic("pickup")
            return [self._say(text, "pickup", at)]
        return []

    def on_agent_speech_start(self, at: float) -> list[Utterance]:
        """The agent started talking: the caller holds its reply, or cuts in with it when angry and impatient."""
        if self.mind.finished or self.on_hold_since is not None:
            return []
        self.agent_speaking, self.agent_started = True, at
        if self.pending and self._impatient() and at - self.last_interrupt >= INTERRUPT_COOLDOWN_S:
            self.last_interrupt = at
            _, first = self.pending.pop(0)
            return [self._say(first.text, first.move, at, interrupt=True, end=first.end)]
        return []

    def on_agent_turn_end(self, at: float) -> list[Utterance]:
        """The agent's turn ended at ``at`` (end of its speech): the reply comes out of ``tick`` after a gap."""
        self.agent_speaking = False
        if self.on_hold_since is not None:
            return []
        due = at + self._gap()
        # A desk reaction held back while the agent talked is part of this turn's answer.
        held = bool(self.pending)
        self.pending = [(due if d is None else d, u) for d, u in self.pending]
        if self.mind.finished:
            return []
        moves, self.turn_moves = self.turn_moves, []
        lines: list[Utterance] = []
        if not self.opened:
            self.opened = True
            lines += [self._line(t, "opening") for t in self.scenario.opening]
        if self.hears_words and not moves:
            # The reply depends on what was said: wait for the words (on_agent_words). The opening is said now.
            self._schedule(lines, due)
            self.awaiting.append((at, bool(lines), held))
            return []
        if moves:
            if lines:
                self.mind.restated = True  # the opening is being said: no need to restate it for a greeting
            lines += self._from_reaction(self.mind._react(moves, at, spoken=True), plain=bool(lines) or held)
        if not lines and not held:
            lines = self._plain_turn(at)
        self._schedule(lines, due)
        return []

    def on_agent_words(self, text: str | None, turn_end: float, at: float) -> list[Utterance]:
        """The recognised words of the agent's turn that ended at ``turn_end`` arrive at ``at`` (None or empty:
        nothing recognisable, or recognition failed). The caller reacts as a chat customer reacts to a message;
        its reply comes out of ``tick`` a human gap after the turn ended (at once when recognition took longer)."""
        if self.awaiting:
            _, opening, held = self.awaiting.pop(0)
        else:
            opening, held = False, bool(self.pending)
        if self.mind.finished or self.on_hold_since is not None:
            return []
        due = max(at, turn_end + self._gap())
        lines: list[Utterance] = []
        if text and text.strip():
            if opening:
                self.mind.restated = True  # the opening is being said: no need to restate it for a greeting
            reaction = self.mind.on_agent_message(text, at)
            lines = self._from_reaction(reaction, plain=opening or held)
        if not lines and not held and not opening and not self.agent_speaking:
            lines = self._plain_turn(at)
        self._schedule(lines, None if self.agent_speaking else due)
        return []

    def on_hold(self, at: float) -> list[Utterance]:
        """The agent put the caller on hold: silent from now on; within the persona's hold budget patience is
        refilled."""
        if self.mind.finished or self.on_hold_since is not None:
            return []
        self.on_hold_since, self.hold_steps = at, 0
        self.agent_speaking = False
        self.pending = [(None, u) for _, u in self.pending]  # said after the hold, when it is the caller's turn
        if self.mind.holds_used < self.mind.traits.max_holds:
            self.mind.holds_used += 1
            self.mind._refill()
        return []

    def on_resume(self, at: float) -> list[Utterance]:
        """The hold ended: after a long hold the caller complains; then it waits for the agent to speak."""
        if self.on_hold_since is None or self.mind.finished:
            self.on_hold_since = None
            self.pending = [(at + self._gap() if d is None else d, u) for d, u in self.pending]
            return []
        hung_up = self._hold_effects(at)
        held, self.on_hold_since = at - self.on_hold_since, None
        if hung_up:
            return hung_up
        self.mind._start_wait(at)
        self.mind.last_tick = at
        self.pending = [(at + self._gap() if d is None else d, u) for d, u in self.pending]
        if held > self.script.hold_seconds:
            self._schedule([self._line(self._generic("long_hold", angry=True), "long_hold")], at + self._gap())
        return []

    def on_desk_action(self, kind: str, detail: dict | None, at: float) -> list[Utterance]:
        """A desk action the caller learns of (the agent tells them): CRM identity verified, KB article opened
        or sent, ticket created/escalated, compensation offered, transfer. The reaction is said when the agent's
        turn ends (at once, after a gap, when the agent is silent)."""
        if self.mind.finished:
            return []
        detail = detail or {}
        answer = self.scenario.answer
        slug = detail.get("slug") or detail.get("article_slug")
        if kind in ("kb.open", "kb.send") and answer and answer.kb_slug and slug == answer.kb_slug:
            reaction: Reaction | None = self.mind._react(["kb_open", "answer"], at, spoken=False)
        elif compensation_offered(kind, detail):
            reaction = self.mind._react(["offer_compensation"], at, spoken=False)
        else:
            reaction = self.mind.on_desk_event(kind, detail, at)
        if reaction is None:
            return []
        lines = self._from_reaction(reaction, plain=True)
        busy = self.agent_speaking or self.on_hold_since is not None
        self._schedule(lines, None if busy else at + self._gap())
        return []

    def on_quick_phrase(self, move: str, at: float) -> list[Utterance]:
        """The trainee marked ``move`` (greeting, empathy, ask_verification, hold, closing...) as said. During
        the agent's turn it counts for that turn; marked just after, it replaces the plain reply not yet said."""
        if move not in QUICK_PHRASE_MOVES:
            raise ValueError(f"unknown quick phrase {move!r}; known: {list(QUICK_PHRASE_MOVES)}")
        if self.mind.finished:
            return []
        if self.agent_speaking or self.on_hold_since is not None:
            self.turn_moves.append(move)
            return []
        plain = {"stage", "nudge", "ack"}
        due = min((d for d, u in self.pending if u.move in plain and d is not None), default=None)
        self.pending = [(d, u) for d, u in self.pending if u.move not in plain]
        lines = self._from_reaction(self.mind._react([move], at, spoken=True), plain=True)
        self._schedule(lines, due if due is not None else at + self._gap())
        return []

    def tick(self, at: float) -> list[Utterance]:
        """Time passes: release replies that are due, cut in on a long monologue, speak up in silence, grow
        impatient on hold, and hang up when patience runs out."""
        if self.mind.finished and not self.pending:
            return []
        if self.connected_at is None:
            self.connected_at = at
        if self.on_hold_since is not None:
            return self._hold_effects(at)
        if self.agent_speaking:
            return self._maybe_interrupt(at)
        out = [u for d, u in self.pending if d is not None and d <= at]
        if out:
            self.pending = [(d, u) for d, u in self.pending if not (d is not None and d <= at)]
            return [self._say(u.text, u.move, at, end=u.end, emotion=u.emotion) for u in out]
        if self.pending or at < self.busy_until or self.mind.finished:
            return []
        if not self.opened and self.script.direction == "inbound" and at - self.connected_at >= FIRST_WORDS_S:
            self.opened = True
            return [self._say(t, "opening", at) for t in self.scenario.opening]
        reaction = self.mind.on_tick(at)
        if reaction is None:
            return []
        if reaction.end == "abandoned":
            return [self._say(reaction.lines[-1], "abandon", at, end="abandoned")]
        return [self._say(self._generic("silence", angry=True), "silence", at)]

    def csat(self) -> int:
        """CSAT 1..5 from the caller's end state (as in chat)."""
        return self.mind.csat()

    def snapshot(self) -> dict:
        """Plain data for a ``customer.state`` event (the keys the chat simulator records, plus hold)."""
        snap = self.mind.snapshot()
        snap.update(goals=list(self.scenario.goals), on_hold=self.on_hold_since is not None)
        return snap
