"""The trained dialogue-act models, one row per language, copied in from the pack by ``flask content load``."""

from __future__ import annotations

from sqlalchemy import Float, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db


class UnderstandingModel(db.Model):
    """A language's trained classifier (``understanding.classifier.ActModel.dump()``) and its version."""

    __tablename__ = "understanding_models"
    lang: Mapped[str] = mapped_column(String(8), primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[float] = mapped_column(Float)
