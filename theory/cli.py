"""`flask theory check [PATH]` and `flask theory load [PATH]` (PATH: a banks root holding zh_CN/ and en/;
default theory/banks)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from .loader import BankError, load_all_banks, load_banks

theory_cli = AppGroup("theory", help="Check and load the theory-exam question banks.")
_PATH = click.Path(exists=True, file_okay=False, path_type=Path)


@theory_cli.command("check")
@click.argument("path", required=False, type=_PATH)
def check_cmd(path: Path | None):
    """Validate the banks without touching the database."""
    try:
        banks = load_banks(path)
    except BankError as e:
        raise click.ClickException(f"{len(e.errors)} problem(s):\n{e}") from e
    for lang, questions in sorted(banks.items()):
        click.echo(f"{lang}: ok - {len(questions)} questions")


@theory_cli.command("load")
@click.argument("path", required=False, type=_PATH)
def load_cmd(path: Path | None):
    """Validate, then upsert the banks into the database (idempotent)."""
    try:
        report = load_all_banks(path)
    except BankError as e:
        raise click.ClickException(f"{len(e.errors)} problem(s):\n{e}") from e
    click.echo(report.summary())


def register(app) -> None:
    app.cli.add_command(theory_cli)
