"""The natural-words trial's machinery: build a pure simulated customer for a pack scenario, play a scripted
trainee against it, and check scripts for stock wording (the pack's move lexicon and service snippets).

A script is a list of steps: a ``str`` is an agent chat message; a ``(event_type, data)`` tuple is a desk
action the customer notices (``crm.verify``, ``ticket.created``, ``ticket.escalated``, ``kb.send``). What the
customer does on its own as the clock ticks between steps (an "are you there?", leaving) is a turn too, with the
step ``("tick", {"ts": ...})``, so a trace shows when and why a customer left.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from simulator.persona import CustomerState, Reaction
from understanding.lexicon import _Message, phrase_key

AGENT_TYPING_SECONDS = 20.0  # a competent agent answers well inside the pack's 60 s slow-reply threshold
DESK_SECONDS = 5.0  # a desk action (verify, ticket, escalate) is a few clicks
SNIPPET_CLAUSE_MIN = {"zh": 4, "en": 3}  # a snippet clause this long (chars / words) counts as stock wording


@dataclass
class Turn:
    """One step of a trial: what the agent did, how the reader read it, and what the customer did."""

    step: str | tuple
    before: str
    reading: dict | None
    reaction: Reaction | None


@dataclass
class Trial:
    state: CustomerState
    turns: list[Turn] = field(default_factory=list)

    def trace(self) -> str:
        """The conversation with the reader's acts and the customer's notes (shown when a trial fails)."""
        lines = [f"customer: {' / '.join(self.state.scenario.opening)}"]
        for t in self.turns:
            if isinstance(t.step, str):
                acts = [f"{a['act']}:{a['confidence']}" for a in (t.reading or {}).get("acts", [])]
                lines.append(f"agent: {t.step}\n    read as {acts} figures={(t.reading or {}).get('figures')}")
            elif t.step[0] == "tick":
                lines.append(f"clock: {t.step[1]['ts']:.0f} s")
            else:
                lines.append(f"desk: {t.step[0]} {t.step[1]}")
            r = t.reaction
            if r is not None:
                lines.append(
                    f"    customer[{r.kind}, emotion {r.emotion}, goals+{r.goals_done}, end={r.end},"
                    f" notes={r.notes}]: {' / '.join(r.lines)}"
                )
        lines.append(f"goals done: {self.state.goals_done}; finished: {self.state.finished}")
        return "\n".join(lines)


def identity_from_crm(pack, scenario) -> dict | None:
    """What the customer gives when asked to verify: the CRM record's name and phone's last four digits (as
    the live simulator does, without a database)."""
    rec = next((c for c in pack.crm.customers if c.ref == scenario.customer.crm_ref), None)
    if rec is None or not rec.phone:
        return None
    digits = "".join(ch for ch in rec.phone if ch.isdigit())
    return {"name": rec.name, "phone_last4": digits[-4:]}


def reference_from_kb(pack, scenario) -> str:
    """The body of the KB article the scenario's answer rests on ('' when none)."""
    slug = scenario.answer.kb_slug if scenario.answer else None
    article = next((a for a in pack.kb.articles if a.slug == slug), None)
    return article.body if article is not None else ""


def play(pack, scenario, reader, script: list, seed: int = 0) -> Trial:
    """Play ``script`` against a fresh customer for ``scenario``; the clock advances by the customer's typing
    delay plus an agent's typing time per step, and ticks before each step as the live engine does."""
    state = CustomerState(
        scenario,
        pack.info,
        seed,
        recogniser=reader,
        identity=identity_from_crm(pack, scenario),
        reference=reference_from_kb(pack, scenario),
    )
    trial = Trial(state)
    state.opening(ts=0.0)
    ts = 0.0
    for step in script:
        ts += AGENT_TYPING_SECONDS if isinstance(step, str) else DESK_SECONDS
        if (tick := state.on_tick(ts)) is not None:
            trial.turns.append(Turn(("tick", {"ts": ts}), state.last_said, None, tick))
        before = state.last_said
        if isinstance(step, str):
            reading = reader.read(step, scenario, before).as_dict()
            reaction = state.on_agent_message(step, ts)
        else:
            event, data = step
            reading = None
            reaction = state.on_desk_event(event, data, ts)
        trial.turns.append(Turn(step, before, reading, reaction))
        if reaction is not None:
            ts += reaction.delay
    return trial


# -- stock wording --------------------------------------------------------------------------------------------


def _flat(text: str) -> str:
    """NFKC, lower case, no whitespace: how a Chinese phrase is compared as a plain substring."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "").lower())


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


def lexicon_phrases(info) -> list[tuple[str, str]]:
    """(where, phrase) for every synonym of every move in pack.yaml, and the pack's forbidden phrases."""
    out = [(f"moves.{move}", s) for move, lex in info.moves.items() for s in lex.synonyms]
    out += [("forbidden_phrases", p) for p in info.forbidden_phrases]
    return out


def snippet_clauses(info) -> list[str]:
    """The clauses of the pack's service snippets long enough to be recognisably stock wording."""
    out = []
    for snip in info.snippets:
        for clause in re.split(r"[，。！？、；：,.!?;:]", snip.text):
            clause = clause.strip()
            if _has_cjk(clause):
                if len(_flat(clause)) >= SNIPPET_CLAUSE_MIN["zh"]:
                    out.append(clause)
            elif len(clause.split()) >= SNIPPET_CLAUSE_MIN["en"]:
                out.append(clause)
    return out


def stock_wording(text: str, info, scenario=None) -> list[str]:
    """Every lexicon synonym, forbidden phrase, scenario forbidden phrase or snippet clause in ``text``.
    A phrase counts when the lexicon itself would match it (whole words, case and punctuation ignored) or,
    for a Chinese phrase, when it appears anywhere in the text at all (stricter than the lexicon, which only
    matches runs of whole jieba words)."""
    msg = _Message(text)
    flat = _flat(text)
    phrases = lexicon_phrases(info)
    if scenario is not None:
        phrases += [("scenario.forbidden_phrases", p) for p in scenario.expected.forbidden_phrases]
    found = []
    for where, phrase in phrases:
        key = phrase_key(phrase)
        if (key and msg.find(key) is not None) or (_has_cjk(phrase) and _flat(phrase) in flat):
            found.append(f"{where}: {phrase}")
    for clause in snippet_clauses(info):
        if _has_cjk(clause):
            hit = _flat(clause) in flat
        else:
            hit = re.search(r"\b" + re.escape(clause.lower()) + r"\b", text.lower()) is not None
        if hit:
            found.append(f"snippets: {clause}")
    return found
