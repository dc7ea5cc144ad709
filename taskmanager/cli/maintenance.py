"""`taskmanager db clean` (the old `taskmanager-db-clean`): start again from an empty schema."""

from __future__ import annotations

import click
from sqlalchemy.engine import make_url

from ..config import ConfigurationError, load_settings
from .errors import EXIT_USAGE, CliError


@click.command("clean")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def db_clean(ctx: click.Context, force: bool) -> None:
    """Drop every table (all data is lost), recreate the schema and onboard again."""
    from .. import database

    try:
        settings = load_settings()
    except ConfigurationError as error:
        raise CliError(str(error), exit_code=EXIT_USAGE) from None
    where = make_url(settings.database_uri).render_as_string(hide_password=True)
    if not force:
        click.confirm(f"This deletes every table and all data in {where}. Continue?", abort=True)
    dropped = database.drop_all(settings.database_uri)
    click.echo(f"Dropped {len(dropped)} tables from {where}.")
    from . import main

    ctx.invoke(main.commands["onboarding"])
