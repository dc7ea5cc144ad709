"""`taskmanager import-legacy`: copy an old TaskManager's database into the configured one."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy.engine import make_url

from ..config import normalise_database_uri
from ..wording import counted
from .backends import DatabaseBackend
from .errors import EXIT_USAGE, CliError, domain_errors
from .progress import progress_bar


@click.command("import-legacy", short_help="Import an old TaskManager's database.")
@click.option(
    "--from",
    "source_url",
    required=True,
    metavar="URL",
    help="The old server's database (SQLAlchemy URL); only read.",
)
@click.option(
    "--dry-run", is_flag=True, help="Check and count everything, then roll back: nothing is kept."
)
def import_legacy(source_url: str, dry_run: bool) -> None:
    """Import users, roles, groups, templates, tags, tasks, task groups and meta values from an
    old TaskManager (task-manager 6.x) database, keeping ids and password hashes.

    The configured database is migrated first and must hold nothing but what onboarding
    creates. Everything is written in one transaction: all of it, or nothing.
    """
    from ..services.legacy import legacy_import, steps

    backend = DatabaseBackend()
    try:
        settings = current_app.extensions["taskman_settings"]
        if normalise_database_uri(source_url) == settings.database_uri:
            raise CliError("--from names the configured database itself", exit_code=EXIT_USAGE)
        where = make_url(normalise_database_uri(source_url)).render_as_string(hide_password=True)
        with domain_errors(where):
            source = legacy_import.open_source(source_url)
        session = backend.session
        try:
            total = sum(source.counts.values())
            with domain_errors(where), progress_bar("Importing", total=total) as advance:
                imported = legacy_import.import_all(
                    session, source, settings=settings, advance=advance
                )
            if dry_run:
                session.rollback()
            else:
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            source.close()
    finally:
        backend.close()
    counts = imported.rows
    for table, count in counts.items():
        click.echo(f"{table}: {count}")
    for (table, column), count in imported.dangling.items():
        # The old server on SQLite did not enforce its foreign keys.
        click.echo(
            f"{table}: {count} row(s) whose {column} names nothing in the old database: "
            + ("left out" if table in steps.LINK_TABLES else f"{column} cleared")
        )
    if dry_run:
        rows = counted(sum(counts.values()), "row")
        click.echo(f"Dry run: {rows} would be imported; nothing was written.")
    else:
        click.echo(f"Imported {counted(sum(counts.values()), 'row')} from {where}.")
