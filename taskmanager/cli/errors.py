"""The one place errors become command-line messages and exit codes.

Domain errors from the services (direct database use) and error bodies from the server (HTTP)
have the same shape, `message` plus `errors` per field, and are shown the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import click

from ..services.kit.errors import DomainError

# Exit codes (documented in docs/cli.md).
EXIT_OK = 0
EXIT_FAILED = 1  # the server or the database refused something, or some tasks were not created
EXIT_USAGE = 2  # click: unknown option, missing argument
EXIT_INVALID_INPUT = 3  # input files are invalid; nothing was sent
EXIT_CONNECTION = 4  # the server cannot be reached, or it refused the credentials


class CliError(click.ClickException):
    """A failure the user can act on: one message, printed to stderr, and an exit code."""

    def __init__(self, message: str, *, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # per error, not per class

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True, file=file)


def describe(
    message: str, errors: Mapping[str, Sequence[str]] | None = None, *, source: str | None = None
) -> str:
    """`source: message` followed by one indented `field: reason` line per field."""
    lines = [f"{source}: {message}" if source else message]
    for field, reasons in (errors or {}).items():
        lines.append(f"  {field}: {'; '.join(str(reason) for reason in reasons)}")
    return "\n".join(lines)


def from_domain_error(error: DomainError, *, source: str | None = None) -> CliError:
    return CliError(describe(error.message, error.errors, source=source))


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """An unreachable or misconfigured database ends a command with one line saying why."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from ..config import ConfigurationError, load_settings
    from ..database import DatabaseUnavailable, connection_problem

    try:
        yield
    except DatabaseUnavailable as exc:
        raise click.ClickException(f"Database: {exc}") from exc
    except OperationalError as exc:
        problem = None
        with contextlib.suppress(ConfigurationError):
            problem = connection_problem(exc, make_url(load_settings().database_uri))
        said = " ".join(line.strip() for line in str(exc.orig or exc).splitlines())
        raise click.ClickException(f"Database: {problem or said}") from exc


@contextlib.contextmanager
def domain_errors(source: str | None = None) -> Iterator[None]:
    """Turn a service's DomainError into a CLI message naming `source` (a file, a record)."""
    try:
        yield
    except DomainError as error:
        raise from_domain_error(error, source=source) from None


def from_error_body(status: int, body: Any, *, source: str | None = None) -> CliError:
    """An error answer from the server (`{"message": ..., "errors": {...}}`) as a CLI error."""
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("error") or f"HTTP {status}")
        errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
    else:
        message, errors = (str(body).strip() or f"HTTP {status}"), None
    return CliError(describe(f"{message} (HTTP {status})", errors, source=source))


@dataclass(frozen=True)
class Problem:
    """What is wrong with one input file: where (line, field) and why."""

    path: str
    message: str
    field: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


def report_problems(problems: Sequence[Problem]) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)
