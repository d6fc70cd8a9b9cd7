"""AgentStateChange: the durable history of agent states, for reports (occupancy, time away, ACW)."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from clock import clock
from extensions import db


class AgentStateChange(db.Model):
    """One agent entered ``state`` (available, away, acw, offline) at ``ts`` on the sandbox clock.

    Live state is in Redis; this table is the record a report reads: the time in a state is the gap to the
    agent's next row."""

    __tablename__ = "agent_state_changes"
    __table_args__ = (Index("ix_agent_state_changes_agent_ts", "agent_id", "ts"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(80), nullable=True)
    ts: Mapped[float] = mapped_column(Float, default=lambda: clock.timestamp())

    def as_dict(self) -> dict:
        return {"id": self.id, "agent_id": self.agent_id, "state": self.state, "reason": self.reason, "ts": self.ts}
