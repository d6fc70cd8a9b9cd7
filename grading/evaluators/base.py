"""BaseEvaluator, ItemResult and Evidence: the fixed shape every evaluator has."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from ..recording import Event, Recording

Status = Literal["pass", "fail", "na"]
ALL_CHANNELS = frozenset({"chat", "voice", "video", "email", "group", "livestream"})
QUOTE_MAX = 160


class Note(str):
    """A note for the scorecard: the English text as stored (stable, so regrading gives the same scorecard) that
    also keeps its message and parameters, so pages show it in the reader's language (labels.engine_note).
    Made by ``N_``; a plain ``str`` note is shown as written."""

    msgid: str
    args: dict

    def __new__(cls, msgid: str, args: dict) -> Note:
        self = super().__new__(cls, msgid.format(**args))
        # a note inside a note keeps its own message, so both are translated when shown
        self.msgid = msgid
        self.args = {k: v.i18n() if isinstance(v, Note) else v for k, v in args.items()}
        return self

    def __reduce__(self):  # copies and pickles (parallel grading) keep the message
        return (_restore_note, (str(self), self.msgid, self.args))

    def i18n(self) -> dict:
        return {"msg": self.msgid, "args": self.args}


def _restore_note(text: str, msgid: str, args: dict) -> Note:
    note = str.__new__(Note, text)
    note.msgid, note.args = msgid, args
    return note


def N_(msgid: str, **args) -> Note:  # noqa: N802 -- the name pybabel extracts (Makefile translations-update -k N_)
    """A translatable scorecard note: ``msgid`` is a ``str.format`` template in English, ``args`` JSON values
    (codes among them are shown by their labels)."""
    return Note(msgid, args)


def join_notes(notes: list[str], sep: str = "; ") -> str:
    """Several notes as one (each kept translatable)."""
    return Note(sep.join(f"{{p{i}}}" for i in range(len(notes))), {f"p{i}": n for i, n in enumerate(notes)})


def note_fields(note: str) -> dict:
    """The stored form of a note: its English text, plus its message and parameters when it is translatable."""
    return {"note": str(note), "note_i18n": note.i18n()} if isinstance(note, Note) else {"note": note}


@dataclass(frozen=True)
class Evidence:
    """What decided a result: the event (id, seq, timestamp), a quote of its text and a note saying why.
    ``event_id`` is None for evidence about something absent (no ticket, no reply)."""

    event_id: int | None
    seq: int | None
    ts: float | None
    quote: str = ""
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "event_id": self.event_id,
            "seq": self.seq,
            "ts": round(self.ts, 3) if self.ts is not None else None,
            "quote": self.quote,
            **note_fields(self.note),
        }


def recorded_or(value, default):
    """A typed field's value, or ``default`` when the event did not record it (None), as the string-key read
    with a default did before evaluators read typed fields."""
    return default if value is None else value


def evidence(event: Event | None, note: str = "", quote: str | None = None) -> Evidence:
    """Evidence pointing at ``event`` (quoting its text unless ``quote`` is given), or at nothing."""
    if event is None:
        return Evidence(None, None, None, quote or "", note)
    text = quote if quote is not None else (event.text or "")
    if len(text) > QUOTE_MAX:
        text = text[: QUOTE_MAX - 1] + "…"
    return Evidence(event.id, event.seq, event.ts, text, note)


@dataclass(frozen=True)
class ItemResult:
    """An evaluator's verdict: ``status`` pass/fail/na, ``fraction`` of the item's points earned (0..1; partial
    credit), the evidence that decided it, and a one-line ``note`` for the scorecard."""

    status: Status
    fraction: float = 0.0
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    note: str = ""

    @classmethod
    def na(cls, note: str) -> ItemResult:
        return cls("na", 0.0, (), note)

    @classmethod
    def of(cls, passed: bool, evidence_list: list[Evidence], note: str = "", fraction: float | None = None):
        frac = (1.0 if passed else 0.0) if fraction is None else max(0.0, min(1.0, fraction))
        return cls("pass" if passed else "fail", frac, tuple(evidence_list), note)


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BaseEvaluator(ABC):
    """An automatic check of one rubric item. Subclasses set ``name`` (the rubric's ``evaluator``), the
    ``channels`` they can grade and a ``Params`` pydantic model (extra fields forbidden) for the rubric's
    ``params``; ``evaluate`` reads only the Recording and returns an ItemResult with evidence. Evaluators keep
    no state between calls: the same recording and params always give the same result."""

    name: ClassVar[str] = ""
    channels: ClassVar[frozenset[str]] = ALL_CHANNELS
    Params: ClassVar[type[BaseModel]] = NoParams

    @abstractmethod
    def evaluate(self, recording: Recording, params: BaseModel) -> ItemResult:
        """Check the recording against ``params``; return pass, fail or N/A with the evidence that decided it."""

    def run(self, recording: Recording, params: dict) -> ItemResult:
        """Validate ``params`` with ``Params`` and evaluate."""
        return self.evaluate(recording, self.Params.model_validate(params or {}))


def held_spans(recording: Recording) -> list[tuple[float, float]]:
    """Periods an agent held the contact: from each assignment to the next transfer or the contact's end."""
    spans, start = [], None
    for e in recording.events:
        if e.type == "assignment":
            start = e.ts if start is None else start
        elif e.type in ("transfer", "contact.ended", "contact.abandoned", "wrap_up") and start is not None:
            spans.append((start, e.ts))
            start = None
    if start is not None:
        spans.append((start, float("inf")))
    return spans


def end_ts(recording: Recording) -> float | None:
    """When the conversation ended (contact.ended / abandoned), or None while it runs."""
    ends = recording.of_type("contact.ended", "contact.abandoned")
    return ends[0].ts if ends else None
