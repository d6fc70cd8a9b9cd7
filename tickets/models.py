"""CRM (customers, orders/accounts) and tickets, callbacks, CSAT surveys."""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clock import clock
from extensions import db
from scenarios.schema import RISK_LEVELS, TICKET_PRIORITIES, TICKET_STATUSES  # noqa: F401  (the packs' words)


class Customer(db.Model):
    """A CRM customer profile. ``ref`` is the content pack's stable id (e.g. C0001)."""

    __tablename__ = "crm_customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), index=True)
    lang: Mapped[str] = mapped_column(String(8), default="zh_CN", index=True)
    name: Mapped[str] = mapped_column(String(80), index=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    email: Mapped[str | None] = mapped_column(String(120), nullable=True)
    id_number: Mapped[str | None] = mapped_column(String(32), nullable=True)  # shown masked until verified
    vip: Mapped[bool] = mapped_column(default=False)
    tier: Mapped[str] = mapped_column(String(20), default="standard")
    city: Mapped[str | None] = mapped_column(String(60), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    accounts: Mapped[dict] = mapped_column(JSON, default=dict)  # balance, points, membership, ...

    orders = relationship("Order", back_populates="customer", order_by="Order.placed_at.desc()")


class Order(db.Model):
    __tablename__ = "crm_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(40), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("crm_customers.id"), index=True)
    product: Mapped[str] = mapped_column(String(200))
    amount: Mapped[float] = mapped_column(Numeric(12, 2))
    status: Mapped[str] = mapped_column(String(30))  # paid, shipped, delivered, returned, refunded, cancelled
    placed_at: Mapped[str] = mapped_column(String(32))  # ISO date from the pack
    delivered_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # courier, tracking, warranty, ...

    customer = relationship("Customer", back_populates="orders")


class Ticket(db.Model):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True, index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("crm_customers.id"), nullable=True, index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), nullable=True, index=True)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    category: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(12), default="new")
    risk_level: Mapped[str] = mapped_column(String(10), default="none")
    escalation_target: Mapped[str | None] = mapped_column(String(40), nullable=True)
    compensation_amount: Mapped[float | None] = mapped_column(Numeric(12, 2), nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    sla_due_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())
    updated_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())

    customer = relationship("Customer")
    notes = relationship("TicketNote", back_populates="ticket", order_by="TicketNote.id")
    history = relationship("TicketChange", back_populates="ticket", order_by="TicketChange.id")
    links = relationship("TicketContactLink", back_populates="ticket")


class TicketContactLink(db.Model):
    """A ticket can gather several contacts (a follow-up chat, a later email)."""

    __tablename__ = "ticket_contact_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)

    ticket = relationship("Ticket", back_populates="links")


class TicketNote(db.Model):
    __tablename__ = "ticket_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())

    ticket = relationship("Ticket", back_populates="notes")


class TicketChange(db.Model):
    """Ticket history: one row per changed field (each also appended as a ContactEvent on the linked contact)."""

    __tablename__ = "ticket_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    field: Mapped[str] = mapped_column(String(40))
    old: Mapped[str | None] = mapped_column(Text, nullable=True)
    new: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())

    ticket = relationship("Ticket", back_populates="history")


class Callback(db.Model):
    """A scheduled callback (回访) to a customer."""

    __tablename__ = "callbacks"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("crm_customers.id"), nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    due_at: Mapped[float] = mapped_column(Float, index=True)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")  # scheduled, due, done, cancelled
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())
    # The contact the callback was promised on: its recording shows the promise and the follow-up.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), nullable=True, index=True)
    completed_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    ticket = relationship("Ticket")
    customer = relationship("Customer")


class CsatSurvey(db.Model):
    """A CSAT invitation sent at the end of a contact, and the customer's answer (1-5)."""

    __tablename__ = "csat_surveys"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), unique=True)
    invited_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())
    score: Mapped[int | None] = mapped_column(nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class TicketSequence(db.Model):
    """Per-day counter behind ticket numbers (T202506010001): one row per day, bumped with an atomic UPDATE."""

    __tablename__ = "ticket_sequences"
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
