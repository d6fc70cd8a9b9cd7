"""Contact and ContactEvent: one customer interaction and its append-only log of facts."""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clock import clock
from extensions import db

CONTACT_STATUSES = ("queued", "active", "wrap_up", "closed", "abandoned")


class Contact(db.Model):
    """One customer interaction on one channel."""

    __tablename__ = "contacts"
    # The grading sweep (grading/sweep.py) looks every minute for the closed contacts wrapped up in its window.
    __table_args__ = (Index("ix_contacts_status_closed_at", "status", "closed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    queue: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    lang: Mapped[str] = mapped_column(String(8), default="zh_CN")
    priority: Mapped[int] = mapped_column(default=0)  # 1 = VIP first
    required_level: Mapped[str | None] = mapped_column(String(4), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True)

    customer_id: Mapped[int | None] = mapped_column(ForeignKey("crm_customers.id"), nullable=True, index=True)
    customer_name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # The customer side is either the simulator or a person holding this token (role-play).
    customer_token: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    simulated: Mapped[bool] = mapped_column(default=False)
    scenario_id: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    exercise_id: Mapped[int | None] = mapped_column(ForeignKey("exercises.id"), nullable=True, index=True)

    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    # Reserved for one agent (a trainee's own practice customer): the ACD offers it to nobody else.
    reserved_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    wrap_up_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    csat: Mapped[int | None] = mapped_column(nullable=True)

    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())
    assigned_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    event_count: Mapped[int] = mapped_column(default=0)

    agent = relationship("User", foreign_keys=[agent_id])
    reserved_agent = relationship("User", foreign_keys=[reserved_agent_id])
    events = relationship("ContactEvent", back_populates="contact", order_by="ContactEvent.seq", lazy="dynamic")

    @property
    def is_open(self) -> bool:
        return self.status in ("queued", "active")

    def summary(self) -> dict:
        """What a desk or floor view shows in a contact list."""
        return {
            "id": self.id,
            "channel": self.channel,
            "queue": self.queue,
            "status": self.status,
            "lang": self.lang,
            "priority": self.priority,
            "customer_id": self.customer_id,
            "customer_name": self.customer_name,
            "subject": self.subject,
            "agent_id": self.agent_id,
            "scenario_id": self.scenario_id,
            "simulated": self.simulated,
            "created_at": self.created_at,
            "assigned_at": self.assigned_at,
            "wrap_up_code": self.wrap_up_code,
        }


class ContactEvent(db.Model):
    """One appended fact about a contact. Never updated, never deleted."""

    __tablename__ = "contact_events"
    __table_args__ = (
        UniqueConstraint("contact_id", "seq", name="uq_contact_event_seq"),
        # A client resending after a dropped socket reuses its id: the unique index makes the retry idempotent.
        UniqueConstraint("contact_id", "client_id", name="uq_contact_event_client"),
        Index("ix_contact_events_type", "type"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(16))  # agent | customer | system | lead | simulator
    actor_id: Mapped[int | None] = mapped_column(nullable=True)
    ts: Mapped[float] = mapped_column(Float)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    contact = relationship("Contact", back_populates="events")

    def as_dict(self) -> dict:
        return event_dict(self)


EVENT_FIELDS = ("id", "contact_id", "seq", "type", "actor", "actor_id", "ts", "client_id", "text", "data")


def event_dict(ev) -> dict:
    """The plain form of a recorded event (a ContactEvent row or an events.RecordedEvent)."""
    out = {name: getattr(ev, name) for name in EVENT_FIELDS}
    out["data"] = dict(out["data"] or {})
    return out
