"""Alembic environment: runs on the connection `taskmanager.database` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from taskmanager.models import Base

target_metadata = Base.metadata


def run_migrations(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    # `alembic` run by hand (e.g. to autogenerate): use the configured database.
    from taskmanager.config import load_settings

    engine = create_engine(load_settings().database_uri)
    with engine.connect() as conn:
        run_migrations(conn)
        conn.commit()
