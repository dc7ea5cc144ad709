"""`taskmanager db clean` (the old `taskmanager-db-clean`): start again from an empty schema."""

from __future__ import annotations

import click

from ..config import ConfigurationError, load_settings
from ..wording import counted
from .confirm import confirm_destructive, shown, yes_option
from .errors import EXIT_USAGE, CliError


@click.command("clean", short_help="Drop all data and start again.")
@yes_option
@click.pass_context
def db_clean(ctx: click.Context, yes: bool) -> None:
    """Drop every table (all data is lost), recreate the schema and onboard again."""
    from .. import database

    try:
        settings = load_settings()
    except ConfigurationError as error:
        raise CliError(str(error), exit_code=EXIT_USAGE) from None
    where = shown(settings.database_uri)
    confirm_destructive(f"delete every table and all data in {where}", yes=yes)
    dropped = database.drop_all(settings.database_uri)
    click.echo(f"Dropped {counted(len(dropped), 'table')} from {where}.")
    from . import main

    ctx.invoke(main.commands["onboarding"])
