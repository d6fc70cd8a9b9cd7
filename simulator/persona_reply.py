"""How the simulated customer replies to one agent line (a mixin of ``simulator.persona.CustomerState``).

``_react`` turns the moves read in a line (or a desk action) into a ``Reaction``: whether an answering line answers
this customer, and rightly (its figures against the case, the scenario's answer keywords), whether it asks again for
what was given, which of the scenario's rules fire, a question no rule foresaw answered from the closest fact, how
emotion and patience move, and whether the conversation ends. Pure like the rest of the persona: no database, no
clock, every random choice from the persona's ``rng``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scenarios.schema import EMOTIONS
from understanding.facts import contradictions, figures

from . import lines as generic

MAX_RULES_PER_MESSAGE = 2
MAX_EMPATHY_CALMS = 2
CLOSING_GRACE_SECONDS = 45.0  # after its last goal the customer waits this long for the agent's closing
# ... and answers this many more agent lines that are not a closing before it takes its leave itself.
GRACE_LINES = 2
FACT_MATCH_MIN = 0.45  # an unforeseen question is answered from the closest fact when it is at least this close
# What a furious customer needs beside an apology before it calms at all.
ACTION_ACTS = ("answer", "escalate", "offer_compensation", "promise_followup", "hold", "refuse_politely")
# Acts that move a case on (a hold only while holds are tolerated: that is decided where it is acknowledged).
PROGRESS_ACTS = frozenset(
    ("answer", "explain_policy", "refuse_politely", "offer_compensation", "escalate", "promise_followup")
    + ("ask_order", "ask_detail", "ask_verification", "confirm_understanding")
)


@dataclass
class Reaction:
    """What the customer does in reply: say ``lines`` after ``delay`` seconds of typing, and maybe leave."""

    lines: list[str] = field(default_factory=list)
    delay: float = 0.0
    emotion_delta: int = 0
    emotion: int = 0
    revealed: list[str] = field(default_factory=list)
    goals_done: list[str] = field(default_factory=list)
    end: str | None = None  # None | "satisfied" | "abandoned"
    moves: list[str] = field(default_factory=list)
    rules_fired: list[int] = field(default_factory=list)
    # reply | rule | nudge | complaint | hold | followup | satisfied_waiting | grace_ack | silent | waiting | abandon
    # | transfer | satisfied
    kind: str = "reply"
    notes: list[str] = field(default_factory=list)  # why: wrong_information, not_answered, asked_again...

    def as_tuple(self) -> tuple:
        """A comparable summary (tests of determinism)."""
        return (
            tuple(self.lines),
            round(self.delay, 6),
            self.emotion_delta,
            self.emotion,
            tuple(self.revealed),
            tuple(self.goals_done),
            self.end,
            tuple(self.moves),
            tuple(self.rules_fired),
            self.kind,
        )


class Replying:
    """The replies of CustomerState (which provides scenario, lang, rng, traits, recogniser, the goals, facts and
    emotion it tracks, and ``_refill``, ``_start_wait``, ``_line`` and ``_typing_delay``)."""

    def _react(self, moves: list[str], ts: float, *, spoken: bool, reading=None, text: str = "") -> Reaction:
        before = self.emotion
        out: list[str] = []
        useful = False
        kind = "reply"
        moves = list(moves)
        notes: list[str] = []  # why the customer reacted as it did (recorded in customer.state)

        if spoken and reading is not None:
            moves = self._judge_answer(moves, reading, out, notes)
        self.seen_moves.update(moves)

        if "forbidden" in moves:
            self.emotion = _clamp(self.emotion + self.traits.forbidden_rise)
        if "dismissal" in moves:
            self.emotion = _clamp(self.emotion + self.traits.dismissal_rise)
        rose = self.emotion > before or bool(notes)

        first_answer = "answer" in moves and not self.answered
        if first_answer:
            self.answered = True
            useful = True
            self.answer_calm_pending = True
        if self.answer_calm_pending and (
            not self.traits.answer_needs or self.seen_moves.intersection(self.traits.answer_needs)
        ):
            self.answer_calm_pending = False
            self.emotion = _clamp(self.emotion - 1)
        if (
            "empathy" in moves
            and self.emotion > 0
            and self.empathy_calms < MAX_EMPATHY_CALMS
            and (not self.traits.empathy_needs_answer or self.answered)
            # A furious customer is not calmed by an apology alone: it needs something done.
            and (self.emotion < 3 or set(moves) & set(ACTION_ACTS))
            and not rose
        ):
            self.empathy_calms += 1
            self.emotion = _clamp(self.emotion - self.traits.empathy_calm)
            useful = True

        revealed: list[str] = []
        for name, fact in self.scenario.customer.facts.items():
            if name not in self.revealed and set(fact.reveal_on) & set(moves):
                self.revealed.append(name)
                revealed.append(name)
                out.append(fact.say.format(value=fact.value))
        if spoken and "ask_verification" in moves and self.identity and not self.identity_given:
            if not any("ask_verification" in f.reveal_on for f in self.scenario.customer.facts.values()):
                out.append(generic.pick(self.lang, "verification", self.rng).format(**self.identity))
                revealed.append("identity")
            self.identity_given = True
            useful = True

        goals_before = list(self.goals_done)
        fired, end = self._fire_rules(moves, out, revealed)
        if fired or revealed:
            useful = True
            kind = "rule" if fired else "reply"
        if spoken and not fired and not revealed:
            useful |= self._answer_questions(moves, reading, text, out, notes)

        closing_now = spoken and ("closing" in moves or "thank" in moves and self.grace_until is not None)
        if end == "satisfied" and not closing_now and not any(self.scenario.rules[i].on == "closing" for i in fired):
            end = None  # the last goal is met: stay for the agent's closing (below) instead of vanishing
        if end is None and all(g in self.goals_done for g in self.scenario.goals):
            kind = self._settled(out, fired, spoken=spoken, rose=rose, closing_now=closing_now, kind=kind)
            if kind == "satisfied":
                end = "satisfied"
        if end == "abandoned" and not out:
            out.append(self._line(self.scenario.abandon_say, "abandon"))

        if spoken and end is None and not out and (not useful or self.grace_until is not None):
            if "hold" in moves and self.holds_used < self.traits.max_holds:
                self.holds_used += 1
                useful = True
                kind = "hold"
                out.append(generic.pick(self.lang, "hold_ack", self.rng))
            elif rose:
                kind = "complaint"
                out.append(generic.pick(self.lang, "complaint", self.rng))
            elif self.grace_until is not None:
                # Satisfied and waiting for the goodbye: a line that is not a closing (more information, a
                # promise, a closing the reading missed) gets the thanks it was keeping back or a short "OK".
                kind = "grace_ack"
                if self.satisfied_pending:
                    out.append(self._line(self.scenario.satisfied_say, "satisfied"))
                else:
                    out.append(generic.pick(self.lang, "grace_ack", self.rng))
                self.satisfied_pending = False
            elif "greeting" in moves and not self.restated:
                self.restated = True  # a greeting alone: point at the question asked, never re-send it
                kind = "reply"
                out.append(generic.pick(self.lang, "greeted", self.rng))
            elif self.last_kind != "nudge":
                kind = "nudge"
                out.append(generic.pick(self.lang, "nudge", self.rng, self.traits.nudge))
            else:
                kind = "silent"  # one nudge is enough; the customer now just waits (and loses patience)

        heard = bool(text) or bool(moves)  # a caller that heard no words cannot judge progress
        if spoken and heard and end is None and self.grace_until is None and self._no_progress(moves, useful):
            self.emotion = _clamp(self.emotion + 1)
            notes.append("no_progress")
            if kind in ("nudge", "silent") or not out:
                out[:] = [generic.pick(self.lang, "no_progress", self.rng)]
                kind = "complaint"
        if useful:
            self._refill()
        if end:
            self.finished = end
        delay = self._typing_delay(out) if out else 0.0
        if self.grace_until is not None and not end:
            # The wait for the goodbye runs from the customer's own last line, and starts again whenever the agent
            # is seen still working on the case (a line, a ticket, an escalation).
            self.grace_until = ts + delay + CLOSING_GRACE_SECONDS
        if spoken or out:
            # An agent message restarts the slow-reply clock; the customer's own reply starts a new wait.
            self._start_wait(ts + delay)
        if out or spoken:
            self.last_kind = kind
        return Reaction(
            lines=out,
            delay=delay,
            emotion_delta=self.emotion - before,
            emotion=self.emotion,
            revealed=revealed,
            goals_done=[g for g in self.goals_done if g not in goals_before],
            end=end,
            moves=list(moves),
            rules_fired=fired,
            kind=kind if end is None else ("abandon" if end == "abandoned" else "satisfied"),
            notes=notes,
        )

    def _settled(
        self, out: list[str], fired: list[int], *, spoken: bool, rose: bool, closing_now: bool, kind: str
    ) -> str:
        """Every goal is done (and no rule ended the chat): how the customer winds up. Returns the reply's kind,
        ``"satisfied"`` when the chat ends now.

        A real customer whose issue is settled does not vanish: it thanks the agent (``satisfied_say``) and waits
        a grace period for the agent's goodbye (``grace_until``, ``GRACE_LINES``), leaving at once only on a
        closing or, for an email customer (no ``closing_grace``), whose thank-you is its goodbye. A hesitant
        customer first voices one last doubt and settles at the agent's next line that does not upset it. A
        customer whose own reply asks something does not thank in the same breath: its thanks wait for the answer
        (``satisfied_pending``; said in ``_react``'s grace acknowledgement), and for a hesitant customer that
        question is its last doubt.
        While waiting, the agent's closing gets a goodbye; a line or two that are not a closing are acknowledged
        (in ``_react``), and past ``GRACE_LINES`` of them the customer takes its leave itself, satisfied."""
        asks = bool(out) and out[-1].rstrip().endswith(("?", "？"))
        ended_by_rule = any(self.scenario.rules[i].end == "satisfied" for i in fired)
        if self.grace_until is None:
            if self.traits.follow_up and not self.followup_asked:
                self.followup_asked = True
                if not asks:
                    out.append(generic.pick(self.lang, "followup", self.rng))
                return "followup"
            if self.followup_asked and (not spoken or rose):
                return kind  # a desk action or a rude line does not settle the hesitant customer's last doubt
            if closing_now or not self.closing_grace:
                if not ended_by_rule:
                    out.append(self._line(self.scenario.satisfied_say, "satisfied"))
                return "satisfied"
            if asks:
                self.satisfied_pending = True
            elif not ended_by_rule:
                out.append(self._line(self.scenario.satisfied_say, "satisfied"))
            self.grace_until = 0.0  # set from the reply's end in _react
            self.grace_lines = 0
            return "satisfied_waiting"
        if closing_now:
            if not fired:
                out.append(generic.pick(self.lang, "goodbye", self.rng))
            return "satisfied"
        if spoken:
            self.grace_lines += 1
            if self.grace_lines > GRACE_LINES:
                out.append(generic.pick(self.lang, "take_leave", self.rng))  # the agent keeps talking: leave politely
                return "satisfied"
        return kind

    def _no_progress(self, moves: list[str], useful: bool) -> bool:
        """Whether this agent line is the second in a row that changed nothing while goals were open. Courtesy
        that changes nothing wears a waiting customer down as answers that do not answer do: a line that neither
        answers, asks, acts nor otherwise helps (an apology while calm, a thanks, a third hold) after another one
        annoys the customer (emotion +1, and it says so), so a pasted string of stock phrases angers the customer
        instead of keeping it calm (issue 11)."""
        if useful or set(moves) & PROGRESS_ACTS:
            self.idle_lines = 0
            return False
        if "greeting" in moves:
            return False  # an opening in its own message is how chats start, not a delay
        self.idle_lines += 1
        if self.idle_lines < 2:
            return False
        self.idle_lines = 0
        return True

    def _judge_answer(self, moves: list[str], reading, out: list[str], notes: list[str]) -> list[str]:
        """Whether an answering message answers *this* customer, and rightly. A stated figure that contradicts
        what the case knows is wrong information (the customer objects, emotion +1, and it is no answer); an
        answer that covers too little of the scenario's answer is not yet the answer (the second such one
        annoys); the scenario's answer keyword groups accumulate over the agent's messages. Asking again for
        what the customer already gave annoys it too."""
        moves = list(moves)
        wrong = (
            contradictions(reading.figures, self.known_figures)
            if "answer" in moves or "explain_policy" in moves
            else []
        )
        if wrong:
            self.wrong_info += 1
            self.emotion = _clamp(self.emotion + 1)
            out.append(generic.pick(self.lang, "wrong_info", self.rng))
            notes.append("wrong_information: " + "; ".join(f.text for f, _ in wrong))
            return [m for m in moves if m != "answer"]
        answer = self.scenario.answer
        if "answer" in moves and answer and answer.keywords and not self.answered:
            self.answer_groups.update(reading.answer_groups)
            self.answer_groups.update(self._groups_by_figures(reading))
            if len(self.answer_groups) < min(answer.min_keywords, len(answer.keywords)):
                moves.remove("answer")
                self.not_answered += 1
                if self.not_answered >= 2 and not reading.answer_groups:
                    self.not_answered = 0
                    self.emotion = _clamp(self.emotion + 1)
                    out.append(generic.pick(self.lang, "not_answered", self.rng))
                    notes.append("not_answered")
        for ask in ("ask_order", "ask_verification"):
            if ask not in moves:
                continue
            facts = [n for n, f in self.scenario.customer.facts.items() if ask in f.reveal_on]
            given = facts and all(n in self.revealed for n in facts)
            if ask == "ask_verification" and not facts:
                given = self.identity_given
            if given:
                self.repeat_asks += 1
                self.emotion = _clamp(self.emotion + (1 if self.repeat_asks >= 1 else 0))
                line = generic.pick(self.lang, "repeat_ask", self.rng)
                again = [
                    self.scenario.customer.facts[n].say.format(value=self.scenario.customer.facts[n].value)
                    for n in facts
                ]
                out.append(" ".join([line, *again[:1]]))
                notes.append(f"asked_again: {ask}")
                moves.remove(ask)
        return moves

    def _groups_by_figures(self, reading) -> set[int]:
        """Answer keyword groups whose figures the message states in other words (1号 for 6月1日 is not
        matched, but "3 to 7 working days" for 3-7个工作日 is)."""
        out: set[int] = set()
        for i, group in enumerate(self.scenario.answer.keywords if self.scenario.answer else []):
            known = [f for p in group for f in figures(p)]
            if known and any(not contradictions([f], known) for f in reading.figures if f.kind == known[0].kind):
                out.add(i)
        return out

    def _answer_questions(self, moves: list[str], reading, text: str, out: list[str], notes: list[str]) -> bool:
        """A question no rule foresaw: answered in character from the closest fact, or "I don't know"."""
        if not set(moves) & {"ask_detail", "ask_order"} or out:
            return False
        best, best_sim = None, 0.0
        if reading is not None and hasattr(self.recogniser, "embedder"):
            from understanding.reader import similarity

            for name, fact in self.scenario.customer.facts.items():
                sim = similarity(
                    self.recogniser, text, f"{name.replace('_', ' ')}: {fact.say.format(value=fact.value)}"
                )
                if sim > best_sim:
                    best, best_sim = name, sim
        if best is not None and best_sim >= FACT_MATCH_MIN:
            fact = self.scenario.customer.facts[best]
            out.append(fact.say.format(value=fact.value))
            if best not in self.revealed:
                self.revealed.append(best)
            notes.append(f"answered_from_fact: {best}")
            return True
        out.append(generic.pick(self.lang, "dont_know", self.rng))
        notes.append("dont_know")
        return True

    def _fire_rules(self, moves: list[str], out: list[str], revealed: list[str]) -> tuple[list[int], str | None]:
        """Fire the matching rules: the most specific first (more ``after`` goals), at most one per move and
        ``MAX_RULES_PER_MESSAGE`` in all. A rule's ``reveal`` marks facts revealed; their ``say`` lines are
        spoken only when the rule has no line of its own (which then carries the fact)."""
        present = set(moves)
        done = set(self.goals_done)
        candidates = [
            (i, r)
            for i, r in enumerate(self.scenario.rules)
            if r.on in present and all(g in done for g in r.after) and self.fired.get(i, 0) < r.times
        ]
        candidates.sort(key=lambda ir: (-len(ir[1].after), ir[0]))
        fired: list[int] = []
        used_moves: set[str] = set()
        end: str | None = None
        for i, rule in candidates:
            if len(fired) >= MAX_RULES_PER_MESSAGE or rule.on in used_moves:
                continue
            used_moves.add(rule.on)
            fired.append(i)
            self.fired[i] = self.fired.get(i, 0) + 1
            if rule.say:
                out.append(self.rng.choice(rule.say))
            for name in rule.reveal:
                if name not in self.revealed:
                    self.revealed.append(name)
                    revealed.append(name)
                    if not rule.say:
                        fact = self.scenario.customer.facts[name]
                        out.append(fact.say.format(value=fact.value))
            self.emotion = _clamp(self.emotion + rule.emotion)
            if rule.goal and rule.goal not in self.goals_done:
                self.goals_done.append(rule.goal)
            if rule.end and end is None:
                end = "abandoned" if rule.end == "abandon" else "satisfied"
        return fired, end


def _clamp(emotion: int) -> int:
    return max(0, min(len(EMOTIONS) - 1, emotion))
