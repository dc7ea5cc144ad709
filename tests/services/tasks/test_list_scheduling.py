"""Task lists by scheduling: subject, series and overdue filters, priority order, waiting tasks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from taskmanager.models import Task, User, utcnow
from taskmanager.services.flows import task_changes
from taskmanager.services.kit.errors import InvalidInput
from taskmanager.services.tasks import lists as task_lists
from taskmanager.services.tasks import policy

from ...support.task_factories import make_task, make_template, make_user

WAIT_URL = "http://127.0.0.1:9/scan/1"


@pytest.fixture(autouse=True, params=["ids-as-a-set", "row-by-row"])
def strategy(request, monkeypatch) -> str:
    """Both ways of checking membership (see services.tasks.lists)."""
    threshold = 10**9 if request.param == "ids-as-a-set" else 0
    monkeypatch.setattr(task_lists, "SET_BASED_MAX", threshold)
    return str(request.param)


@pytest.fixture
def admin(session) -> User:
    return session.scalars(select(User).where(User.username == "admin")).one()


def _ids(page: task_lists.Page) -> list[int]:
    return [item.id for item in page.items]


def _listed(
    session, viewer: User, order: str | None = None, after_id: int | None = None, **filters
) -> list[int]:
    page = task_lists.list_page(
        session,
        viewer=viewer,
        filters=task_lists.Filters(**filters),
        order=order,
        after_id=after_id,
    )
    return _ids(page)


def test_subject_and_series_filters(session, admin) -> None:
    make_template(session, "tpl")
    a1 = make_task(session, subject="case-1", series="s1").id
    a2 = make_task(session, subject="case-1", series="s2").id
    b1 = make_task(session, subject="case-2", series="s1").id
    make_task(session)
    assert _listed(session, admin, subject="case-1") == [a1, a2]
    assert _listed(session, admin, series="s1") == [a1, b1]
    assert _listed(session, admin, subject="case-1", series="s1") == [a1]
    assert _listed(session, admin, subject="case-9") == []
    page = task_lists.list_page(
        session, viewer=admin, filters=task_lists.Filters(subject="case-1"), limit=1
    )
    assert (_ids(page), page.total) == ([a1], 2)


def test_overdue_means_due_before_now_and_still_open(session, admin) -> None:
    make_template(session, "tpl")
    now = utcnow()
    late = make_task(session, due=now - timedelta(days=1)).id
    late_done = make_task(session, due=now - timedelta(hours=1))
    late_aborted = make_task(session, due=now - timedelta(hours=2))
    late_other_status = make_task(session, due=now - timedelta(minutes=5))
    make_task(session, due=now + timedelta(days=1))
    make_task(session)
    task_changes.set_status(session, task=late_done, status="done", actor=admin)
    task_changes.set_status(session, task=late_aborted, status="aborted", actor=admin)
    task_changes.set_status(session, task=late_other_status, status="reviewing", actor=admin)
    assert _listed(session, admin, overdue=True) == [late, late_other_status.id]
    assert _listed(session, admin, overdue=True, status="reviewing") == [late_other_status.id]
    assert (
        task_lists.list_page(session, viewer=admin, filters=task_lists.Filters(overdue=True)).total
        == 2
    )


def _urgency_world(session) -> list[int]:
    """Tasks in the order priority order lists them."""
    make_template(session, "tpl")
    now = utcnow()
    low = make_task(session, priority=-1, due=now - timedelta(days=3)).id
    plain_old = make_task(session).id
    urgent_no_due = make_task(session, priority=5).id
    urgent_late = make_task(session, priority=5, due=now + timedelta(days=2)).id
    urgent_soon = make_task(session, priority=5, due=now + timedelta(days=1)).id
    plain_new = make_task(session).id
    plain_due = make_task(session, due=now + timedelta(days=9)).id
    return [urgent_soon, urgent_late, urgent_no_due, plain_due, plain_old, plain_new, low]


def test_priority_order_puts_the_most_urgent_first(session, admin) -> None:
    expected = _urgency_world(session)
    assert _listed(session, admin, order="priority") == expected
    assert _listed(session, admin, order="id") == sorted(expected)
    assert _listed(session, admin) == sorted(expected)
    page = task_lists.list_page(session, viewer=admin, order="priority", offset=2, limit=3)
    assert (_ids(page), page.total) == (expected[2:5], len(expected))


def test_a_project_with_priority_order_lists_by_priority(session, admin) -> None:
    expected = _urgency_world(session)
    policy.put(session, "proj", {"priority_order": True}, admin)
    assert _listed(session, admin, project="proj") == expected
    # Asked for, the id order still holds; so does paging by id (keyset pages go by id).
    assert _listed(session, admin, project="proj", order="id") == sorted(expected)
    assert _listed(session, admin, project="proj", after_id=0) == sorted(expected)
    # Without the project filter a list is not of that project.
    assert _listed(session, admin) == sorted(expected)


def test_order_is_checked(session, admin) -> None:
    with pytest.raises(InvalidInput) as refused:
        task_lists.list_page(session, viewer=admin, order="urgency")
    assert "order" in refused.value.errors
    with pytest.raises(InvalidInput) as refused:
        task_lists.list_page(session, viewer=admin, order="priority", after_id=3)
    assert "after" in refused.value.errors


def test_waiting_tasks_list_what_they_wait_for(session, admin) -> None:
    make_template(session, "tpl")
    alice = make_user(session, "alice")
    queued = make_task(session, users=["alice"]).id
    waiting = make_task(session, users=["alice"], wait_for=WAIT_URL)
    waiting.wait_detail = "HTTP 404"
    session.flush()
    items = task_lists.list_page(
        session, viewer=alice, filters=task_lists.Filters(status="waiting")
    ).items
    assert [(i.id, i.status) for i in items] == [(waiting.id, "waiting")]
    assert isinstance(items[0], task_lists.Listed)
    assert (items[0].wait_for, items[0].wait_detail) == (WAIT_URL, "HTTP 404")
    assert _listed(session, alice) == [queued, waiting.id]
    assert session.get(Task, queued).wait_for is None
