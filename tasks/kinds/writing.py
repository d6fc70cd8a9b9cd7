"""Written work: knowledge-base maintenance (L4/3.2.1), scripts (话术, L3/5.1.4), written replies and system
feedback (L3/2.2.1, 3.2.1-3.2.2), and analysis reports and slides on the sandbox's records (L3/2.3.3, 2.4.2,
3.1.2, 4.2.1-4.2.3, L4/2.5.1-2.5.2, 4.1.2, 4.2.1).

Rich text is sanitised with nh3 (as the email desk does) before it is stored; a report may instead be an
uploaded DOCX or PDF, slides a PPTX. Automatic checks find the expected facts (and the outdated ones that must
be gone) and, for reports, the figures computed from the task's data; the rest is manual rubric items."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from channels.email.htmlsafe import html_to_text, sanitise_html

from .. import datagen
from ..datagen import Metric
from ..textcheck import Fact, find_fact, find_figure
from . import BaseTaskKind, CheckResult, StrictParams, TaskError

MAX_HTML = 100_000


class Source(StrictParams):
    title: str
    text: str


class WritingParams(StrictParams):
    form: Literal["kb_article", "script", "reply", "feedback"]
    sources: list[Source] = Field(min_length=1)
    start_text: str = ""
    facts: list[Fact] = Field(min_length=1)
    forbidden: list[Fact] = []


class NoParams(StrictParams):
    pass


def rich_text(body: dict) -> dict:
    html = body.get("html", "")
    if not isinstance(html, str):
        raise TaskError("send the text as html")
    if len(html) > MAX_HTML:
        raise TaskError(f"the text is longer than {MAX_HTML} characters")
    clean = sanitise_html(html)
    return {"html": clean, "text": html_to_text(clean)}


def _facts(facts: list[Fact], text: str, want: bool) -> CheckResult:
    found = [(f, find_fact(f, text)) for f in facts]
    ok = [f for f, q in found if bool(q) == want]
    ev = [{"quote": q or "", "note": ("stated: " if q else "missing: ") + f.title} for f, q in found]
    return CheckResult(len(ok) / len(facts), f"{len(ok)} of {len(facts)}", ev)


class Writing(BaseTaskKind):
    """Write or rewrite a text from source material; graded against expected facts and by a lead/grader."""

    key = "writing"
    Params = WritingParams
    checks = {"facts": NoParams, "no_outdated": NoParams}

    def generate(self, params, seed, lang):
        data = {"form": params.form, "sources": [s.model_dump() for s in params.sources],
                "start_text": params.start_text}  # fmt: skip
        return data, {}

    def clean_submission(self, params, data, body):
        return rich_text(body)

    def run_check(self, check, cparams, params, data, truth, sub, files):
        text = sub.get("text", "")
        if check == "facts":
            return _facts(params.facts, text, True)
        if not params.forbidden:
            return CheckResult(0.0, "nothing outdated to remove", na=True)
        res = _facts(params.forbidden, text, False)
        res.fraction = 1.0 if res.fraction == 1.0 else 0.0
        return res


class Figure(StrictParams):
    id: str
    title: str
    metric: Metric
    tolerance: float = Field(0.0, ge=0)


class ReportParams(StrictParams):
    dataset: Literal["tickets", "contacts", "intervals", "callbacks"]
    rows: int = Field(80, ge=10, le=500)
    format: Literal["report", "slides"] = "report"
    figures: list[Figure] = Field(min_length=1)
    facts: list[Fact] = []  # statements any good report makes (e.g. names an early-warning threshold)
    min_slides: int = Field(3, ge=1, le=40)

    @model_validator(mode="after")
    def fields_exist(self):
        for f in self.figures:
            problem = datagen.metric_fields_problem(f.metric, self.dataset)
            if problem:
                raise ValueError(f"figure {f.id}: {problem}")
        return self


class Report(BaseTaskKind):
    """An analysis report (rich text, or DOCX/PDF) or slides (PPTX) on the task's records: the figures it must
    find are computed from the data, so they are checked automatically; argument and proposals are manual."""

    key = "report"
    Params = ReportParams
    checks = {"figures": NoParams, "facts": NoParams, "slides": NoParams}
    uploads = ("docx", "pdf", "pptx")

    def generate(self, params, seed, lang):
        rows = datagen.dataset(params.dataset, seed, params.rows, lang)
        truth = {f.id: datagen.evaluate(f.metric, rows, lang) for f in params.figures}
        return {"columns": list(rows[0]), "rows": rows, "format": params.format}, {"figures": truth}

    def clean_submission(self, params, data, body):
        return rich_text(body)

    def _text(self, params, sub, files) -> tuple[str, str]:
        for kind in ("pptx",) if params.format == "slides" else ("docx", "pdf"):
            if files.get(kind):
                return files[kind].get("text", ""), kind
        return sub.get("text", ""), "text"

    def run_check(self, check, cparams, params, data, truth, sub, files):
        text, source = self._text(params, sub, files)
        if check == "slides":
            deck = files.get("pptx")
            if deck is None:
                return CheckResult(0.0, "no slides (.pptx) uploaded")
            n = deck.get("slides", 0)
            return CheckResult(1.0 if n >= params.min_slides else 0.0, f"{n} slides (at least {params.min_slides})")
        if check == "facts":
            if not params.facts:
                return CheckResult(0.0, "no facts listed", na=True)
            return _facts(params.facts, text, True)
        found, ev = 0, []
        for f in params.figures:
            value = truth["figures"][f.id]
            where = find_figure(value, text, f.tolerance, share=f.metric.op == "share")
            found += bool(where)
            ev.append({"quote": where or "", "note": f"{f.title}: {value}" + ("" if where else " (not found)")})
        return CheckResult(found / len(params.figures), f"{found} of {len(params.figures)} figures ({source})", ev)
