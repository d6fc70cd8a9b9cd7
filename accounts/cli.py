"""`flask users create|list`."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from extensions import db

from .models import LEVELS, ROLES, Group, User
from .services import AccountError, create_user

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="trainee", show_default=True)
@click.option("--level", type=click.Choice(LEVELS), default=None, help="Required for trainees.")
@click.option("--name", "display_name", default=None)
@click.option("--group", "group_name", default=None)
@click.password_option()
def create_cmd(username, role, level, display_name, group_name, password):
    """Create a user."""
    group = None
    if group_name:
        group = db.session.scalar(select(Group).where(Group.name == group_name))
        if group is None:
            raise click.ClickException(f"no group named {group_name!r}")
    try:
        user = create_user(username, password, role, display_name=display_name, level=level, group=group)
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"created {user.role} {user.username} (id {user.id})")


@users_cli.command("list")
def list_cmd():
    """List users."""
    for u in db.session.scalars(select(User).order_by(User.id)):
        click.echo(f"{u.id:4} {u.username:16} {u.role:8} {u.level or '':3} {u.group.name if u.group else ''}")


def register(app) -> None:
    from .demo import demo_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
