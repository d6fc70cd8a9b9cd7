"""`flask content coverage` (skill items per level and language, with what exercises them) and
`flask tasks list|assign` for scripting work items."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from accounts.models import User
from extensions import db
from scenarios.cli import content_cli

tasks_cli = AppGroup("tasks", help="Back-office work items (tasks).")


@click.command("coverage")
@with_appcontext
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print JSON: {level: {lang: {covered, uncovered}}}")
def coverage_cmd(path: Path | None, as_json: bool):
    """Per level (L4, L3) and language: each skill item with the scenarios, tasks and rubric items that
    exercise it, and the items nothing graded exercises."""
    from .coverage import coverage

    result = coverage(path or current_app.config["CONTENT_DIR"])
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    for level, langs in result.items():
        for lang, row in langs.items():
            n = len(row["covered"]) + len(row["uncovered"])
            click.echo(f"{level} {lang}: {len(row['covered'])} of {n} skill items covered")
            for c in row["covered"]:
                parts = [*c["scenarios"][:3], *c["tasks"][:3]]
                more = len(c["scenarios"]) + len(c["tasks"]) - len(parts)
                click.echo(f"  {c['skill']:10} {', '.join(parts)}{f' (+{more})' if more > 0 else ''}"
                           f"  [{len(c['rubric_items'])} rubric item(s)]")  # fmt: skip
            for code in row["uncovered"]:
                click.echo(f"  {code:10} UNCOVERED")


@tasks_cli.command("list")
@click.option("--lang", default=None)
def list_cmd(lang):
    """The loaded task specs."""
    from .content import list_specs

    for r in list_specs(lang):
        click.echo(f"{r.id:40} {r.lang:6} {r.level} {r.kind:16} {', '.join(r.data['skills'])}")


@tasks_cli.command("assign")
@click.argument("spec_id")
@click.argument("username")
@click.option("--by", "by_username", default="admin", help="the lead or admin who assigns")
@click.option("--seed", type=int, default=None)
def assign_cmd(spec_id, username, by_username, seed):
    """Assign a work item to a trainee."""
    from .actions import do_assign_work_item
    from .kinds import TaskError

    lead = db.session.scalar(db.select(User).where(User.username == by_username))
    trainee = db.session.scalar(db.select(User).where(User.username == username))
    if lead is None or trainee is None:
        raise click.ClickException("unknown user")
    try:
        item = do_assign_work_item(lead, spec_id, trainee, seed=seed)
    except TaskError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"work item {item.id} assigned to {username}")


def register(app) -> None:
    if "coverage" not in content_cli.commands:  # the content group is the scenarios package's; coverage joins it
        content_cli.add_command(coverage_cmd)
    app.cli.add_command(tasks_cli)
