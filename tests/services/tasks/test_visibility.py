"""Who may see a task: every form of the rule selects the same tasks for every kind of viewer.

One world holds users who get tasks directly, through one group, through two groups and both
ways at once, an admin, a superuser, an inactive user and a user with nothing; tasks are
assigned in each of those ways, and some to nobody. Every task has its own project, template,
tag and task group (named like the task), so the read models that count per project, template,
tag or group show which tasks they counted. Each form below must select exactly the tasks the
rule (written out in Python here, from the world's description) gives each user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, update

from taskmanager.models import (
    Group,
    Tag,
    Task,
    TaskGroup,
    User,
    task_groups_assigned,
    task_tags,
    utcnow,
)
from taskmanager.services.accounts.authentication import may_sign_in
from taskmanager.services.dispensing import claims
from taskmanager.services.kit.errors import NotFound
from taskmanager.services.taskgroups import progress, reads, taskgroup_pages
from taskmanager.services.tasks import (
    activity,
    dashboard,
    editing,
    history,
    lists,
    task_pages,
    visibility,
)

from ...support import rows
from ...support.task_factories import make_group, make_user

# Group -> members ("orphan" holds a task and has nobody; "empty" has a member and no task).
GROUPS = {"red": ["gil", "two"], "blue": ["two", "gone"], "empty": ["idle"], "orphan": []}
# Task -> (users it is assigned to directly, groups it is assigned to).
TASKS: dict[str, tuple[list[str], list[str]]] = {
    "dan": (["dan"], []),
    "dan-done": (["dan"], []),
    "red": ([], ["red"]),
    "red-dan": (["dan"], ["red"]),
    "blue": ([], ["blue"]),
    "red-blue": ([], ["red", "blue"]),
    "two-red": (["two"], ["red"]),
    "two": (["two"], []),
    "gone": (["gone"], []),
    "orphan": ([], ["orphan"]),
    "admin": (["admin"], []),
    "nobody": ([], []),
    "nobody-2": ([], []),
}
DONE = {"dan-done"}
READS_ALL = {"admin", "sue"}
USERS = ["admin", "sue", "dan", "gil", "two", "gone", "idle"]


def assigned(username: str) -> set[str]:
    """The rule's second half, from the world's description: direct or through a group."""
    return {
        name
        for name, (users, groups) in TASKS.items()
        if username in users or any(username in GROUPS[group] for group in groups)
    }


def visible(username: str) -> set[str]:
    return set(TASKS) if username in READS_ALL else assigned(username)


@dataclass
class World:
    users: dict[str, User]
    task_ids: dict[str, int]
    taskgroups: dict[str, TaskGroup]
    every: Tag

    def names(self, ids: Any) -> set[str]:
        by_id = {task_id: name for name, task_id in self.task_ids.items()}
        return {by_id[task_id] for task_id in ids}


@pytest.fixture
def world(session) -> World:
    users = {"admin": session.scalars(select(User).where(User.username == "admin")).one()}
    users["sue"] = make_user(session, "sue", roles=["superuser"])
    for name in ("dan", "gil", "two", "idle"):
        users[name] = make_user(session, name)
    users["gone"] = make_user(session, "gone", active=False)
    groups = {
        name: make_group(session, name, [users[member] for member in members])
        for name, members in GROUPS.items()
    }
    every = Tag(name="every")
    session.add(every)
    task_ids, taskgroups = {}, {}
    for name, (direct, via) in TASKS.items():
        taskgroups[name] = TaskGroup(label=name, create_time=utcnow())
        session.add(taskgroups[name])
        session.flush()
        task_ids[name] = rows.tasks(
            session,
            1,
            assignees=[users[user] for user in direct],
            groups=[groups[group] for group in via],
            project=name,
            label=name,
            status="done" if name in DONE else "queued",
            taskgroup_id=taskgroups[name].id,
        )[0]
        own = Tag(name=name)
        session.add(own)
        session.flush()
        session.execute(
            insert(task_tags),
            [{"task_id": task_ids[name], "tag_id": tag.id} for tag in (own, every)],
        )
        history.record(session, task_id=task_ids[name], actor=None, action="create")
    session.flush()
    return World(users, task_ids, taskgroups, every)


@contextmanager
def _row_by_row(per_row: bool) -> Iterator[None]:
    """The list's two strategies (see services.tasks.lists): id sets, or row-by-row tests."""
    saved = lists.SET_BASED_MAX
    lists.SET_BASED_MAX = 0 if per_row else 10**9
    try:
        yield
    finally:
        lists.SET_BASED_MAX = saved


def _ids_where(session, condition, params: dict[str, Any] | None = None) -> list[int]:
    return list(session.scalars(select(Task.id).where(condition), params or {}))


def _list_page(per_row: bool, **filters: Any) -> Callable[..., Any]:
    def form(session, world: World, user: User) -> set[str]:
        with _row_by_row(per_row):
            page = lists.list_page(session, viewer=user, filters=lists.Filters(**filters))
        assert page.total == len(page.items)
        return world.names(item.id for item in page.items)

    return form


def _list_total(session, world: World, user: User) -> int:
    return lists.list_page(session, viewer=user, limit=0).total


def _list_for_tag(per_row: bool) -> Callable[..., Any]:
    def form(session, world: World, user: User) -> set[str]:
        with _row_by_row(per_row):
            page = lists.list_for_tag(session, viewer=user, tag=world.every)
        return world.names(item.id for item in page.items)

    return form


def _list_for_user(per_row: bool) -> Callable[..., Any]:
    def form(session, world: World, user: User) -> set[str]:
        with _row_by_row(per_row):
            page = lists.list_for_user(session, viewer=user, user=user)
        assert page.total == len(page.items)
        return world.names(item.id for item in page.items)

    return form


def _claimed(timeout: float | None) -> Callable[..., Any]:
    """Every task the user can claim, one claim after another; the locks are undone after."""

    def form(session, world: World, user: User) -> set[str]:
        taken = []
        while (claim := claims.claim_next(session, user=user, timeout=timeout)) is not None:
            taken.append(claim.id)
            assert len(taken) <= len(TASKS)
        session.execute(update(Task).values(lock_id=None, lock_time=None))
        session.expire_all()
        return world.names(taken)

    return form


def _single_task(session, world: World, user: User) -> set[str]:
    found = set()
    for name, task_id in world.task_ids.items():
        try:
            visibility.get_visible_or_raise(session, task_id=task_id, user=user)
        except NotFound:
            continue
        found.add(name)
    return found


def _may_set_status(session, world: World, user: User) -> set[str]:
    # Users may set the status of their own tasks; admin and superuser (who read all) of all.
    return {
        name
        for name, task_id in world.task_ids.items()
        if editing.may_set_status(user, session.get(Task, task_id), session)
    }


def _summary_projects(session, world: World, user: User) -> set[str]:
    summary = dashboard.summary(session, viewer=user)
    assert sum(summary.totals.values()) == len(summary.projects)
    return {str(entry.key) for entry in summary.projects}


def _recent_activity(session, world: World, user: User) -> set[str]:
    operations = activity.recent(session, viewer=user, limit=100)
    return world.names(
        task_id
        for operation in operations
        for task_id in {
            operation.task_id,
            *activity.tasks_of(session, viewer=user, operation=operation),
        }
    )


def _recent_activity_row_by_row(session, world: World, user: User) -> set[str]:
    """The feed with every viewer's history rows checked one by one (on MariaDB: the set)."""
    saved = activity.ROW_BY_ROW_FROM
    activity.ROW_BY_ROW_FROM = 0
    try:
        return _recent_activity(session, world, user)
    finally:
        activity.ROW_BY_ROW_FROM = saved


def _sees_at_least(session, world: World, user: User) -> int:
    """The estimate reaches the number of tasks seen (it may count a task twice, never less)."""
    seen = len(visible(user.username))
    assert visibility.sees_at_least(session, user=user, count=seen)
    if not visibility.reads_all(user):
        links = len(assigned(user.username)) + sum(
            1
            for name, (direct, via) in TASKS.items()
            for group in via
            if user.username in GROUPS[group]
        )
        assert not visibility.sees_at_least(session, user=user, count=links + 1)
    return seen


def _tags_page(session, world: World, user: User) -> set[str]:
    page = task_pages.tags_page(session, viewer=user, limit=100)
    counted = {row.item.name: row.tasks for row in page.items}
    assert counted.pop("every") == sum(counted.values())
    return {name for name, count in counted.items() if count}


def _templates_page(session, world: World, user: User) -> set[str]:
    page = task_pages.templates_page(session, viewer=user, limit=100)
    return {row.item.label for row in page.items if row.tasks}


def _tasks_page(**options: Any) -> Callable[..., Any]:
    def form(session, world: World, user: User) -> set[str]:
        page = task_pages.tasks_page(session, viewer=user, limit=100, **options)
        assert page.total == len(page.items)
        return world.names(task.id for task in page.items)

    return form


def _tasks_page_walked(**options: Any) -> Callable[..., Any]:
    """tasks_page with its row-by-row walk in id order (as for a shallow page of many tasks)."""

    def form(session, world: World, user: User) -> set[str]:
        with _row_by_row(True):
            return _tasks_page(**options)(session, world, user)

    return form


def _group_tasks_pages(session, world: World, user: User) -> set[str]:
    found: set[str] = set()
    for group in session.scalars(select(Group)):
        found |= _tasks_page(group=group)(session, world, user)
    return found


def _group_tasks_seen(session, world: World, user: User) -> set[str]:
    """Each group's tasks, for the groups whose tasks the user sees all of (by the shortcut),
    and the visible ones of the others."""
    found: set[str] = set()
    for group in session.scalars(select(Group)):
        in_group = select(task_groups_assigned.c.task_id).where(
            task_groups_assigned.c.group_id == group.id
        )
        condition = Task.id.in_(in_group)
        if not visibility.sees_group_tasks(session, user=user, group_id=group.id):
            condition = condition & visibility.visible_to(user)
        found |= world.names(_ids_where(session, condition))
    return found


def _own_open_total(session, world: World, user: User) -> int:
    """The summary's count of one's open tasks, else (reading all) the table's own count."""
    counted = dashboard.own_open_total(dashboard.summary(session, viewer=user), viewer=user)
    if counted is None:
        assert visibility.reads_all(user)
        return len(_tasks_page(open_only=True)(session, world, user))
    page = task_pages.tasks_page(
        session, viewer=user, user=user.username, open_only=True, limit=100
    )
    assert page.total == counted
    return counted


def _taskgroups_listed(session, world: World, user: User) -> set[str]:
    return {group.label for group, _ in reads.list_visible(session, user=user)}


def _taskgroups_found(session, world: World, user: User) -> set[str]:
    found = set()
    for name in world.taskgroups:
        try:
            reads.get_or_raise(session, reference=name, user=user)
        except NotFound:
            continue
        found.add(name)
    return found


def _taskgroup_tasks(session, world: World, user: User) -> set[str]:
    return world.names(
        summary.id
        for taskgroup in world.taskgroups.values()
        for summary in reads.tasks_of(session, taskgroup=taskgroup, user=user)
    )


def _taskgroups_page(session, world: World, user: User) -> set[str]:
    page = taskgroup_pages.taskgroups_page(session, viewer=user, limit=100)
    assert all(row.progress.total == 1 for row in page.items)
    return {row.taskgroup.label for row in page.items}


def _taskgroups_progress(session, world: World, user: User) -> set[str]:
    newest = progress.newest_taskgroups(session, viewer=user, limit=100)
    ids = [taskgroup.id for taskgroup in world.taskgroups.values()]
    counted = progress.progress_of_taskgroups(session, viewer=user, ids=ids)
    assert {entry.label for entry in newest} == {entry.label for entry in counted.values()}
    return {entry.label for entry in counted.values()}


# Each form: (what it selects, how it is read). "visible": the whole rule; "assigned": the
# tasks assigned to the user (the rule for those who do not read all; for admin and superuser
# it is their own tasks); "open": the visible tasks not yet done.
FORMS: dict[str, tuple[str, Callable[..., Any]]] = {
    # The module's own forms.
    "visible_to": (
        "visible",
        lambda session, world, user: world.names(_ids_where(session, visibility.visible_to(user))),
    ),
    "visible_to_as_set": (
        "visible",
        lambda session, world, user: world.names(
            _ids_where(session, visibility.visible_to_as_set(user))
        ),
    ),
    "assigned_exists": (
        "assigned",
        lambda session, world, user: world.names(
            _ids_where(session, visibility.assigned_exists(user.id))
        ),
    ),
    "assigned_exists fenced, bound": (
        "assigned",
        lambda session, world, user: world.names(
            _ids_where(
                session,
                visibility.assigned_exists(bindparam("viewer"), fence=True),
                {"viewer": user.id},
            )
        ),
    ),
    "assigned_lookup": (
        "assigned",
        lambda session, world, user: world.names(
            _ids_where(session, visibility.assigned_lookup(user.id))
        ),
    ),
    "assigned_lookup bound": (
        "assigned",
        lambda session, world, user: world.names(
            _ids_where(
                session, visibility.assigned_lookup(bindparam("viewer")), {"viewer": user.id}
            )
        ),
    ),
    "assigned_to": (
        "assigned",
        lambda session, world, user: world.names(
            _ids_where(session, visibility.assigned_to(user.id))
        ),
    ),
    "assigned_to_sets": (
        "assigned",
        lambda session, world, user: world.names(
            _ids_where(session, visibility.assigned_to_sets(session, user_id=user.id))
        ),
    ),
    "visible_to_as_sets": (
        "visible",
        lambda session, world, user: world.names(
            _ids_where(session, visibility.visible_to_as_sets(session, user=user))
        ),
    ),
    "sees_group_tasks, each group's tasks": ("in a group", _group_tasks_seen),
    "assigned_count": (
        "assigned",
        lambda session, world, user: session.scalar(
            visibility.assigned_count(session, user_id=user.id)
        ),
    ),
    "get_visible_or_raise": ("visible", _single_task),
    # Lists of tasks (API and web), their totals and the filters other orders use.
    "list page, id sets": ("visible", _list_page(per_row=False)),
    "list page, row by row": ("visible", _list_page(per_row=True)),
    "list total": ("visible", _list_total),
    "list filter_conditions": (
        "visible",
        lambda session, world, user: world.names(
            session.scalars(select(Task.id).where(*lists.filter_conditions(session, viewer=user)))
        ),
    ),
    "list for a tag, id sets": ("visible", _list_for_tag(per_row=False)),
    "list for a tag, row by row": ("visible", _list_for_tag(per_row=True)),
    "list of one's own tasks, id sets": ("assigned", _list_for_user(per_row=False)),
    "list of one's own tasks, row by row": ("assigned", _list_for_user(per_row=True)),
    "tasks page by id": ("visible", _tasks_page()),
    "tasks page by project": ("visible", _tasks_page(sort="-project")),
    "tasks page, open only": ("open", _tasks_page(open_only=True)),
    "tasks page, open only, walked by id": ("open", _tasks_page_walked(open_only=True)),
    "tasks page, newest first, walked by id": ("visible", _tasks_page_walked(sort="-id")),
    "tasks page of each group": ("in a group", _group_tasks_pages),
    "own open tasks counted by the summary": ("open", _own_open_total),
    # Claims: one statement (or search then update), and with a lease (two searches).
    "claim_next": ("open", _claimed(timeout=None)),
    "claim_next with a lease": ("open", _claimed(timeout=60)),
    "may_set_status": ("visible", _may_set_status),
    # Dashboards and per-row counts.
    "dashboard summary": ("visible", _summary_projects),
    "dashboard recent activity": ("visible", _recent_activity),
    "recent activity, row by row": ("visible", _recent_activity_row_by_row),
    "sees_at_least": ("visible", _sees_at_least),
    "tags page counts": ("visible", _tags_page),
    "templates page counts": ("visible", _templates_page),
    # Task groups: those holding a visible task, their tasks and their progress.
    "task groups listed": ("visible", _taskgroups_listed),
    "task group by label": ("visible", _taskgroups_found),
    "task group tasks": ("visible", _taskgroup_tasks),
    "task groups page": ("visible", _taskgroups_page),
    "task groups progress": ("visible", _taskgroups_progress),
}

EXPECTED: dict[str, Callable[[str], set[str]]] = {
    "visible": visible,
    "assigned": assigned,
    "open": lambda username: visible(username) - DONE,
    "in a group": lambda username: {name for name in visible(username) if TASKS[name][1]},
}


def test_the_world_covers_every_way_of_being_assigned() -> None:
    assert assigned("dan") == {"dan", "dan-done", "red-dan"}  # directly only
    assert assigned("gil") == {"red", "red-dan", "red-blue", "two-red"}  # one group
    # Two groups, one task through both, one both directly and through a group.
    assert assigned("two") == {"red", "red-dan", "red-blue", "two-red", "blue", "two"}
    assert assigned("gone") == {"gone", "blue", "red-blue"}  # inactive
    assert assigned("idle") == set()  # a member of a group without tasks
    assert all(assigned(user) < set(TASKS) for user in USERS)
    assert not any({"nobody", "nobody-2", "orphan"} & assigned(user) for user in USERS)


@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_selects_the_tasks_the_rule_gives_each_user(session, world, form) -> None:
    kind, read = FORMS[form]
    for username in USERS:
        user = world.users[username]
        assert visibility.reads_all(user) == (username in READS_ALL)
        expected = EXPECTED[kind](username)
        got = read(session, world, user)
        want = len(expected) if isinstance(got, int) else expected
        assert got == want, f"{form} for {username}"


def test_inactive_accounts_see_nothing_because_they_cannot_sign_in(world) -> None:
    """The conditions take the viewer as signed in; inactivity is refused before them."""
    assert not may_sign_in(world.users["gone"])
    assert all(may_sign_in(world.users[name]) for name in USERS if name != "gone")
