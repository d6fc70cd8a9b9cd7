"""The simulated customer's mind: a pure state machine over one scenario.

No database, no sockets, no wall clock: every method is given the sandbox timestamp, and every random choice
comes from ``random.Random`` seeded with (seed, scenario id), so one seed always gives the same conversation.
The engine (simulator/engine.py) feeds it the agent's messages and desk actions and carries out its reactions
through the customer side of the channel. How it replies to one agent line (what the line says to this
customer, the scenario's rules) is simulator/persona_reply.py.

Emotion runs 0..3 (calm, annoyed, angry, furious):
- rises one step per ``pack.slow_reply_seconds`` the customer waits for an agent reply, and at a forbidden
  phrase (+1, +2 for emotional and dominant customers) or a brush-off (+1, +2 for emotional customers);
- falls at empathy (-1 when emotion > 0, at most twice), at the first correct answer (-1), and by a rule's
  ``emotion``.

Patience is a budget of seconds (``persona.patience`` times the type's factor) spent while waiting without a
useful reply; it drains ``1 + 0.5 * emotion`` times faster than the clock (a furious customer leaves sooner) and
is refilled by a useful reply (a rule fired, a fact revealed, the answer, calming empathy) or by a hold
("请稍等", at most twice; once for dominant and VIP customers). At zero the customer abandons.

Customer types (``TRAITS``):
- rational: empathy calms only once the answer was given; nudges ask for facts.
- emotional: forbidden phrases and brush-offs raise emotion two steps; empathy calms two steps.
- hesitant: patience x1.25; when every goal is done asks one follow-up question first (its own question, if its
  last reply asked one), and is settled by the agent's next (polite) message.

Ending: when every goal is done the customer does not vanish. It thanks the agent (``satisfied_say``; after the
answer when its last reply asked something) and stays for the agent's closing: a closing gets a goodbye and ends
the chat satisfied; a line or two that are not a closing are acknowledged in character; after ``GRACE_LINES`` of
them, or ``CLOSING_GRACE_SECONDS`` after its last line with no agent activity (a ticket or an escalation counts),
it says goodbye itself, still satisfied (``Replying._settled``).
- dominant: patience x0.6; forbidden phrases +2; the answer calms only once the agent escalated or offered
  compensation; one hold only; nudges demand a supervisor.
- talkative: patience x1.2, types longer. suspicious: empathy calms only after the answer.
- elderly: patience x1.5, types slowly, tolerates slow replies 1.5x longer.
- vip: patience x0.8, notices slow replies sooner (x0.75), one hold only.
"""

from __future__ import annotations

import random

from scenarios.schema import EMOTIONS, PackInfo, Scenario
from understanding.facts import Figure, known_figures
from understanding.lexicon import MoveRecogniser

from . import lines as generic
from .persona_reply import CLOSING_GRACE_SECONDS, GRACE_LINES, Reaction, Replying, _clamp  # noqa: F401  (re-exported)
from .traits import TRAITS, TypeTraits

ASK_ACTS = ("ask_order", "ask_verification", "ask_detail")


# Desk actions the customer notices (event type -> move); kb.send is checked against Scenario.answer.kb_slug.
DESK_MOVES = {
    "crm.verify": "verify_identity",
    "kb.open": "kb_open",
    "ticket.created": "ticket_created",
    "ticket.escalated": "ticket_escalated",
}


class CustomerState(Replying):
    """One simulated customer working through ``scenario``; see the module docstring for the rules."""

    def __init__(
        self,
        scenario: Scenario,
        pack: PackInfo,
        seed: int = 0,
        recogniser=None,
        identity: dict | None = None,
        reference: str = "",
        closing_grace: bool = True,
    ):
        """``recogniser``: an understanding Reader (or, in unit tests of the state machine, a lexicon
        MoveRecogniser); ``identity``: what the customer gives when asked to verify (``name``, ``phone_last4``,
        from the CRM record); ``reference``: the KB article text the case rests on (figures an answer must agree
        with); ``closing_grace``: after its last goal the customer stays for the agent's closing (chat) or is
        done at once (an email customer's thank-you is its goodbye)."""
        self.scenario = scenario
        self.closing_grace = closing_grace
        self.pack = pack
        self.lang = pack.lang
        self.seed = seed
        self.rng = random.Random(f"{seed}|{scenario.id}")
        self.recogniser = recogniser or MoveRecogniser(pack)
        self.type = scenario.customer.type
        self.traits = TRAITS.get(self.type, TypeTraits())
        self.emotion = EMOTIONS.index(scenario.customer.emotion)
        self.patience_budget = scenario.customer.patience * self.traits.patience
        self.patience_left = self.patience_budget
        self.slow_seconds = pack.slow_reply_seconds * self.traits.slow
        self.revealed: list[str] = []
        self.goals_done: list[str] = []
        self.fired: dict[int, int] = {}
        self.seen_moves: set[str] = set()
        self.finished: str | None = None
        self.answered = False
        self.answer_calm_pending = False
        self.empathy_calms = 0
        self.holds_used = 0
        self.restated = False
        self.followup_asked = False
        self.waiting_since: float | None = None  # when the customer started waiting for the agent
        self.slow_steps = 0  # slow-reply emotion steps already applied in this wait
        self.last_tick: float | None = None
        self.last_kind: str | None = None
        self.identity = identity or {}
        self.identity_given = False
        self.last_said = ""  # the customer's previous line: context for reading the agent's next one
        self.answer_groups: set[int] = set()  # the scenario's answer keyword groups the agent has covered
        self.not_answered = 0  # answers that did not answer the question
        self.wrong_info = 0  # statements that contradicted what the customer knows
        self.repeat_asks = 0
        self.idle_lines = 0  # agent lines in a row that made no progress while goals were open
        self.grace_until: float | None = None  # every goal done: waiting for the agent's closing until then
        self.grace_lines = 0  # agent lines since then that were not a closing
        self.satisfied_pending = False  # its thanks wait for the answer to the question it asked last
        self.known_figures: list[Figure] = known_figures(scenario, reference)

    # -- public API -------------------------------------------------------------------------------------

    @property
    def emotion_name(self) -> str:
        return EMOTIONS[self.emotion]

    def opening(self, ts: float | None = None) -> list[str]:
        """The customer's first message(s); with ``ts`` (when they are sent) the wait for an agent starts."""
        if ts is not None:
            self._start_wait(ts)
        if self.scenario.opening:
            self.last_said = self.scenario.opening[-1]
        return list(self.scenario.opening)

    def on_agent_message(self, text: str, ts: float) -> Reaction:
        """React to one agent message sent at ``ts``: to the acts it performs (as the language understanding
        reads them, with the customer's previous line as context), not to its words."""
        if self.finished:
            return Reaction(emotion=self.emotion, kind="finished")
        reading = (
            self.recogniser.read(text, self.scenario, self.last_said) if hasattr(self.recogniser, "read") else None
        )
        moves = reading.names if reading is not None else self.recogniser.moves(text, self.scenario)
        reaction = self._react(moves, ts, spoken=True, reading=reading, text=text)
        if reaction.lines:
            self.last_said = reaction.lines[-1]
        return reaction

    def on_desk_event(self, event_type: str, data: dict, ts: float) -> Reaction | None:
        """React to a desk action the customer notices (identity verified, article sent, ticket, transfer)."""
        if self.finished:
            return None
        data = data or {}
        if event_type == "transfer":
            return self._on_transfer(ts)
        if event_type == "kb.send":
            slug = data.get("slug") or data.get("article_slug")
            answer = self.scenario.answer
            moves = ["kb_open", "answer"] if answer and answer.kb_slug and slug == answer.kb_slug else ["kb_open"]
        elif event_type == "crm.verify":
            if not _verified(data):
                return None
            moves = ["verify_identity"]
        elif event_type == "video.id_verification" and data.get("decision") in ("approved", "refused"):
            moves = [f"id_{data['decision']}"]  # the agent tells the caller the outcome of the ID check
        elif event_type in DESK_MOVES:
            moves = [DESK_MOVES[event_type]]
        else:
            return None
        reaction = self._react(moves, ts, spoken=False)
        if not (reaction.lines or reaction.end or reaction.emotion_delta or reaction.goals_done):
            return None
        return reaction

    def on_tick(self, ts: float) -> Reaction | None:
        """Time passes: slow replies raise emotion, patience drains, and at zero the customer abandons."""
        if self.finished:
            return None
        if self.waiting_since is None:
            self._start_wait(ts)
        if self.grace_until is not None:
            # Every goal is done: no impatience now; the customer leaves politely when the agent says nothing.
            self.last_tick = ts
            if ts < self.grace_until:
                return None
            self.finished = "satisfied"
            out = [generic.pick(self.lang, "goodbye", self.rng)]
            self.last_kind = "satisfied"
            return Reaction(
                lines=out, delay=self._typing_delay(out), emotion=self.emotion, end="satisfied", kind="satisfied"
            )
        prev = self.last_tick if self.last_tick is not None else ts
        self.last_tick = ts
        if ts <= self.waiting_since:  # still typing a reply: not waiting yet
            return None
        elapsed = ts - max(prev, self.waiting_since)
        self.patience_left -= max(0.0, elapsed) * (1 + 0.5 * self.emotion)
        before = self.emotion
        out: list[str] = []
        steps = int((ts - self.waiting_since) // self.slow_seconds) if self.slow_seconds > 0 else 0
        kind = "waiting"
        if steps > self.slow_steps:
            self.emotion = _clamp(self.emotion + steps - self.slow_steps)
            self.slow_steps = steps
            out.append(generic.pick(self.lang, "waiting", self.rng, "angry" if self.emotion >= 2 else None))
        end = None
        if self.patience_left <= 0:
            end, kind = "abandoned", "abandon"
            out = [self._line(self.scenario.abandon_say, "abandon")]
            self.finished = "abandoned"
        if not out:
            return None
        self.last_kind = kind
        return Reaction(
            lines=out,
            delay=self._typing_delay(out),
            emotion_delta=self.emotion - before,
            emotion=self.emotion,
            end=end,
            kind=kind,
        )

    def csat(self) -> int:
        """CSAT 1..5 from the final state: 5 - emotion - 1 if a goal is unmet - 1 if the customer abandoned."""
        unmet = any(g not in self.goals_done for g in self.scenario.goals)
        score = 5 - self.emotion - (1 if unmet else 0) - (1 if self.finished == "abandoned" else 0)
        return max(1, min(5, score))

    def snapshot(self) -> dict:
        """The customer's state as plain data (for the lead's view of a simulation, and for tests)."""
        return {
            "scenario_id": self.scenario.id,
            "type": self.type,
            "emotion": self.emotion,
            "emotion_name": self.emotion_name,
            "patience_left": round(self.patience_left, 3),
            "patience_budget": self.patience_budget,
            "revealed": list(self.revealed),
            "goals_done": list(self.goals_done),
            "fired": dict(self.fired),
            "finished": self.finished,
        }

    # -- internals --------------------------------------------------------------------------------------

    def _start_wait(self, ts: float) -> None:
        self.waiting_since = ts
        self.slow_steps = 0
        if self.last_tick is None or self.last_tick < ts:
            self.last_tick = ts

    def _refill(self) -> None:
        self.patience_left = self.patience_budget

    def _line(self, options: list[str], kind: str, variant: str | None = None) -> str:
        return self.rng.choice(options) if options else generic.pick(self.lang, kind, self.rng, variant)

    def _typing_delay(self, out: list[str]) -> float:
        """Reading and typing time: proportional to length, faster when upset, slower for some types."""
        chars = sum(len(s) for s in out)
        per_char = 0.25 if self.lang.startswith("zh") else 0.07
        speed = 1.0 - 0.12 * self.emotion
        delay = (1.5 + chars * per_char) * self.traits.typing * speed * self.rng.uniform(0.85, 1.15)
        return round(min(45.0, max(0.5, delay)), 3)

    def _on_transfer(self, ts: float) -> Reaction:
        before = self.emotion
        self.emotion = _clamp(self.emotion + self.traits.transfer_emotion)
        self._refill()
        self._start_wait(ts)
        self.last_kind = "transfer"
        return Reaction(emotion_delta=self.emotion - before, emotion=self.emotion, kind="transfer")


def _verified(data: dict) -> bool:
    """A crm.verify event records a verification attempt; only a passed one counts as verify_identity."""
    if data.get("verified") is True:
        return True
    return str(data.get("result", "")).lower() in ("verified", "ok", "pass", "passed", "success")
