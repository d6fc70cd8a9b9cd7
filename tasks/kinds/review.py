"""Reviewing someone else's work: spotting the errors planted in a junior's recorded contact and ticket
(L4/2.1.1), and evaluating another agent's recording with the centre's rubric, with coaching notes
(L3/5.1.1-5.1.3, L4/4.1.1, L4/4.2.2)."""

from __future__ import annotations

import random
import re
from typing import Literal

from pydantic import Field, model_validator

from grading.agreement import icc2k

from ..textcheck import Fact, find_fact, norm
from . import BaseTaskKind, CheckResult, StrictParams, TaskError

_SCALE = re.compile(r"^0\.\.([1-9]|10)$")


class Line(StrictParams):
    who: Literal["agent", "customer"]
    text: str


class Plant(StrictParams):
    field: str
    wrong: str


class ErrorParams(StrictParams):
    transcript: list[Line] = Field(min_length=2)
    fields: dict[str, str] = Field(min_length=2)  # field -> label shown
    record: dict[str, str]  # field -> the correct value
    plants: list[Plant] = Field(min_length=1)
    plant_count: int = Field(2, ge=1, le=10)

    @model_validator(mode="after")
    def consistent(self):
        if set(self.record) != set(self.fields):
            raise ValueError("record and fields must name the same fields")
        for p in self.plants:
            if p.field not in self.fields:
                raise ValueError(f"plant field {p.field!r} is not in fields")
            if norm(p.wrong) == norm(self.record[p.field]):
                raise ValueError(f"plant for {p.field!r} is the correct value")
        if len({p.field for p in self.plants}) < self.plant_count:
            raise ValueError("plant_count is more than the fields that have plants")
        return self


class NoParams(StrictParams):
    pass


class ErrorSpotting(BaseTaskKind):
    """A junior's record with errors planted from the spec's list (chosen by the seed): flag and correct them."""

    key = "error_spotting"
    Params = ErrorParams
    checks = {"found": NoParams, "corrected": NoParams, "no_false_alarms": NoParams}

    def generate(self, params, seed, lang):
        rng = random.Random(f"plants:{seed}")
        by_field: dict[str, list[Plant]] = {}
        for p in params.plants:
            by_field.setdefault(p.field, []).append(p)
        chosen = rng.sample(sorted(by_field), params.plant_count)
        record = dict(params.record)
        planted = {}
        for f in chosen:
            record[f] = rng.choice(by_field[f]).wrong
            planted[f] = params.record[f]
        data = {"transcript": [line.model_dump() for line in params.transcript], "fields": params.fields,
                "record": record}  # fmt: skip
        return data, {"planted": planted}

    def clean_submission(self, params, data, body):
        flags = body.get("flags")
        corrections = body.get("corrections") or {}
        if not isinstance(flags, list) or not isinstance(corrections, dict):
            raise TaskError("send {flags: [field...], corrections: {field: value}}")
        unknown = [f for f in [*flags, *corrections] if f not in params.fields]
        if unknown:
            raise TaskError(f"unknown field(s): {', '.join(map(str, unknown[:5]))}")
        return {"flags": sorted(set(flags)), "corrections": {k: str(v).strip()[:300] for k, v in corrections.items()}}

    def run_check(self, check, cparams, params, data, truth, sub, files):
        planted = truth["planted"]
        flags = set(sub.get("flags", []))
        if check == "found":
            hit = [f for f in planted if f in flags]
            ev = [
                {"quote": data["record"][f], "note": f"missed: {params.fields[f]}"} for f in planted if f not in flags
            ]
            return CheckResult(len(hit) / len(planted), f"{len(hit)} of {len(planted)} errors found", ev)
        if check == "corrected":
            corr = sub.get("corrections", {})
            ok = [f for f in planted if f in flags and norm(corr.get(f, "")) == norm(planted[f])]
            ev = [
                {"quote": corr.get(f, ""), "note": f"{params.fields[f]}: {planted[f]}"} for f in planted if f not in ok
            ]
            return CheckResult(len(ok) / len(planted), f"{len(ok)} of {len(planted)} corrected", ev)
        false = sorted(flags - set(planted))
        ev = [{"quote": data["record"][f], "note": f"{params.fields[f]} was right"} for f in false]
        return CheckResult(0.0 if false else 1.0, f"{len(false)} correct field(s) flagged", ev)


class QaItem(StrictParams):
    id: str
    title: str
    scale: str
    guidance: str

    @model_validator(mode="after")
    def scale_ok(self):
        if not _SCALE.match(self.scale):
            raise ValueError("scale: 0..N with N from 1 to 10")
        return self

    @property
    def top(self) -> int:
        return int(self.scale.split("..")[1])


class QaParams(StrictParams):
    agent: str
    transcript: list[Line] = Field(min_length=2)
    rubric: list[QaItem] = Field(min_length=2)
    key: dict[str, int]  # the expert key: item id -> score
    coaching_points: list[Fact] = []

    @model_validator(mode="after")
    def key_complete(self):
        ids = {i.id for i in self.rubric}
        if set(self.key) != ids:
            raise ValueError(f"key must score exactly the rubric items {sorted(ids)}")
        for i in self.rubric:
            if not 0 <= self.key[i.id] <= i.top:
                raise ValueError(f"key for {i.id} is outside {i.scale}")
        return self


class AgreementCheck(StrictParams):
    tolerance: int = Field(0, ge=0, le=3)  # scale points an item score may differ from the key


class QaEvaluation(BaseTaskKind):
    """Score another agent's recording with the centre's rubric and write coaching notes; the scores are
    compared with the expert key (per item, and ICC(2,1)-style agreement from grading.agreement as evidence)."""

    key = "qa_evaluation"
    Params = QaParams
    checks = {"key_agreement": AgreementCheck, "coaching_points": NoParams}

    def generate(self, params, seed, lang):
        data = {"agent": params.agent, "transcript": [line.model_dump() for line in params.transcript],
                "rubric": [i.model_dump() for i in params.rubric]}  # fmt: skip
        return data, {"key": params.key}

    def clean_submission(self, params, data, body):
        scores, notes = body.get("scores"), body.get("notes", "")
        if not isinstance(scores, dict) or not isinstance(notes, str):
            raise TaskError("send {scores: {item: number}, notes: text}")
        tops = {i.id: i.top for i in params.rubric}
        clean = {}
        for k, v in scores.items():
            if k not in tops:
                raise TaskError(f"unknown rubric item {k!r}")
            if v in (None, ""):
                continue
            try:
                n = int(v)
            except (TypeError, ValueError) as e:
                raise TaskError(f"{k}: a score is a whole number") from e
            if not 0 <= n <= tops[k]:
                raise TaskError(f"{k}: a score is from 0 to {tops[k]}")
            clean[k] = n
        return {"scores": clean, "notes": notes[:8000]}

    def run_check(self, check, cparams, params, data, truth, sub, files):
        if check == "coaching_points":
            if not params.coaching_points:
                return CheckResult(0.0, "no coaching points in the spec", na=True)
            notes = sub.get("notes", "")
            found = [(f, find_fact(f, notes)) for f in params.coaching_points]
            ev = [{"quote": q or "", "note": ("addressed: " if q else "not addressed: ") + f.title} for f, q in found]
            n = sum(1 for _f, q in found if q)
            return CheckResult(n / len(found), f"{n} of {len(found)} coaching points addressed", ev)
        key, scores = truth["key"], sub.get("scores", {})
        within, ev, matrix = 0, [], []
        for item in params.rubric:
            got = scores.get(item.id)
            if got is not None and abs(got - key[item.id]) <= cparams.tolerance:
                within += 1
            else:
                ev.append({"quote": "" if got is None else str(got), "note": f"{item.title}: key {key[item.id]}"})
            matrix.append([float(got if got is not None else 0) / item.top, key[item.id] / item.top])
        agree = icc2k(matrix)
        note = f"{within} of {len(params.rubric)} items within {cparams.tolerance} of the key"
        if agree.value is not None:
            note += f"; ICC(2,k) with the key {agree.value:.2f}"
        return CheckResult(within / len(params.rubric), note, ev)
