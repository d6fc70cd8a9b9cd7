"""User and Group tables."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from clock import clock
from extensions import db, login_manager

ROLES = ("trainee", "lead", "grader", "admin")
LEVELS = ("L5", "L4", "L3")
# A higher level includes every requirement of the lower ones (skills-2021.yaml).
LEVEL_RANK = {"L5": 1, "L4": 2, "L3": 3}


class Group(db.Model):
    """A class of trainees with its lead."""

    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_groups_lead_id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(default=lambda: clock.now())

    lead = relationship("User", foreign_keys=[lead_id])
    members = relationship("User", back_populates="group", foreign_keys="User.group_id")


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    level: Mapped[str | None] = mapped_column(String(4), nullable=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=lambda: clock.now())

    group = relationship("Group", back_populates="members", foreign_keys=[group_id])

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def level_rank(self) -> int:
        return LEVEL_RANK.get(self.level or "", 0)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def leads_group_of(self, user: User) -> bool:
        """True when this user is the lead of ``user``'s group (admins lead every group)."""
        if self.role == "admin":
            return True
        return self.role == "lead" and user.group is not None and user.group.lead_id == self.id

    def led_group_ids(self) -> list[int]:
        return [g.id for g in db.session.scalars(db.select(Group).where(Group.lead_id == self.id))]


class UserSession(db.Model):
    """A server-side sign-in (accounts/sessions.py). The cookie holds a random session id; this row holds only
    its SHA-256, so a copy of the database signs nobody in. It outlives a Redis flush, which only drops the
    cache in front of it; logout deletes it. Times are real seconds since the epoch (time.time(), not the
    sandbox clock): the idle limit is how long a person really left the desk."""

    __tablename__ = "user_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    # Written at most every sessions.TOUCH_SECONDS (Redis carries the exact sliding expiry in between).
    last_seen_at: Mapped[float] = mapped_column(Float, index=True)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The signed-in user, if the server still holds this session (accounts/sessions.py): a cookie copied
    before logout, or from before the server-side sessions, signs nobody in."""
    from .sessions import session_alive

    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        return None
    if not session_alive(uid):
        return None
    return db.session.get(User, uid)
