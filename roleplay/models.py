"""One row per role-play link: which scenario, who opened it, who serves it, and the contact it became."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from clock import clock
from extensions import db

ROLEPLAY_CHANNELS = ("chat", "voice", "video", "email")


class RolePlay(db.Model):
    """A role-play invitation. ``token`` is the role-player's key (in the link); ``scenario_id`` is None for a
    free role-play (graded on the items that need no scenario); ``agent_id`` reserves the contact for one trainee
    (None: routed by the ACD like any customer); ``contact_id`` is set when the role-player starts."""

    __tablename__ = "role_plays"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    scenario_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lang: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), nullable=True, index=True)
    # A role-played skill-exam part: the contact joins the exam's exercise and grading binds it to the attempt.
    exam_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("skill_exam_attempts.id"), nullable=True, index=True)
    created_at: Mapped[float] = mapped_column(default=lambda: clock.timestamp())
    expires_at: Mapped[float] = mapped_column()

    def summary(self) -> dict:
        return {
            "id": self.id,
            "scenario_id": self.scenario_id,
            "lang": self.lang,
            "channel": self.channel,
            "created_by": self.created_by,
            "agent_id": self.agent_id,
            "contact_id": self.contact_id,
            "exam_attempt_id": self.exam_attempt_id,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }
