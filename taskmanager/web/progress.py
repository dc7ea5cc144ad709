"""The per-annotator table (the dashboard, a project's page, a group's page) and the progress
the dashboard adds to its project table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import url_for

from ..models import Group, db
from ..services.tasks import annotators, timeline
from ..services.tasks.dashboard import Progress
from .blueprint import bp, me
from .lists import Sorter

# The query parameter of the per-annotator table's order: its own, so that it never changes
# the order of another list on the same page.
SORT_PARAMETER = "sort_annotators"


@dataclass
class AnnotatorTable:
    """The rows of the per-annotator table, their order, and the scope's project."""

    rows: list[annotators.AnnotatorRow]
    sorter: Sorter
    project: str | None

    # The thresholds, for the note under the table.
    idle_days = annotators.IDLE_DAYS
    recent_days = annotators.RECENT_DAYS
    behind_percent = round(100 * annotators.BEHIND_RATIO)
    min_done = annotators.MIN_DONE_FOR_SHARES

    def tasks_url(self, row: annotators.AnnotatorRow) -> str:
        """The task list filtered as this row counts: the user, and the project if any."""
        return url_for("web.tasks", user=row.username, project=self.project or None)


def annotator_table(*, project: str | None = None, group: Group | None = None) -> AnnotatorTable:
    """The per-annotator table of a scope, in the order the query string asks for."""
    sorter = Sorter.from_request(annotators.ANNOTATOR_SORTS, "username", parameter=SORT_PARAMETER)
    rows = annotators.list_annotators(
        db.session, viewer=me(), project=project, group=group, sort=sorter.value
    )
    return AnnotatorTable(rows=rows, sorter=sorter, project=project)


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
