"""GET /tasks/export: every task of a filtered list, streamed as NDJSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from flask import Response
from sqlalchemy import ColumnElement
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..models import db
from ..services.tasks import export, export_format
from ..services.tasks import lists as task_lists
from . import bodies, v1
from .auth import caller, permission_required
from .tasks import READ, list_filters
from .tasks_schemas import TaskExportQuery

# (Werkzeug adds "; charset=utf-8" to a text/* type itself.)
MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv"}
# Documented with the media types it streams (a plain description would say JSON).
RESPONSES: dict[int | str, dict[str, str | dict[str, dict[str, Any]]]] = {
    200: {
        "description": "The tasks, as NDJSON or CSV",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    },
    400: {"description": "Invalid filter or format"},
}


@v1.get("/tasks/export")
@bodies.input(TaskExportQuery, location="query", arg_name="query")
@v1.doc(
    summary="Export tasks",
    description="Every task the list (`GET /tasks` with the same filters) would hold, in id "
    "order, streamed: `format=ndjson` (the default) writes one JSON object per line, `csv` a "
    "header line and one row per task. A row holds id, project, template (label), status, "
    "users, groups (names), lock (the holder's username or null), create_time, update_time, "
    "tags (names) and tracking_id; in CSV a list is one cell, its names joined by `;`. The "
    "server reads the tasks a batch at a time, so its memory does not grow with the list; "
    "`after` resumes an export after the last id received.",
    tags=["Tasks"],
    responses=RESPONSES,
)
@permission_required(*READ)
def export_tasks(query: TaskExportQuery) -> Response:
    conditions = task_lists.walk_conditions(
        db.session,
        viewer=caller(),
        filters=list_filters(query),
    )
    # The request's session ends with the request, before the body is sent: the stream reads
    # with its own session.
    db.session.rollback()
    lines = (_csv_lines if query.format == "csv" else _ndjson_lines)(
        _batches(db.engine, conditions, query.after)
    )
    response = Response(lines, mimetype=MEDIA_TYPES[query.format])
    response.headers["Content-Disposition"] = f"attachment; filename=tasks.{query.format}"
    return response


def _batches(
    engine: Engine, conditions: list[ColumnElement[bool]], after: int | None
) -> Iterator[list[export.ExportRow]]:
    """The export's batches, each read in a transaction of its own: between two batches the
    connection goes back to the pool, however slowly the client reads."""
    with Session(engine) as session:
        for batch in export.batches(
            session, conditions=conditions, after=after, size=export.BATCH_SIZE
        ):
            session.rollback()
            yield batch


def _ndjson_lines(batches: Iterator[list[export.ExportRow]]) -> Iterator[str]:
    for batch in batches:
        yield "".join(json.dumps(row.as_dict()) + "\n" for row in batch)


def _csv_lines(batches: Iterator[list[export.ExportRow]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(export_format.COLUMNS)
    for batch in batches:
        for row in batch:
            writer.writerow(export_format.csv_cells(row.as_dict()))
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()
