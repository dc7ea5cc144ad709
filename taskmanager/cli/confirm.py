"""Commands that destroy data name the database and ask first, unless --yes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import click
from sqlalchemy.engine import make_url

from .errors import EXIT_USAGE, CliError

F = TypeVar("F", bound=Callable[..., object])


def yes_option(command: F) -> F:
    """-y/--yes, and -f/--force, the name the old scripts had."""
    return click.option(
        "-y", "--yes", "-f", "--force", "yes", is_flag=True, help="Do not ask for confirmation."
    )(command)


def interactive() -> bool:
    return sys.stdin.isatty()


def shown(database_uri: str) -> str:
    """The database's URL as it may be shown: without its password."""
    return make_url(database_uri).render_as_string(hide_password=True)


def confirm_destructive(action: str, *, yes: bool) -> None:
    """Ask "This ACTION. Continue?"; without a terminal to ask on, refuse unless --yes."""
    if yes:
        return
    if not interactive():
        raise CliError(
            f"Not done: this would {action}; pass --yes to confirm (no terminal to ask on).",
            exit_code=EXIT_USAGE,
        )
    click.confirm(f"This will {action}. Continue?", abort=True)
