"""The task list by scheduling (web/tasks.py): subject, series and overdue filters, the subject,
priority and due columns, sorting by priority and due date."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from taskmanager.models import utcnow

from .seed import World
from .test_pages import get_ok, login
from .test_tasks import _set


def _listed(page: str) -> list[int]:
    return [int(task_id) for task_id in re.findall(r'name="ids" value="(\d+)"', page)]


def test_subject_series_and_overdue_filters(client: Any, world: World) -> None:
    first, second, third, fourth = (t.id for t in world.tasks[:4])
    now = utcnow()
    _set(client, [first, second], subject="case-1")
    _set(client, [first, third], series="liver")
    _set(client, [first], due=now - timedelta(days=1))
    _set(client, [second], due=now + timedelta(days=1))
    _set(client, [fourth], due=now - timedelta(days=2), status="done")
    login(client, "admin", "admin")
    assert _listed(get_ok(client, "/tasks?subject=case-1")) == [first, second]
    assert _listed(get_ok(client, "/tasks?series=liver")) == [first, third]
    assert _listed(get_ok(client, "/tasks?subject=case-1&series=liver")) == [first]
    overdue = get_ok(client, "/tasks?overdue=yes")
    assert _listed(overdue) == [first]
    assert 'name="overdue" value="yes" checked' in overdue
    # Anything but "yes" is no filter.
    everything = _listed(get_ok(client, "/tasks"))
    assert _listed(get_ok(client, "/tasks?overdue=maybe")) == everything


def test_the_list_shows_and_sorts_by_priority_and_due(client: Any, world: World) -> None:
    first, second, third = (t.id for t in world.tasks[:3])
    now = utcnow().replace(microsecond=0)
    _set(client, [first], priority=2, due=now + timedelta(days=2), subject="case-7")
    _set(client, [second], priority=9, due=now + timedelta(days=1), series="s-3")
    _set(client, [third], priority=-1)
    login(client, "admin", "admin")
    page = get_ok(client, "/tasks")
    for header in ("Subject", "Priority", "Due"):
        assert f">{header}</a>" in page or f"<th>{header}</th>" in page, header
    assert "case-7" in page and "s-3" in page
    assert (now + timedelta(days=1)).strftime("%Y-%m-%d %H:%M UTC") in page
    others = [i for i in _listed(page) if i not in (first, second, third)]
    # Descending, ties go by id descending too.
    by_priority = _listed(get_ok(client, "/tasks?sort=-priority"))
    assert by_priority == [second, first, *sorted(others, reverse=True), third]
    # By due date the tasks without one come last, whichever the direction.
    undated = sorted([third, *others])
    assert _listed(get_ok(client, "/tasks?sort=due")) == [second, first, *undated]
    assert _listed(get_ok(client, "/tasks?sort=-due")) == [first, second, *undated[::-1]]
