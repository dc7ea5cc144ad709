"""Browsing lists: filters, sorting, counts per row and visibility."""

from __future__ import annotations

from typing import Any

from taskmanager.models import Task
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


def _track(session: Any, tasks: list[Any], *tracking_ids: str) -> None:
    for task, tracking_id in zip(tasks, tracking_ids, strict=False):
        task.tracking_id = tracking_id
    session.flush()


def test_tracking_ids_match_exactly_or_as_a_prefix(session: Any) -> None:
    world = seed(session)
    _track(session, world.tasks, "SUBJ-001", "SUBJ-002", "subj_010", "OTHER-1")
    exact = task_pages.TaskSearch(tracking_id="SUBJ-001")
    assert [
        t.id for t in task_pages.tasks_page(session, viewer=world.admin, search=exact).items
    ] == [world.tasks[0].id]
    prefix = task_pages.TaskSearch(tracking_id="SUBJ-", tracking_prefix=True)
    found = task_pages.tasks_page(session, viewer=world.admin, search=prefix)
    assert {t.id for t in found.items} == {world.tasks[0].id, world.tasks[1].id}
    # LIKE's wildcards in the prefix are plain characters.
    underscore = task_pages.TaskSearch(tracking_id="subj_", tracking_prefix=True)
    assert task_pages.tasks_page(session, viewer=world.admin, search=underscore).total == 1
    percent = task_pages.TaskSearch(tracking_id="%", tracking_prefix=True)
    assert task_pages.tasks_page(session, viewer=world.admin, search=percent).total == 0


def test_text_search_ignores_case_in_content_and_tracking_id(session: Any) -> None:
    world = seed(session)
    _track(session, world.tasks, "Brain-Scan-7")
    world.tasks[3].raw_content = '{"name": "Heart MRI of Subject-042"}'
    session.flush()
    ids = {
        text: {
            t.id
            for t in task_pages.tasks_page(
                session, viewer=world.admin, search=task_pages.TaskSearch(text=text)
            ).items
        }
        for text in ("BRAIN-scan", "subject-042", "nothing-like-this")
    }
    assert ids == {
        "BRAIN-scan": {world.tasks[0].id},
        "subject-042": {world.tasks[3].id},
        "nothing-like-this": set(),
    }


def test_text_search_and_filters_keep_to_what_the_viewer_sees(session: Any) -> None:
    world = seed(session)
    search = task_pages.TaskSearch(text="subject-001")
    seen_by_alice = task_pages.tasks_page(session, viewer=world.alice, search=search)
    assert {t.id for t in seen_by_alice.items} == {t.id for t in world.tasks[:3]}
    done_by_alice = task_pages.TaskSearch(done_by="alice")
    assert [
        t.id for t in task_pages.tasks_page(session, viewer=world.admin, search=done_by_alice).items
    ] == [world.tasks[1].id]
    assert task_pages.tasks_page(session, viewer=world.bob, search=done_by_alice).total == 0


def test_extra_conditions_filter_and_count(session: Any) -> None:
    world = seed(session)
    locked = task_pages.tasks_page(
        session, viewer=world.admin, conditions=[Task.lock_id.is_not(None)], limit=1
    )
    assert (locked.total, [t.id for t in locked.items]) == (1, [world.tasks[0].id])


def test_status_choices_put_known_statuses_first_and_are_capped(
    session: Any, monkeypatch: Any
) -> None:
    world = seed(session)
    for task, status in zip(world.tasks[2:], ("zeta", "alpha", "mid"), strict=False):
        task.status = status
    session.flush()
    assert task_pages.status_choices(session) == [
        "queued",
        "waiting",
        "done",
        "aborted",
        "alpha",
        "mid",
        "zeta",
    ]
    assert task_pages.statuses(session, limit=2) == ["alpha", "done"]
    monkeypatch.setattr(task_pages, "STATUS_CHOICES_MAX", 2)
    assert task_pages.status_choices(session, keep=["zeta"]) == [
        "queued",
        "waiting",
        "done",
        "aborted",
        "alpha",
        "zeta",
    ]


def test_locate_finds_a_task_by_id_or_tracking_id_the_viewer_sees(session: Any) -> None:
    world = seed(session)
    _track(session, world.tasks, "S-1", "S-2", "S-2", "S-9")
    first, second, third, bobs = (t.id for t in world.tasks[:4])
    assert task_pages.locate(session, viewer=world.alice, reference=f"#{first}") == [first]
    assert task_pages.locate(session, viewer=world.alice, reference="S-2") == [second, third]
    assert task_pages.locate(session, viewer=world.alice, reference="S-9") == []
    assert task_pages.locate(session, viewer=world.alice, reference=str(bobs)) == []
    assert task_pages.locate(session, viewer=world.bob, reference="S-9") == [bobs]
    assert task_pages.locate(session, viewer=world.alice, reference="  ") == []
