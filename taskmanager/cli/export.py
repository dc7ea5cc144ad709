"""`taskmanager export`: tasks as CSV or JSON, filtered like the task list, page by page."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO, Any

import click

from ..services.tasks.export_format import COLUMNS, csv_cells
from ..wording import counted
from .backends import HttpBackend, backend_options
from .progress import progress_bar


class CsvWriter:
    """Lists become `a;b` cells; a missing value an empty cell."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out, lineterminator="\n")
        self._writer.writerow(COLUMNS)

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow(csv_cells(row))

    def close(self) -> None:
        """Nothing to finish."""


class JsonWriter:
    """A JSON array written one object at a time, so no page is kept after it is written."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._first = True
        out.write("[")

    def write(self, row: dict[str, Any]) -> None:
        self._out.write("\n  " if self._first else ",\n  ")
        self._out.write(json.dumps({key: row.get(key) for key in COLUMNS}))
        self._first = False

    def close(self) -> None:
        self._out.write("\n]\n" if not self._first else "]\n")


def _ambiguous_user(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # `--user` logs in on other commands; here it filtered. Refused, so neither is guessed.
    if value is not None:
        raise click.BadParameter(
            "ambiguous: --assignee filters the tasks by user, --auth-user logs in",
            param_hint="--user",
        )


@click.command("export", short_help="Write tasks as CSV or JSON.")
@click.option("--project", help="Only tasks of this project.")
@click.option("--template", help="Only tasks of this template (label).")
@click.option(
    "--assignee", help="Only tasks assigned to this user (username; needs task_read_all)."
)
@click.option("--user", "old_user", hidden=True, callback=_ambiguous_user, expose_value=False)
@click.option("--status", help="Only tasks with this status.")
@click.option(
    "--tag", "tags", multiple=True, help="Only tasks with this tag (repeat: all of them)."
)
@click.option("--application-name", help="Only tasks for this client.")
@click.option(
    "-f",
    "--format",
    "output_format",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8", lazy=True),
    default="-",
    help="File to write (default: standard output).",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 1000),
    default=200,
    show_default=True,
    help="Tasks fetched per request.",
)
@backend_options(auth_names=("--auth-user", "--auth-password"), database=False)
def export(
    project: str | None,
    template: str | None,
    assignee: str | None,
    status: str | None,
    tags: tuple[str, ...],
    application_name: str | None,
    output_format: str,
    output: IO[str],
    page_size: int,
    backend: HttpBackend,
) -> None:
    """Write tasks (id, project, template, status, users, groups, lock, times, tags,
    tracking id) as CSV or JSON."""
    filters: dict[str, Any] = {
        "project": project,
        "template": template,
        "user": assignee,
        "status": status,
        "tag": list(tags) or None,
        "application_name": application_name,
    }
    filters = {key: value for key, value in filters.items() if value is not None}
    writer = CsvWriter(output) if output_format == "csv" else JsonWriter(output)
    written = 0
    pages = backend.task_pages(filters, page_size=page_size)
    first, total = next(pages, ([], 0))
    with progress_bar("Exporting tasks", total=total) as advance:
        for rows in _chain(first, pages):
            for row in rows:
                writer.write(row)
            written += len(rows)
            advance(len(rows))
    writer.close()
    output.flush()
    click.echo(f"Exported {counted(written, 'task')}.", err=True)


def _chain(
    first: list[dict[str, Any]], rest: Iterator[tuple[list[dict[str, Any]], int | None]]
) -> Iterator[list[dict[str, Any]]]:
    yield first
    for rows, _total in rest:
        yield rows
