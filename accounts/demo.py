"""`flask demo seed`: load the demo content packs and create the demo users, then print the logins."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import click
from flask.cli import AppGroup
from sqlalchemy import select

from extensions import db

from .models import Group, User
from .services import create_group, create_user

demo_cli = AppGroup("demo", help="Demo content and users.")

# The content packages seed for the demo, registered from their init_app in create_app's order (scenarios: the
# content packs; theory: its question banks), so accounts, at the bottom, imports none of them. name -> a loader
# that loads and yields the lines it reports.
_demo_content: dict[str, Callable[[], Iterable[str]]] = {}


def register_demo_content(name: str, loader: Callable[[], Iterable[str]]) -> None:
    """Have ``flask demo seed`` run ``loader()`` (unless --no-content) and print each line it yields.
    Registering a name again replaces its loader (create_app runs more than once in one process)."""
    _demo_content[name] = loader


DEMO_PASSWORD = "kefu-demo-2026"  # noqa: S105  (printed to the console on purpose: demo accounts only)
DEMO_USERS = [
    # username, role, level, display name, locale
    ("admin", "admin", None, "Admin 管理员", None),
    ("lead", "lead", None, "Lead 王班长", None),
    ("grader", "grader", None, "Grader 李考评", None),
    ("trainee5", "trainee", "L5", "学员 陈初级 (L5)", None),
    ("trainee4", "trainee", "L4", "学员 张中级 (L4)", None),
    ("trainee3", "trainee", "L3", "学员 刘高级 (L3)", None),
    ("trainee_en", "trainee", "L4", "Trainee Alex (L4)", "en"),
]


def seed_demo(password: str = DEMO_PASSWORD) -> list[tuple[str, str, str]]:
    """Create the demo group and users if missing; return (username, role, level) rows."""
    lead = db.session.scalar(select(User).where(User.username == "lead"))
    rows = []
    for username, role, level, name, locale in DEMO_USERS:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = create_user(username, password, role, display_name=name, level=level, locale=locale)
        if username == "lead":
            lead = user
        rows.append((username, role, level or ""))
    group = db.session.scalar(select(Group).where(Group.name == "Demo class 示范班"))
    if group is None:
        group = create_group("Demo class 示范班", lead)
    for u in db.session.scalars(select(User).where(User.role == "trainee", User.group_id.is_(None))):
        u.group = group
    db.session.commit()
    return rows


@demo_cli.command("seed")
@click.option("--no-content", is_flag=True, help="Only the users, not the content packs.")
def seed_cmd(no_content):
    """Load the demo content packs (zh_CN, en) and create the demo users."""
    if not no_content:
        for loader in _demo_content.values():
            for line in loader():
                click.echo(line)
    rows = seed_demo()
    click.echo("")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD})")
    for username, role, level in rows:
        click.echo(f"  {username:12} {role:8} {level}")
