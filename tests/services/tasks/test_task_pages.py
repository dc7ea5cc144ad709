"""Browsing lists: filters, sorting, counts per row and visibility."""

from __future__ import annotations

from typing import Any

from taskmanager.services.tasks import task_pages

from ...web.seed import seed


def test_tags_and_templates_count_the_viewers_tasks(session: Any) -> None:
    world = seed(session)
    [urgent] = task_pages.tags_page(session, viewer=world.admin).items
    assert (urgent.item.name, urgent.tasks, urgent.open_tasks) == ("urgent", 2, 2)
    assert task_pages.tags_page(session, viewer=world.bob).items[0].tasks == 0
    [template] = task_pages.templates_page(session, viewer=world.admin).items
    assert (template.tasks, template.open_tasks) == (8, 6)


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
