"""The task list as a tool (web/tasks.py): search, columns, filters, page sizes, going to a task,
bulk actions with their confirmation, statuses chosen from a list, one-click buttons."""

from __future__ import annotations

import html
from typing import Any

from sqlalchemy import select, update

from taskmanager.models import Task, TaskHistory

from .conftest import csrf_token_from, database
from .seed import World
from .test_pages import get_ok, login


def _set(client: Any, task_ids: list[int], **values: Any) -> None:
    with database(client.application) as session:
        session.execute(update(Task).where(Task.id.in_(task_ids)).values(**values))
        session.commit()


def _statuses(client: Any, task_ids: list[int]) -> list[str]:
    with database(client.application) as session:
        found = dict(
            session.execute(select(Task.id, Task.status).where(Task.id.in_(task_ids))).all()
        )
    return [found[task_id] for task_id in task_ids]


def _flashes(client: Any, url: str = "/tasks") -> str:
    return _words(get_ok(client, url))


def _words(page: str) -> str:
    """The page's text as read: entities decoded, runs of white space as one space."""
    return " ".join(html.unescape(page).split())


def _bulk(client: Any, data: dict[str, Any], *, list_url: str = "/tasks") -> Any:
    data = {**data, "csrf_token": csrf_token_from(get_ok(client, list_url))}
    return client.post("/tasks/bulk", data=data)


def test_the_list_shows_tracking_ids_and_searches_them_and_the_content(
    client: Any, world: World
) -> None:
    first, second, third = (t.id for t in world.tasks[:3])
    _set(client, [first], tracking_id="SUBJ-001")
    _set(client, [second], tracking_id="SUBJ-002")
    _set(client, [third], tracking_id="OTHER-9")
    login(client, "admin", "admin")
    page = get_ok(client, "/tasks")
    assert "SUBJ-001" in page and "Tracking id" in page and "Created" in page
    exact = get_ok(client, "/tasks?tracking=SUBJ-001")
    assert f'name="ids" value="{first}"' in exact and f'name="ids" value="{second}"' not in exact
    prefix = get_ok(client, "/tasks?tracking=SUBJ-&match=prefix")
    assert f'name="ids" value="{first}"' in prefix and f'name="ids" value="{second}"' in prefix
    assert f'name="ids" value="{third}"' not in prefix
    text = get_ok(client, "/tasks?text=other-")
    assert "1–1 of 1 task" in text
    nothing = get_ok(client, "/tasks?text=no-such-words")
    assert "No tasks match these filters" in nothing


def test_locked_and_done_by_filters(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    locked = get_ok(client, "/tasks?locked=yes")
    assert "1–1 of 1 task" in locked and f'name="ids" value="{world.tasks[0].id}"' in locked
    assert "1–7 of 7 tasks" in get_ok(client, "/tasks?locked=no")
    done_by = get_ok(client, "/tasks?done_by=carol")
    assert "1–1 of 1 task" in done_by and f'name="ids" value="{world.tasks[5].id}"' in done_by
    refused = _flashes(client, "/tasks?locked=maybe")
    assert "Locked must be yes or no." in refused


def test_page_sizes_are_offered_and_checked(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    page = get_ok(client, "/tasks?per_page=250")
    assert '<option value="250" selected>' in page
    refused = _flashes(client, "/tasks?per_page=100000")
    assert "Rows per page (per_page) must be one of 25, 50, 100, 250; showing 50." in refused
    assert "1–8 of 8 tasks" in refused
    # Not a number at all is refused the same way, not silently replaced.
    assert "showing 50." in _flashes(client, "/tasks?per_page=abc")


def test_a_page_past_the_last_says_so_and_links_the_last(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    page = _flashes(client, "/tasks?per_page=25&page=9")
    assert "Page 9 is past the last page (1)" in page
    assert 'href="/tasks?per_page=25">Go to the last page' in page.replace("&amp;", "&")
    assert "No tasks yet" not in page


def test_go_to_a_task_by_id_or_tracking_id(client: Any, world: World) -> None:
    first, second, third = (t.id for t in world.tasks[:3])
    _set(client, [first], tracking_id="ONE")
    _set(client, [second, third], tracking_id="TWIN")
    login(client, "alice")
    for reference, where in (
        (str(first), f"/tasks/{first}"),
        (f"#{second}", f"/tasks/{second}"),
        ("ONE", f"/tasks/{first}"),
        ("TWIN", "/tasks?tracking=TWIN"),
        (str(world.tasks[3].id), "/tasks"),  # bob's: not hers to find
    ):
        response = client.get("/tasks/go", query_string={"q": reference})
        assert response.status_code == 302, reference
        assert response.headers["Location"] == where, reference
        response.close()
    assert f"No task you may see has the id or tracking id '{world.tasks[3].id}'." in _flashes(
        client
    )
    # The old search box's links still lead to the task.
    response = client.get(f"/tasks?q={first}")
    assert response.headers["Location"] == f"/tasks/go?q={first}"
    response.close()


def test_a_bulk_status_is_confirmed_then_applied_to_every_selected_task(
    client: Any, world: World
) -> None:
    locked, other = world.tasks[0].id, world.tasks[2].id
    login(client, "admin", "admin")
    confirm = _bulk(
        client,
        {
            "ids": [str(locked), str(other)],
            "action": "status",
            "status": "done",
            "back": "sort=-id",
        },
    )
    text = _words(confirm.get_data(as_text=True))
    confirm.close()
    assert confirm.status_code == 200, text
    assert "2 tasks set to done?" in text
    assert "This touches 2 tasks, 1 of them locked by alice." in text
    assert 'data-confirm="2 tasks set to done: 2 tasks?"' in text
    assert _statuses(client, [locked, other]) == ["queued", "queued"]  # nothing yet

    data = {
        "csrf_token": csrf_token_from(text),
        "ids": [str(locked), str(other)],
        "action": "status",
        "value": "done",
        "back": "sort=-id",
    }
    applied = client.post("/tasks/bulk/apply", data=data)
    assert applied.status_code == 302
    assert applied.headers["Location"] == "/tasks?sort=-id"
    applied.close()
    assert "2 tasks set to done." in _flashes(client)
    assert _statuses(client, [locked, other]) == ["done", "done"]
    with database(client.application) as session:
        stamps = set(
            session.scalars(
                select(TaskHistory.timestamp).where(
                    TaskHistory.task_id.in_([locked, other]), TaskHistory.action == "status"
                )
            )
        )
    assert len(stamps) == 1


def test_select_all_on_this_page_takes_every_row_of_the_page(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    page_ids = ",".join(str(t.id) for t in world.tasks[:3])
    confirm = _bulk(
        client,
        {
            "all_on_page": "1",
            "page_ids": page_ids,
            "ids": [],
            "action": "add_tag",
            "tag": "recheck",
        },
    )
    text = _words(confirm.get_data(as_text=True))
    confirm.close()
    assert "3 tasks tagged 'recheck'?" in text


def test_bulk_actions_on_tasks_one_may_not_see_or_change_change_nothing(
    client: Any, world: World
) -> None:
    bobs, alices = world.tasks[3].id, world.tasks[0].id
    login(client, "bob")
    response = _bulk(
        client, {"ids": [str(bobs), str(alices)], "action": "status", "status": "done"}
    )
    assert response.status_code == 302
    response.close()
    assert f"These tasks do not exist: {alices}; nothing was changed" in _flashes(client)
    # A task he sees but may not touch that way: the confirmation says so, and offers no button.
    _set(client, [bobs], lock_id=world.alice.id)
    confirm = _bulk(client, {"ids": [str(bobs)], "action": "release_lock"})
    text = _words(confirm.get_data(as_text=True))
    confirm.close()
    assert "You may not do this to 1 of these tasks" in text and "Confirm:" not in text
    applied = client.post(
        "/tasks/bulk/apply",
        data={
            "csrf_token": csrf_token_from(text),
            "ids": [str(bobs)],
            "action": "release_lock",
            "value": "",
        },
    )
    applied.close()
    assert "You may not change tasks" in _flashes(client)
    # Nothing chosen, or a bad id: a message, not an error page.
    for data in ({"action": "delete"}, {"ids": ["x"], "action": "delete"}):
        response = _bulk(client, data)
        assert response.status_code == 302
        response.close()


def test_the_bulk_form_offers_only_the_actions_the_role_may_take(client: Any, world: World) -> None:
    login(client, "bob")
    page = get_ok(client, "/tasks")
    assert 'value="status"' in page and 'value="release_lock"' in page
    assert 'value="delete"' not in page and 'value="assign_user"' not in page
    client.get("/logout").close()
    login(client, "admin", "admin")
    page = get_ok(client, "/tasks")
    for action in ("assign_user", "assign_group", "add_tag", "remove_tag", "delete"):
        assert f'value="{action}"' in page


def _taskgroup_task_ids(client: Any, world: World) -> list[int]:
    """The ids of the seed's task group's two tasks, in order."""
    with database(client.application) as session:
        return list(
            session.scalars(
                select(Task.id).where(Task.taskgroup_id == world.taskgroup.id).order_by(Task.id)
            )
        )


def test_aborting_a_task_of_a_group_in_bulk_names_what_else_it_aborts(
    client: Any, world: World
) -> None:
    first, second = _taskgroup_task_ids(client, world)
    login(client, "admin", "admin")
    confirm = _bulk(client, {"ids": [str(first)], "action": "status", "status": "aborted"})
    text = _words(confirm.get_data(as_text=True))
    confirm.close()
    assert "Aborting also aborts 1 other open task of the same task groups" in text
    assert f'href="/tasks/{second}"' in text


def _post(client: Any, url: str, data: dict[str, Any], *, page: str) -> Any:
    return client.post(url, data={**data, "csrf_token": csrf_token_from(get_ok(client, page))})


def test_statuses_are_chosen_and_a_new_one_needs_confirming(client: Any, world: World) -> None:
    task = world.tasks[3]
    _set(client, [world.tasks[4].id], status="reviewing")
    login(client, "admin", "admin")
    edit = f"/tasks/{task.id}/edit"
    form = get_ok(client, edit)
    assert '<select id="status" name="status"' in form
    assert '<option value="reviewing">reviewing</option>' in form  # in use by a client
    # A status outside the list is refused unless it comes as a confirmed new one.
    response = _post(client, edit, {"status": "typo-status"}, page=edit)
    assert response.status_code == 200 and "Not a valid choice" in response.get_data(as_text=True)
    response.close()
    response = _post(client, edit, {"status": "queued", "new_status": "second-read"}, page=edit)
    asked = _words(response.get_data(as_text=True))
    response.close()
    assert "Create the new status 'second-read'? Tick the box to confirm" in asked
    assert _statuses(client, [task.id]) == ["queued"]
    data = {"status": "queued", "new_status": "second-read", "create_status": "y"}
    response = _post(client, edit, data, page=edit)
    assert response.status_code == 302
    response.close()
    assert _statuses(client, [task.id]) == ["second-read"]
    # A known status typed as new needs no confirmation.
    response = _post(client, edit, {"status": "queued", "new_status": "reviewing"}, page=edit)
    assert response.status_code == 302
    response.close()
    assert _statuses(client, [task.id]) == ["reviewing"]


def test_one_click_mark_done_and_abort_go_through_the_status_change(
    client: Any, world: World
) -> None:
    task = world.tasks[3]
    login(client, "bob")
    page = get_ok(client, f"/tasks/{task.id}")
    assert ">Mark done</button>" in page and ">Abort</button>" in page
    assert f'data-confirm="Mark task {task.id} done?"' in page
    response = _post(
        client, f"/tasks/{task.id}/status", {"status": "done"}, page=f"/tasks/{task.id}"
    )
    assert response.status_code == 302
    response.close()
    assert _statuses(client, [task.id]) == ["done"]
    page = get_ok(client, f"/tasks/{task.id}")
    assert ">Mark done</button>" not in page and ">Abort</button>" not in page
    # Only the two statuses, and only one's own task for a plain user.
    response = _post(
        client, f"/tasks/{task.id}/status", {"status": "other"}, page=f"/tasks/{task.id}"
    )
    response.close()
    assert "Status must be one of done, aborted." in _flashes(client, f"/tasks/{task.id}")
    client.get("/logout").close()
    login(client, "carol")
    carols = world.tasks[5].id
    assert ">Abort</button>" not in get_ok(client, f"/tasks/{carols}")  # done already


def test_aborting_a_task_of_a_group_says_first_what_else_it_aborts(
    client: Any, world: World
) -> None:
    first, second = _taskgroup_task_ids(client, world)
    login(client, "admin", "admin")
    page = _words(get_ok(client, f"/tasks/{first}"))
    assert f"Abort task {first}? This also aborts 1 other open task of its task group." in page
    assert "Aborting this task also aborts 1 other open task of task group batch-1" in page
    assert f'href="/tasks/{second}"' in page
    response = _post(
        client, f"/tasks/{first}/status", {"status": "aborted"}, page=f"/tasks/{first}"
    )
    response.close()
    assert _statuses(client, [first, second]) == ["aborted", "aborted"]
    assert "Aborting this task" not in get_ok(client, f"/tasks/{second}")


def test_a_bulk_action_failing_part_way_changes_nothing(
    client: Any, world: World, monkeypatch: Any
) -> None:
    from taskmanager.services.flows import bulk_actions, task_changes
    from taskmanager.services.kit.errors import Conflict

    first, second = world.tasks[2].id, world.tasks[3].id
    real_update = task_changes.update

    def fail_on_the_second(session: Any, *, task: Any, **kwargs: Any) -> Any:
        if task.id == second:
            raise Conflict("The task changed meanwhile", field="status")
        return real_update(session, task=task, **kwargs)

    monkeypatch.setattr(bulk_actions.task_changes, "update", fail_on_the_second)
    login(client, "admin", "admin")
    response = client.post(
        "/tasks/bulk/apply",
        data={
            "csrf_token": csrf_token_from(get_ok(client, "/tasks")),
            "ids": [str(first), str(second)],
            "action": "status",
            "value": "done",
        },
    )
    response.close()
    assert "The task changed meanwhile" in _flashes(client)
    assert _statuses(client, [first, second]) == ["queued", "queued"]
    with database(client.application) as session:
        written = session.scalar(
            select(TaskHistory.id).where(
                TaskHistory.task_id == first, TaskHistory.action == "status"
            )
        )
    assert written is None
