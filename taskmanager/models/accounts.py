"""Users, roles and groups."""

from __future__ import annotations

from datetime import datetime

from flask_security import RoleMixin, UserMixin
from flask_security.datastore import AsaList
from sqlalchemy import Boolean, Column, Double, Float, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow

roles_users = Table(
    "roles_users",
    Base.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", Integer, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)

group_membership = Table(
    "group_membership",
    Base.metadata,
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


class Role(Base, RoleMixin):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))
    permissions: Mapped[list[str] | None] = mapped_column(AsaList())
    update_datetime: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class User(Base, UserMixin):
    __tablename__ = "users"

    # (type: ignore below: Flask-Security's UserMixin declares some of these non-null and its
    # roles a list of RoleMixin; the columns allow NULL: no password yet, never logged in.)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password: Mapped[str | None] = mapped_column(String(255))  # type: ignore[assignment]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    fs_uniquifier: Mapped[str] = mapped_column(String(64), unique=True)
    fs_token_uniquifier: Mapped[str | None] = mapped_column(String(64), unique=True)  # type: ignore[assignment]
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assignment_weight: Mapped[float] = mapped_column(Float, default=1.0)
    # Stride scheduling (see services.assignment): the virtual time at which the user is next
    # due work, and the one at which their latest work was given.
    # Double: MariaDB's FLOAT is single precision, too coarse once passes grow large.
    assignment_pass: Mapped[float] = mapped_column(Double, default=0.0)
    assignment_start: Mapped[float] = mapped_column(Double, default=0.0)
    # Flask-Security's login tracking (SECURITY_TRACKABLE).
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # type: ignore[assignment]
    current_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # type: ignore[assignment]
    last_login_ip: Mapped[str | None] = mapped_column(String(64))
    current_login_ip: Mapped[str | None] = mapped_column(String(64))
    login_count: Mapped[int | None] = mapped_column(Integer)  # type: ignore[assignment]

    roles: Mapped[list[Role]] = relationship(secondary=roles_users, lazy="selectin", backref=None)  # type: ignore[assignment]
    groups: Mapped[list[Group]] = relationship(
        secondary=group_membership, back_populates="users", lazy="select"
    )

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    groupname: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    create_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(
        secondary=group_membership, back_populates="groups", lazy="select", order_by="User.id"
    )
