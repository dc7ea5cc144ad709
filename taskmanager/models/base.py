"""Declarative base shared by every table, and the Flask-SQLAlchemy handle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session

# Stable constraint names so Alembic can alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (SQLite and MariaDB have no zone) and always hands back aware UTC."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class PreciseUTCDateTime(UTCDateTime):
    """UTCDateTime to the microsecond on MariaDB too, whose DATETIME keeps whole seconds: for the
    callback schedule, whose first waits are fractions of a second."""

    impl = DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    cache_ok = True


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class _SQLAlchemy(SQLAlchemy):
    # For type checkers: the request-scoped session proxies every method of a Session, and the
    # services take a Session (tests and the CLI hand them plain ones).
    session: Session  # type: ignore[assignment]

    def remove_session(self) -> None:
        """Close this thread's session and forget it, as Flask does after each request."""
        cast(scoped_session[Session], self.session).remove()

    def _teardown_session(self, exc: BaseException | None) -> None:
        # Ending the request's transaction needs its connection. One that died meanwhile (the
        # database restarted, an administrator killed it) has kept nothing and is discarded by
        # SQLAlchemy; raised from here, the error would escape every error handler.
        try:
            super()._teardown_session(exc)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            cast(scoped_session[Session], self.session).registry.clear()


db = _SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
