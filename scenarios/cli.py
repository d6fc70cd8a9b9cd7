"""`flask content load PATH` and `flask content check PATH` (PATH: a pack folder, or the packs root)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .loader import PackError, find_packs, load_pack, load_pack_into_db, run_pack_hooks

content_cli = AppGroup("content", help="Check and load content packs (scenarios, CRM, knowledge base).")


def _validated(path: Path) -> list:
    """Validate every pack under ``path`` before anything is written, so a bad pack loads nothing."""
    folders = find_packs(path)
    if not folders:
        raise click.ClickException(f"{path}: no pack.yaml here or in its sub-folders")
    packs, errors = [], []
    for folder in folders:
        try:
            pack = load_pack(folder)
            run_pack_hooks(pack, write=False)
            packs.append(pack)
        except PackError as e:
            errors += e.errors
    if errors:
        raise click.ClickException(f"{len(errors)} problem(s):\n" + "\n".join(errors))
    return packs


@content_cli.command("check")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def check_cmd(path: Path):
    """Validate packs without touching the database."""
    for pack in _validated(path):
        click.echo(
            f"{pack.lang}: ok - {len(pack.crm.customers)} customers, {len(pack.kb.articles)} articles, "
            f"{len(pack.scenarios)} scenarios"
        )


@content_cli.command("load")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def load_cmd(path: Path):
    """Validate, then upsert packs into the database (idempotent)."""
    for pack in _validated(path):
        try:
            report = load_pack_into_db(pack)
        except PackError as e:
            raise click.ClickException(str(e)) from e
        click.echo(report.summary())


def register(app) -> None:
    app.cli.add_command(content_cli)


def demo_packs():
    """``flask demo seed`` (accounts.demo, registered by init_app): load every pack folder under CONTENT_DIR,
    one report line each as it is loaded."""
    root = Path(current_app.config["CONTENT_DIR"])
    for lang_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        yield f"content {lang_dir.name}: {load_pack_into_db(lang_dir)}"
