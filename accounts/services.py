"""Creating users and groups: shared by the admin pages, the CLI and the demo seed."""

from __future__ import annotations

from sqlalchemy import select

from extensions import db

from .models import LEVELS, ROLES, Group, User


class AccountError(ValueError):
    pass


def create_user(
    username: str,
    password: str,
    role: str,
    *,
    display_name: str | None = None,
    level: str | None = None,
    group: Group | None = None,
    locale: str | None = None,
) -> User:
    """Create a user with a hashed password. Trainees need a level (L5, L4 or L3)."""
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if role == "trainee" and level not in LEVELS:
        raise AccountError(f"a trainee needs a level: one of {', '.join(LEVELS)}")
    if len(password) < 8:
        raise AccountError("password must be at least 8 characters")
    if db.session.scalar(select(User).where(User.username == username)):
        raise AccountError(f"user {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        level=level if role == "trainee" else None,
        locale=locale,
    )
    user.set_password(password)
    if group is not None:
        user.group = group
    db.session.add(user)
    db.session.commit()
    return user


def create_group(name: str, lead: User | None = None) -> Group:
    if db.session.scalar(select(Group).where(Group.name == name)):
        raise AccountError(f"group {name!r} already exists")
    if lead is not None and lead.role not in ("lead", "admin"):
        raise AccountError(f"{lead.username!r} is a {lead.role}, not a lead")
    g = Group(name=name, lead_id=lead.id if lead else None)
    db.session.add(g)
    db.session.commit()
    return g
