"""Meta variables ($LABEL in task content and callback URLs) and their history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class Meta(Base):
    __tablename__ = "meta"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[str] = mapped_column(Text)

    history: Mapped[list[MetaHistory]] = relationship(
        order_by="MetaHistory.id", back_populates="meta", cascade="all, delete-orphan"
    )


class MetaHistory(Base):
    __tablename__ = "meta_history"
    __table_args__ = (Index("ix_meta_history_meta_timestamp", "meta_id", "timestamp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meta_id: Mapped[int] = mapped_column(ForeignKey("meta.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    value: Mapped[str] = mapped_column(Text)

    meta: Mapped[Meta] = relationship(back_populates="history")
