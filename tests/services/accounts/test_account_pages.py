"""Browsing lists: filters, sorting, counts per row and visibility."""

from __future__ import annotations

from typing import Any

from taskmanager.services.accounts import account_pages

from ...web.seed import seed


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


def test_mail_addresses_of_users_and_group_members(session: Any) -> None:
    world = seed(session)
    assert account_pages.mail_addresses(
        session, user_ids=[world.alice.id], group_ids=[world.readers.id]
    ) == [
        "alice@example.org",
        "bob@example.org",
    ]
