"""Exercise: a run of scenarios for a group of trainees (practice or exam); SimulatedCustomer: the seed of a
simulated chat or email customer (simulator/seeds.py) and the lease of the process driving it
(simulator/ownership.py)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from clock import clock
from extensions import db


class Exercise(db.Model):
    __tablename__ = "exercises"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10), default="practice")  # practice | exam
    lang: Mapped[str] = mapped_column(String(8), default="zh_CN")
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    seed: Mapped[int] = mapped_column(default=1)
    rate_per_minute: Mapped[float] = mapped_column(Float, default=1.0)
    duration_seconds: Mapped[int] = mapped_column(default=600)
    mix: Mapped[dict] = mapped_column(JSON, default=dict)  # scenario id -> weight
    schedule: Mapped[list] = mapped_column(JSON, default=list)  # [[offset_seconds, scenario_id], ...]
    status: Mapped[str] = mapped_column(String(12), default="planned")  # planned, running, finished, stopped
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())
    # The lease on running its arrivals (simulator/ownership.py): bumped by each process that starts or adopts them.
    lease: Mapped[int] = mapped_column(default=0, server_default="0")
    driver: Mapped[str | None] = mapped_column(String(80), nullable=True)


class SimulatedCustomer(db.Model):
    """The seed a simulated chat or email customer's persona was made with (simulator/seeds.py): what a process
    taking the customer over needs when Redis lost the owner record that carries it too; and the lease (a
    generation bumped by each process that takes the customer over, with that process's id) that fences what the
    customer records (simulator/ownership.py)."""

    __tablename__ = "simulated_customers"
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True, autoincrement=False)
    seed: Mapped[int] = mapped_column(BigInteger)
    exercise_id: Mapped[int | None] = mapped_column(nullable=True)
    started_by: Mapped[int | None] = mapped_column(nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())
    lease: Mapped[int] = mapped_column(default=0, server_default="0")
    driver: Mapped[str | None] = mapped_column(String(80), nullable=True)
