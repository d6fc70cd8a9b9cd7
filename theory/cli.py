"""`flask theory check [PATH]` and `flask theory load [PATH]` (PATH: a banks root holding zh_CN/ and en/;
default theory/banks)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from extensions import db

from .checking import CheckOptions, render, run_check
from .loader import BankError, load_all_banks, load_banks

theory_cli = AppGroup("theory", help="Check and load the theory-exam question banks.")
_PATH = click.Path(exists=True, file_okay=False, path_type=Path)


@theory_cli.command("check")
@click.argument("path", required=False, type=_PATH)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--forms", default=50, show_default=True, help="Forms drawn per level and language for the simulation.")
@click.option("--threshold", default=35.0, show_default=True, help="Highest mean no-knowledge score.")
@click.option("--max-overlap", default=0.30, show_default=True, help="Highest mean overlap of two L4 or L3 forms.")
@click.option("--no-simulation", is_flag=True, help="Skip the no-knowledge simulation and the form overlap.")
@click.option("--verbose", is_flag=True, help="List every warning.")
def check_cmd(path, as_json, forms, threshold, max_overlap, no_simulation, verbose):
    """Validate the banks and check their quality without touching the database; exit 1 when a hard rule fails."""
    try:
        banks = load_banks(path)
    except BankError as e:
        if as_json:
            click.echo(json.dumps({"ok": False, "load_errors": e.errors}, ensure_ascii=False, indent=1))
            raise SystemExit(1) from e
        raise click.ClickException(f"{len(e.errors)} problem(s):\n{e}") from e
    opts = CheckOptions(forms=forms, threshold=threshold, max_overlap=max_overlap, simulate=not no_simulation)
    report, runs = run_check(banks, opts)
    if as_json:
        body = {"ok": not report.errors, **report.as_dict(), "simulation": [r.as_dict() for r in runs]}
        click.echo(json.dumps(body, ensure_ascii=False, indent=1))
    else:
        click.echo(render(report, runs, verbose=verbose))
    if report.errors:
        raise SystemExit(1)


@theory_cli.command("load")
@click.argument("path", required=False, type=_PATH)
def load_cmd(path: Path | None):
    """Validate, then upsert the banks into the database (idempotent)."""
    try:
        report = load_all_banks(path)
    except BankError as e:
        raise click.ClickException(f"{len(e.errors)} problem(s):\n{e}") from e
    click.echo(report.summary())


@theory_cli.command("analysis")
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON.")
@click.option("--min-responses", default=10, show_default=True, help="Responses an item needs before it is flagged.")
def analysis_cmd(as_json, min_responses):
    """Item analysis of every submitted real exam: difficulty, discrimination, flags, KR-20 per level."""
    from dataclasses import asdict

    from .analysis import AnalysisLimits, analyse
    from .models import TheoryExam

    exams = db.session.scalars(db.select(TheoryExam).where(TheoryExam.submitted_at.is_not(None))).all()
    items, forms = analyse(list(exams), AnalysisLimits(min_responses=min_responses))
    if as_json:
        click.echo(json.dumps({"forms": [asdict(f) for f in forms], "items": [asdict(i) for i in items]}, indent=1))
        return
    for f in forms:
        click.echo(f"{f.lang} {f.level}: {f.candidates} candidate(s), mean {f.mean_score}, sd {f.sd}, KR-20 {f.kr20}")
    flagged = [i for i in items if i.flags]
    click.echo(f"{len(items)} question(s) answered, {len(flagged)} flagged:")
    for i in flagged:
        click.echo(f"  {i.qid}: n={i.n} p={i.difficulty} r_pb={i.discrimination}: {'; '.join(i.flags)}")


def register(app) -> None:
    app.cli.add_command(theory_cli)
