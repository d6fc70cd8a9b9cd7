"""`flask grading calibrate PATH [--json] [--packs DIR]`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .sessions import SessionError


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.2f}"


@click.command("calibrate")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--packs",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Content packs to grade with (default: the shipped scenarios/packs).",
)
def calibrate_cmd(path: Path, as_json: bool, packs: Path | None):
    """Replay graded sessions (a file or a folder of *.json) through the endpoints and compare the scorecards
    with the examiners' verdicts: pass/fail agreement, Cohen's kappa, Spearman of totals, gates, disagreements."""
    from .run import DEFAULT_PACKS, calibrate

    try:
        report = calibrate(
            path, packs or DEFAULT_PACKS, progress=None if as_json else lambda s: click.echo(f"  {s}", err=True)
        )
    except SessionError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
        return
    click.echo(
        f"{report['n']} sessions: pass/fail agreement {_fmt(report['pass_fail_agreement'])}, kappa "
        f"{_fmt(report['kappa'])}, Spearman {_fmt(report['spearman'])}, gates exact {_fmt(report['gates_exact'])}, "
        f"totals in the examiner's range {_fmt(report['in_range'])}"
    )
    for row in report["sessions"]:
        g, e = row["grader"], row["examiner"]
        mark = "  " if g["pass"] == e["pass"] and g["gates_failed"] == e["gates_failed"] else "≠ "
        click.echo(
            f"{mark}{row['id']:<10} examiner {'PASS' if e['pass'] else 'fail'} {e['total']} {e['gates_failed'] or ''}"
            f" | grader {'PASS' if g['pass'] else 'fail'} {g['total']} (points {g['points']}) {g['gates_failed'] or ''}"
        )
        for d in row["disagreements"]:
            ev = "; ".join(x for x in d["evidence"] if x)[:160]
            click.echo(f"      {d['item']}: examiner {d['examiner']}, grader {d['grader']} — {d['note'][:120]} {ev}")
        for p in row["replay_problems"]:
            click.echo(f"      replay: {p}")
