"""Test factories: build real rows through the models (no mocks of our own components)."""

from __future__ import annotations

from accounts.models import Group, User
from extensions import db


def user(username, role="trainee", level="L4", password="pass1234", group=None, **kw) -> User:
    u = User(
        username=username,
        display_name=kw.pop("display_name", username),
        role=role,
        level=level if role == "trainee" else None,
        **kw,
    )
    u.set_password(password)
    if group is not None:
        u.group = group
    db.session.add(u)
    db.session.commit()
    return u


def group(name, lead=None) -> Group:
    g = Group(name=name, lead_id=lead.id if lead else None)
    db.session.add(g)
    db.session.commit()
    return g
