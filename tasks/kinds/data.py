"""Data tasks on the sandbox's records (L3/4.1.1-4.1.3, L3/3.1.1, L4/3.1.2): filter and aggregate answers,
correcting records against the logistics record, and a summary spreadsheet uploaded as XLSX and checked cell
by cell."""

from __future__ import annotations

import random
import re
from typing import Literal

from pydantic import Field, model_validator

from .. import datagen
from ..datagen import Metric
from ..textcheck import norm
from . import BaseTaskKind, CheckResult, StrictParams, TaskError

MAX_ANSWER = 4000


class Question(StrictParams):
    id: str
    prompt: str
    metric: Metric
    tolerance: float = Field(0.0, ge=0)  # numbers: how far an answer may be off


class QueryParams(StrictParams):
    dataset: Literal["tickets", "contacts", "intervals", "callbacks"]
    rows: int = Field(40, ge=5, le=300)
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def fields_exist(self):
        for q in self.questions:
            problem = datagen.metric_fields_problem(q.metric, self.dataset)
            if problem:
                raise ValueError(f"question {q.id}: {problem}")
        return self


class AnswerCheck(StrictParams):
    questions: list[str] = Field(min_length=1)  # the question ids this item scores


def _ids(text: str) -> list[str]:
    return sorted({t.upper() for t in re.split(r"[\s,;，；、]+", text or "") if t})


def _number(text: str) -> float | None:
    s = (text or "").strip().replace("%", "").replace(",", ".")
    try:
        v = float(s)
    except ValueError:
        return None
    return v / 100 if "%" in (text or "") else v


def answer_score(q: Question, truth, given: str) -> tuple[float, str]:
    """(fraction, note) for one answer: ids by overlap (F1), numbers within tolerance, labels exactly."""
    if q.metric.op == "ids":
        got, want = set(_ids(given)), set(truth)
        if not want:
            return (1.0 if not got else 0.0), f"expected none, got {len(got)}"
        hit = len(got & want)
        p = hit / len(got) if got else 0.0
        r = hit / len(want)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return f1, f"{hit} of {len(want)} found, {len(got - want)} extra"
    if q.metric.op == "top":
        ok = norm(given) == norm(str(truth))
        return (1.0 if ok else 0.0), f"expected {truth}, got {given or '-'}"
    v = _number(given)
    if v is None:
        return 0.0, f"expected {truth}, got no number"
    ok = abs(v - float(truth)) <= q.tolerance + 1e-9 or (
        q.metric.op == "share" and abs(v / 100 - float(truth)) <= q.tolerance + 1e-9
    )
    return (1.0 if ok else 0.0), f"expected {truth}, got {given}"


class DataQuery(BaseTaskKind):
    """Filter and aggregate the records; each answer is compared with the truth computed from the seed."""

    key = "data_query"
    Params = QueryParams
    checks = {"answers": AnswerCheck}

    def generate(self, params, seed, lang):
        rows = datagen.dataset(params.dataset, seed, params.rows, lang)
        truth = {q.id: datagen.evaluate(q.metric, rows, lang) for q in params.questions}
        return {"columns": list(rows[0]), "rows": rows, "questions": [q.model_dump() for q in params.questions]}, {
            "answers": truth
        }

    def clean_submission(self, params, data, body):
        answers = body.get("answers")
        if not isinstance(answers, dict):
            raise TaskError("send the answers as {question id: answer}")
        known = {q.id for q in params.questions}
        return {"answers": {k: str(v)[:MAX_ANSWER] for k, v in answers.items() if k in known and v is not None}}

    def run_check(self, check, cparams, params, data, truth, sub, files):
        qs = {q.id: q for q in params.questions}
        fracs, ev = [], []
        for qid in cparams.questions:
            frac, note = answer_score(qs[qid], truth["answers"][qid], sub.get("answers", {}).get(qid, ""))
            fracs.append(frac)
            ev.append({"quote": sub.get("answers", {}).get(qid, ""), "note": f"{qid}: {note}"})
        return CheckResult(sum(fracs) / len(fracs), f"{sum(f == 1.0 for f in fracs)}/{len(fracs)} exact", ev)


class CorrectionParams(StrictParams):
    rows: int = Field(20, ge=5, le=200)
    wrong: int = Field(5, ge=1, le=50)

    @model_validator(mode="after")
    def fewer_wrong(self):
        if self.wrong >= self.rows:
            raise ValueError("wrong must be fewer than rows")
        return self


class NoParams(StrictParams):
    pass


class DataCorrection(BaseTaskKind):
    """Verify the CRM addresses against the logistics record and correct the ones that disagree."""

    key = "data_correction"
    Params = CorrectionParams
    checks = {"corrected": NoParams, "untouched": NoParams}

    def generate(self, params, seed, lang):
        rows, bad = datagen.orders(random.Random(f"orders:{seed}"), params.rows, params.wrong, lang)
        return {"columns": ["id", "customer", "crm_address", "logistics_address"], "rows": rows}, {"wrong": bad}

    def clean_submission(self, params, data, body):
        edits = body.get("rows")
        if not isinstance(edits, dict):
            raise TaskError("send the corrected rows as {order id: address}")
        ids = {r["id"] for r in data["rows"]}
        unknown = [k for k in edits if k not in ids]
        if unknown:
            raise TaskError(f"no such order(s): {', '.join(sorted(unknown)[:5])}")
        return {"rows": {k: str(v).strip()[:300] for k, v in edits.items()}}

    def run_check(self, check, cparams, params, data, truth, sub, files):
        original = {r["id"]: r["crm_address"] for r in data["rows"]}
        final = {**original, **sub.get("rows", {})}
        wrong = truth["wrong"]
        if check == "corrected":
            ok = [oid for oid, addr in wrong.items() if norm(final[oid]) == norm(addr)]
            ev = [{"quote": final[oid], "note": f"{oid}: should be {addr}"} for oid, addr in wrong.items()
                  if oid not in ok]  # fmt: skip
            return CheckResult(len(ok) / len(wrong), f"{len(ok)} of {len(wrong)} corrected", ev)
        damaged = [oid for oid in original if oid not in wrong and norm(final[oid]) != norm(original[oid])]
        ev = [{"quote": final[oid], "note": f"{oid} was right: {original[oid]}"} for oid in damaged]
        return CheckResult(0.0 if damaged else 1.0, f"{len(damaged)} correct row(s) changed", ev)


class Column(StrictParams):
    id: str
    header: str
    metric: Literal["count", "mean", "sum", "share"]
    field: str | None = None
    tolerance: float = Field(0.01, ge=0)


class SpreadsheetParams(StrictParams):
    dataset: Literal["tickets", "contacts", "intervals", "callbacks"]
    rows: int = Field(60, ge=5, le=500)
    where: list[datagen.Cond] = []
    group_by: str
    group_header: str
    columns: list[Column] = Field(min_length=1)

    @model_validator(mode="after")
    def fields_exist(self):
        for c in self.columns:
            m = Metric(op=c.metric if c.metric != "share" else "share", field=c.field, where=self.where)
            problem = datagen.metric_fields_problem(m, self.dataset)
            if problem:
                raise ValueError(f"column {c.id}: {problem}")
        problem = datagen.metric_fields_problem(Metric(op="top", field=self.group_by), self.dataset)
        if problem:
            raise ValueError(f"group_by: {problem}")
        return self


def summary_table(params: SpreadsheetParams, rows: list[dict], lang: str) -> dict[str, dict[str, float]]:
    """The true summary: group label -> column id -> value (rounded to 2 places)."""
    base = datagen.select(rows, params.where, lang)
    groups = sorted({r[params.group_by] for r in base})
    out = {}
    for g in groups:
        cond = datagen.Cond(field=params.group_by, op="eq", value=g)
        row = {}
        for c in params.columns:
            m = Metric(op=c.metric, field=c.field, where=[*params.where, cond], of=params.where)
            row[c.id] = round(float(datagen.evaluate(m, rows, lang)), 2)
        out[g] = row
    return out


class Spreadsheet(BaseTaskKind):
    """Summarise the records in a spreadsheet and upload it (XLSX): first sheet, a header row, one row per
    group; checked cell by cell against the true summary."""

    key = "spreadsheet"
    Params = SpreadsheetParams
    checks = {"layout": NoParams, "cells": NoParams}
    uploads = ("xlsx",)

    def generate(self, params, seed, lang):
        rows = datagen.dataset(params.dataset, seed, params.rows, lang)
        headers = [params.group_header, *[c.header for c in params.columns]]
        return {"columns": list(rows[0]), "rows": rows, "headers": headers}, {
            "summary": summary_table(params, rows, lang)
        }

    def clean_submission(self, params, data, body):
        return {"note": str(body.get("note") or "")[:2000]}

    def _sheet(self, params, files) -> tuple[dict | None, str]:
        x = files.get("xlsx")
        if not x:
            return None, "no spreadsheet uploaded"
        rows = x.get("rows") or []
        want = [norm(h) for h in [params.group_header, *[c.header for c in params.columns]]]
        for i, row in enumerate(rows[:10]):
            got = [norm(str(v)) if v is not None else "" for v in row]
            if all(h in got for h in want):
                col = {h: got.index(h) for h in want}
                return {"rows": rows[i + 1 :], "col": col, "header_row": i + 1}, ""
        return None, "no header row with: " + ", ".join([params.group_header, *[c.header for c in params.columns]])

    def run_check(self, check, cparams, params, data, truth, sub, files):
        sheet, why = self._sheet(params, files)
        if check == "layout":
            return CheckResult(1.0 if sheet else 0.0, why or f"header found in row {sheet['header_row']}")
        if sheet is None:
            return CheckResult(0.0, why)
        gcol = sheet["col"][norm(params.group_header)]
        by_group = {}
        for r in sheet["rows"]:
            if gcol < len(r) and r[gcol] is not None:
                by_group[norm(str(r[gcol]))] = r
        ok, total, ev = 0, 0, []
        for group, want in truth["summary"].items():
            r = by_group.get(norm(group))
            for c in params.columns:
                total += 1
                idx = sheet["col"][norm(c.header)]
                v = r[idx] if r is not None and idx < len(r) else None
                try:
                    got = float(str(v).rstrip("%")) / (100 if str(v).endswith("%") else 1) if v is not None else None
                except ValueError:
                    got = None
                if got is not None and c.metric == "share" and got > 1.0 + 1e-9:
                    got /= 100  # a share typed as 35 (per cent) instead of 0.35
                if got is not None and abs(got - want[c.id]) <= c.tolerance + 1e-9:
                    ok += 1
                else:
                    ev.append({"quote": "" if v is None else str(v), "note": f"{group} / {c.header}: {want[c.id]}"})
        return CheckResult(ok / total if total else 0.0, f"{ok} of {total} cells right", ev[:20])
