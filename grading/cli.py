"""`flask grading regrade [--contact ID ...] [--exercise ID] [--all] [--ungradeable]` and
`flask grading show CONTACT_ID`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

grading_cli = AppGroup("grading", help="Grade recorded contacts and show scorecards.")


@grading_cli.command("regrade")
@click.option("--contact", "contacts", type=int, multiple=True, help="A contact id (repeatable).")
@click.option("--exercise", "exercise_id", type=int, default=None, help="Every contact of this exercise.")
@click.option("--all", "everything", is_flag=True, help="Every handled, ended contact.")
@click.option(
    "--ungradeable",
    is_flag=True,
    help="Every contact listed as ungradeable: those that grade now leave the list, the others keep their new reason.",
)
@click.option("--workers", type=int, default=None, help="Worker processes (default: one per core).")
def regrade_cmd(contacts, exercise_id, everything, ungradeable, workers):
    """Recompute scorecards from the recordings; prints how many changed."""
    from .actions import select_contacts
    from .parallel import regrade_in_workers
    from .regrade import regrade_ungradeable, ungradeable_ids

    if ungradeable:
        if contacts or exercise_id is not None or everything:
            raise click.UsageError("--ungradeable goes alone: it names its own contacts")
        # In this process: the list is short, and each contact is its own transaction (a failure rewrites its row).
        with click.progressbar(length=len(ungradeable_ids()), label="Regrading", show_pos=True) as bar:
            report = regrade_ungradeable(progress=bar.update)
    elif not (contacts or exercise_id is not None or everything):
        raise click.UsageError("name --contact ID, --exercise ID, --all or --ungradeable")
    else:
        ids = select_contacts(contacts, exercise_id, everything)
        with click.progressbar(length=len(ids), label="Regrading", show_pos=True) as bar:
            report = regrade_in_workers(ids, workers=workers, progress=bar.update)
    click.echo(
        f"{report.graded} graded, {report.changed} scorecard(s) changed, {report.skipped} skipped (no rubric), "
        f"{len(report.errors)} error(s)"
    )
    if report.shares_regraded_here:
        died = f"  a worker process died: {report.shares_regraded_here} share(s) of the contacts graded again here"
        click.echo(died, err=True)
    for cid, msg in sorted(report.errors.items()):
        click.echo(f"  contact {cid}: {msg}", err=True)
    if report.errors:
        raise SystemExit(1)


@grading_cli.command("show")
@click.argument("contact_id", type=int)
def show_cmd(contact_id):
    """Print a contact's current scorecard: items, function subtotals, total and gates."""
    from .actions import current_scorecard

    row = current_scorecard(contact_id)
    if row is None:
        raise click.ClickException(
            f"contact {contact_id} has no scorecard; run `flask grading regrade --contact {contact_id}`"
        )
    sc = row.data
    verdict = "PASS" if sc["passed"] else ("PROVISIONAL (manual items pending)" if sc.get("provisional") else "FAIL")
    click.echo(
        f"Contact {contact_id} · rubric {sc['rubric']['id']} v{sc['rubric']['version']} · level {sc['level']} · "
        f"total {sc['total']:.2f}/100 · {verdict}"
        + (f" (gated by {', '.join(sc['gates_failed'])})" if sc["gated"] else "")
    )
    for item in sc["items"]:
        earned = f"{item['earned']:g}/{item['points']:g}" if item["status"] in ("pass", "fail") else "-"
        click.echo(f"  [{item['status']:>7}] {earned:>9}  {item['id']}: {item['note']}")
        for ev in item["evidence"]:
            where = f"#{ev['seq']}" if ev["seq"] is not None else "  -"
            quote = f" “{ev['quote']}”" if ev["quote"] else ""
            click.echo(f"              {where} {ev['note']}{quote}")
    click.echo("  Functions:")
    for key, f in sc["functions"].items():
        if f["applicable"]:
            click.echo(
                f"    {key}: {f['score'] * 100:.1f}% (weight {f['weight']}%, used {f['weight_used'] * 100:.1f}%)"
            )
    if sc["pending"]:
        click.echo(f"  Pending manual items: {', '.join(sc['pending'])}")


def register(app) -> None:
    app.cli.add_command(grading_cli)
