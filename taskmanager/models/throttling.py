"""Failed login counters, shared by every server process (login throttling)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime


class LoginFailure(Base):
    __tablename__ = "login_failures"

    # kind is "account" (the identity tried) or "address" (the client address).
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=0)
    # Password checks started and not yet settled (services.throttling reserves a place first).
    pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
