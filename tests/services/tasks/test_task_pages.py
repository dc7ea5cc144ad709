"""Browsing lists: filters, sorting, counts per row and visibility."""

from __future__ import annotations

from typing import Any

from taskmanager.services.accounts import account_pages
from taskmanager.services.dispensing import locks
from taskmanager.services.dispensing import locks as dispensing_locks
from taskmanager.services.taskgroups import taskgroup_pages
from taskmanager.services.tasks import task_pages

from ..web.seed import seed


def test_users_are_searched_filtered_and_sorted_with_open_task_counts(session: Any) -> None:
    seed(session)
    page = account_pages.users_page(session, search="ALI", sort="username")
    assert [(r.user.username, r.open_tasks, r.roles) for r in page.items] == [
        ("alice", 2, ["user"])
    ]
    by_load = account_pages.users_page(session, role="user", sort="-open_tasks", limit=2)
    assert by_load.total == 3
    # bob: one task and the two of the task group directly; his group's task does not count
    assert [(r.user.username, r.open_tasks) for r in by_load.items] == [("bob", 3), ("alice", 2)]
    assert account_pages.users_page(session, active=False).total == 0


def test_groups_a_plain_user_sees_are_their_own(session: Any) -> None:
    world = seed(session)
    assert account_pages.groups_page(session, viewer=world.alice).total == 0
    rows = account_pages.groups_page(session, viewer=world.bob).items
    assert [(r.group.groupname, r.members, r.open_tasks) for r in rows] == [("readers", 1, 1)]
    assert account_pages.groups_page(session, viewer=world.admin, search="radiology").total == 1


def test_tags_and_templates_count_the_viewers_tasks(session: Any) -> None:
    world = seed(session)
    [urgent] = task_pages.tags_page(session, viewer=world.admin).items
    assert (urgent.item.name, urgent.tasks, urgent.open_tasks) == ("urgent", 2, 2)
    assert task_pages.tags_page(session, viewer=world.bob).items[0].tasks == 0
    [template] = task_pages.templates_page(session, viewer=world.admin).items
    assert (template.tasks, template.open_tasks) == (8, 6)


def test_task_groups_carry_their_status_and_progress(session: Any) -> None:
    world = seed(session)
    [row] = taskgroup_pages.taskgroups_page(session, viewer=world.bob).items
    assert (row.taskgroup.label, row.status, row.progress.counts) == (
        "batch-1",
        "queued",
        {"queued": 2},
    )
    assert taskgroup_pages.taskgroups_page(session, viewer=world.bob, status="done").total == 0
    assert taskgroup_pages.taskgroups_page(session, viewer=world.alice).total == 0


def test_task_pages_filter_like_the_api_and_sort_as_asked(session: Any) -> None:
    world = seed(session)
    newest_first = task_pages.tasks_page(session, viewer=world.admin, sort="-id", limit=3)
    assert newest_first.total == 8
    ids = [t.id for t in newest_first.items]
    assert ids == sorted(ids, reverse=True)
    open_of_alice = task_pages.tasks_page(session, viewer=world.admin, user="alice", open_only=True)
    assert {t.id for t in open_of_alice.items} == {world.tasks[0].id, world.tasks[2].id}
    urgent = task_pages.tasks_page(
        session, viewer=world.admin, tags=["urgent"], project="brain-study"
    )
    assert urgent.total == 2
    # A plain user's "user" filter is ignored: they always see their own tasks.
    assert task_pages.tasks_page(session, viewer=world.carol, user="alice").total == 1
    in_group = task_pages.tasks_page(session, viewer=world.admin, group=world.readers)
    assert [t.id for t in in_group.items] == [world.tasks[4].id]
    assert task_pages.tasks_page(session, viewer=world.admin, taskgroup=world.taskgroup).total == 2


def test_held_locks_leave_out_lapsed_leases(session: Any) -> None:
    world = seed(session)
    locked = world.tasks[0]
    assert dispensing_locks.held_locks(session, task_ids=[locked.id], timeout=None) == {locked.id}
    assert dispensing_locks.held_locks(session, task_ids=[locked.id], timeout=-1) == set()
    locks.release(session, task=locked, actor=world.admin)
    assert dispensing_locks.held_locks(session, task_ids=[locked.id], timeout=None) == set()


def test_mail_addresses_of_users_and_group_members(session: Any) -> None:
    world = seed(session)
    assert account_pages.mail_addresses(
        session, user_ids=[world.alice.id], group_ids=[world.readers.id]
    ) == [
        "alice@example.org",
        "bob@example.org",
    ]


def test_other_orders_select_the_same_tasks_as_the_api_order(session: Any) -> None:
    world = seed(session)
    filters: dict[str, Any] = {"viewer": world.admin, "project": "brain-study", "tags": ["urgent"]}
    in_api_order = task_pages.tasks_page(session, **filters, sort="id")
    newest_first = task_pages.tasks_page(session, **filters, sort="-update_time")
    assert in_api_order.total == newest_first.total == 2
    assert {t.id for t in in_api_order.items} == {t.id for t in newest_first.items}
    for viewer in (world.alice, world.bob):
        ids = {t.id for t in task_pages.tasks_page(session, viewer=viewer, sort="-id").items}
        assert ids == {t.id for t in task_pages.tasks_page(session, viewer=viewer, sort="id").items}
