"""The per-annotator table (the dashboard, a project's page, a group's page) and the progress
the dashboard adds to its project table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import request, url_for

from ..models import Group, db
from ..services.tasks import annotators, timeline
from ..services.tasks.dashboard import Progress
from .blueprint import bp, me

# The query parameter of the per-annotator table's order: its own, so that it never changes
# the order of another list on the same page.
SORT_PARAMETER = "sort_annotators"


@dataclass
class AnnotatorTable:
    """The rows of the per-annotator table, the order asked for, and the scope's project."""

    rows: list[annotators.AnnotatorRow]
    sort: str
    project: str | None

    # The thresholds, for the note under the table.
    idle_days = annotators.IDLE_DAYS
    recent_days = annotators.RECENT_DAYS
    behind_percent = round(100 * annotators.BEHIND_RATIO)
    min_done = annotators.MIN_DONE_FOR_SHARES

    @property
    def key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

    def sort_url(self, key: str) -> str:
        """This page ordered by `key`; the active key again reverses the order."""
        descending = not self.descending if key == self.key else False
        args: dict[str, Any] = request.args.to_dict()
        args[SORT_PARAMETER] = ("-" if descending else "") + key
        assert request.endpoint is not None
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    def tasks_url(self, row: annotators.AnnotatorRow) -> str:
        """The task list filtered as this row counts: the user, and the project if any."""
        return url_for("web.tasks", user=row.username, project=self.project or None)


def annotator_table(*, project: str | None = None, group: Group | None = None) -> AnnotatorTable:
    """The per-annotator table of a scope, in the order the query string asks for."""
    sort = request.args.get(SORT_PARAMETER, "username")
    if sort.lstrip("-") not in annotators.ANNOTATOR_SORTS:
        sort = "username"
    rows = annotators.list_annotators(
        db.session, viewer=me(), project=project, group=group, sort=sort
    )
    return AnnotatorTable(rows=rows, sort=sort, project=project)


@bp.app_template_global()
def group_annotator_table(group: Group) -> AnnotatorTable:
    """For the group page: its members' progress (a global so the group view stays as it is)."""
    return annotator_table(group=group)


def dashboard_progress(projects: Iterable[Progress], *, today: date) -> dict[str, Any]:
    """What the dashboard shows of progress: the estimate of each project it counted (with the
    tasks done since timeline.rate_start(today)), and every annotator."""
    return {
        "estimates": timeline.counted_estimates(projects, today=today),
        "rate_days": timeline.RATE_DAYS,
        "people": annotator_table(),
    }
