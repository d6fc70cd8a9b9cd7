"""What the agent's messages do, for grading: the language understanding's reading (understanding/), the same
one the simulated customer reacts to, so the scorecard credits exactly what the customer heard.

- ``agent_moves(recording)``: for each agent message, the acts it performs (read with the customer's previous
  message as context) and a short piece of evidence for each (the words that showed it, else the nearest
  training example), computed once per Recording and shared by the evaluators.
- ``agent_readings(recording)``: the same messages with their full readings (confidence, facts, the scenario's
  answer keyword groups), for evaluators that need more than the act names.
- ``find_phrase(text, phrases, lang)``: the first of a scenario's phrase list found in a message. The list is
  given to a MoveRecogniser of its own (as the synonyms of one move of a one-move pack), so a scenario's
  "required phrases" match exactly the way the simulator matches the pack's synonyms.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from functools import lru_cache

from scenarios.schema import MoveLexicon, PackInfo
from understanding.lexicon import MoveRecogniser

from .recording import Event, Recording

_lock = threading.Lock()
_pack_recognisers: dict[int, tuple[PackInfo, MoveRecogniser]] = {}
_analysis: weakref.WeakKeyDictionary[Recording, list] = weakref.WeakKeyDictionary()
_readings: weakref.WeakKeyDictionary[Recording, list] = weakref.WeakKeyDictionary()
_MAX_PACKS = 16
_MEMO_MAX = 50_000
_moves_memo: OrderedDict[tuple, tuple] = OrderedDict()


def pack_recogniser(pack: PackInfo):
    """The language understanding's Reader for a pack (outside an app, e.g. a pure unit test with a hand-made
    pack, the lexicon recogniser of that pack)."""
    from flask import has_app_context

    if has_app_context():
        from understanding.store import reader_for

        return reader_for(pack)
    return _lexicon_recogniser(pack)


def _lexicon_recogniser(pack: PackInfo) -> MoveRecogniser:
    """One MoveRecogniser per PackInfo object (a reloaded pack is a new object and gets a new one)."""
    with _lock:
        hit = _pack_recognisers.get(id(pack))
        if hit is not None and hit[0] is pack:
            return hit[1]
    rec = MoveRecogniser(pack)
    with _lock:
        if len(_pack_recognisers) >= _MAX_PACKS:
            _pack_recognisers.clear()
        _pack_recognisers[id(pack)] = (pack, rec)  # the pack is held, so its id stays unique while cached
    return rec


def agent_moves(recording: Recording) -> list[tuple[Event, dict[str, str]]]:
    """``[(agent message, {move: phrase})]`` in order; empty moves for every message when there is no pack."""
    with _lock:
        cached = _analysis.get(recording)
    if cached is not None:
        return cached
    readings = agent_readings(recording)
    result = [(m, _as_evidence(r)) for m, r in readings]
    with _lock:
        _analysis[recording] = result
    return result


def agent_readings(recording: Recording) -> list[tuple[Event, object]]:
    """``[(agent message, Reading or None)]`` in order, each read with the customer's previous message."""
    with _lock:
        cached = _readings.get(recording)
    if cached is not None:
        return cached
    msgs = recording.messages("agent")
    if recording.pack is None:
        result = [(m, None) for m in msgs]
    else:
        rec = pack_recogniser(recording.pack)
        before = ""
        result = []
        agent_seqs = {m.seq for m in msgs}
        for e in recording.events:
            if e.type == "message" and e.actor == "customer":
                before = e.text or ""
            elif e.seq in agent_seqs:
                result.append((e, _read(rec, e.text or "", recording.scenario, before)))
    with _lock:
        _readings[recording] = result
    return result


def reading_has(reading, act: str) -> bool:
    """Whether an ``agent_readings`` reading shows ``act``: the understanding's Reading, or the lexicon's
    {act: phrase} evidence where no model runs (outside an app)."""
    if reading is None:
        return False
    return act in reading if isinstance(reading, dict) else reading.has(act)


def _as_evidence(reading) -> dict[str, str]:
    if reading is None:
        return {}
    if isinstance(reading, dict):
        return reading  # a lexicon recogniser's evidence
    return {a.name: (" / ".join(a.words) if a.words else (a.nearest[0] if a.nearest else a.name)) for a in reading.acts}


def _read(rec, text: str, scenario, before: str):
    """The Reader's reading (it memoises itself); a lexicon recogniser's evidence dict outside an app."""
    if hasattr(rec, "read"):
        long_text = len(text) > 300 or text.count("\n") > 2
        return (rec.read_document if long_text else rec.read)(text, scenario, before)
    return _evidence(rec, text, scenario)


def _evidence(rec: MoveRecogniser, text: str, scenario) -> dict[str, str]:
    """``rec.evidence(text, scenario)``, memoised: agents insert the same service phrases ("/" snippets) in
    contact after contact, and a regrade reads every message again. The key holds the recogniser and scenario
    objects' identities (checked on a hit), so a reloaded pack or scenario never reuses an old answer."""
    key = (id(rec), id(scenario), text)
    with _lock:
        hit = _moves_memo.get(key)
        if hit is not None and hit[0] is rec and hit[1] is scenario:
            _moves_memo.move_to_end(key)
            return hit[2]
    found = rec.evidence(text, scenario)
    with _lock:
        _moves_memo[key] = (rec, scenario, found)
        if len(_moves_memo) > _MEMO_MAX:
            _moves_memo.popitem(last=False)
    return found


@lru_cache(maxsize=512)
def _phrase_recogniser(phrases: tuple[str, ...], lang: str) -> MoveRecogniser:
    # "greeting" is only a carrier: the one-move pack's single lexicon is the scenario's phrase list.
    pack = PackInfo(
        lang=lang, name="phrases", moves={"greeting": MoveLexicon(synonyms=list(phrases))}, wrap_up_codes=[], queues=[]
    )
    return MoveRecogniser(pack)


@lru_cache(maxsize=65536)
def _find(text: str, phrases: tuple[str, ...], lang: str) -> str | None:
    return _phrase_recogniser(phrases, lang).evidence(text).get("greeting")


def find_phrase(text: str | None, phrases: list[str] | tuple[str, ...], lang: str = "zh_CN") -> str | None:
    """The first phrase of ``phrases`` that ``text`` shows (as the pack's synonyms match), or None."""
    if not text or not phrases:
        return None
    return _find(text, tuple(phrases), lang if lang in ("zh_CN", "en") else "zh_CN")


_moods: weakref.WeakKeyDictionary[Recording, list] = weakref.WeakKeyDictionary()


def customer_moods(recording: Recording) -> list[tuple[Event, object]]:
    """``[(customer message, Mood)]`` in order: how a person-played customer sounds (understanding.mood); the
    simulated customer's own ``customer.state`` events say it directly and are preferred where they exist."""
    from flask import has_app_context

    with _lock:
        cached = _moods.get(recording)
    if cached is not None:
        return cached
    msgs = recording.messages("customer")
    if not msgs or not has_app_context():
        result = []
    else:
        from understanding.mood import mood_reader

        reader = mood_reader(recording.lang)
        result = [(m, reader.read(m.text or "")) for m in msgs]
    with _lock:
        _moods[recording] = result
    return result
