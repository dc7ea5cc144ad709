"""One action on many tasks at once (the web task list): all or nothing, task by task through
the same paths as a change of one task, so the same permissions, history and callbacks apply.

The caller's transaction holds every change: a task refused, missing or not visible to the actor
refuses the whole action before anything is written, and an error part-way raises so the caller
rolls everything back. The history rows of one action share one timestamp.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from ...models import CLOSED_STATUSES, Group, Tag, Task, TaskStatus, User, utcnow
from ..accounts import groups as group_service
from ..accounts import permissions
from ..accounts import users as user_service
from ..dispensing import locks
from ..kit import paging
from ..kit.errors import Forbidden, InvalidInput, NotFound
from ..taskgroups import completion
from ..tasks import assignment, checks, editing, history, visibility
from ..tasks.creation import assignment_detail
from . import task_changes

# What the actions do, as a sentence ends: "3 tasks ..." (the value, if any, follows).
ACTIONS = {
    "assign_user": "assigned to",
    "assign_group": "assigned to the group",
    "distribute_group": "distributed among the members of",
    "status": "set to",
    "add_tag": "tagged",
    "remove_tag": "untagged",
    "release_lock": "released",
    "delete": "deleted",
}
# Actions that need a value (a username, a group name, a status or a tag name).
NEEDS_VALUE = frozenset(
    {"assign_user", "assign_group", "distribute_group", "status", "add_tag", "remove_tag"}
)
# Actions that name a group.
GROUP_ACTIONS = frozenset({"assign_group", "distribute_group"})
MAX_TASKS = paging.MAX_PAGE_SIZE
_ASSIGN = frozenset({"task_update_user", "task_update_all"})


@dataclass(frozen=True)
class BulkAction:
    """An action (a key of ACTIONS) and its value; `check` validates both."""

    action: str
    value: str = ""

    def check(self, session: Session) -> User | Group | None:
        """The user or group an assignment names; InvalidInput or NotFound for a bad request."""
        if self.action not in ACTIONS:
            raise InvalidInput(f"Unknown action {self.action!r}", field="action")
        if self.action in NEEDS_VALUE and not self.value.strip():
            raise InvalidInput(f"Choose a value for {self.action.replace('_', ' ')}", field="value")
        if self.action == "assign_user":
            return user_service.get_or_raise(session, reference=self.value, field="value")
        if self.action in GROUP_ACTIONS:
            return group_service.get_or_raise(session, reference=self.value, field="value")
        problems = checks.Problems()
        if self.action == "status":
            checks.check(problems, "status", self.value, field_name="value")
        elif self.action == "add_tag":
            checks.check_tag_name(problems, self.value)
        elif self.action == "remove_tag" and not session.scalar(
            select(Tag.id).where(Tag.name == self.value)
        ):
            problems.add("value", f"Tag {self.value!r} does not exist", not_found=True)
        if problems:
            raise problems.error()
        return None

    def describe(self, count: int, target: User | Group | None = None) -> str:
        """What the action does or did, as a message: "12 tasks set to done"."""
        noun = "task" if count == 1 else "tasks"
        if self.action == "release_lock":
            return f"Locks of {count:,} {noun} released"
        if isinstance(target, User):
            value = f" {target.username}"
        elif isinstance(target, Group):
            value = f" {target.groupname}"
        elif self.action in ("add_tag", "remove_tag"):
            value = f" {self.value!r}"
        else:
            value = f" {self.value}" if self.action in NEEDS_VALUE else ""
        return f"{count:,} {noun} {ACTIONS[self.action]}{value}"


@dataclass(frozen=True)
class Share:
    """What one user would get of a distribution: how many tasks, and their effort."""

    username: str
    tasks: int
    effort: float


@dataclass
class Preview:
    """What an action would touch: the tasks, who holds their locks, what it may not change."""

    tasks: list[Task]
    target: User | Group | None = None
    locked_by: dict[str, int] = field(default_factory=dict)
    refused: list[int] = field(default_factory=list)
    # For an abort: the other open tasks of the same task groups that it aborts too.
    aborted_along: list[Task] = field(default_factory=list)
    aborted_along_hidden: int = 0
    # For a distribution: who would get each task (by id), and each user's share.
    planned: dict[int, str] = field(default_factory=dict)
    split: list[Share] = field(default_factory=list)

    @property
    def locked(self) -> int:
        return sum(self.locked_by.values())


def visible_tasks_or_raise(session: Session, *, viewer: User, task_ids: list[int]) -> list[Task]:
    """The tasks by id (each once, in id order) if the viewer sees every one; else NotFound
    naming those missing (a task the viewer may not see is missing too)."""
    wanted = sorted(set(task_ids))
    if not wanted:
        raise InvalidInput("Choose at least one task", field="tasks")
    if len(wanted) > MAX_TASKS:
        raise InvalidInput(f"At most {MAX_TASKS} tasks at once, got {len(wanted)}", field="tasks")
    query = (
        select(Task)
        .where(Task.id.in_(wanted), visibility.visible_to_as_set(viewer))
        .options(
            joinedload(Task.lock),
            selectinload(Task.users),
            selectinload(Task.groups),
            selectinload(Task.tags),
        )
        .order_by(Task.id)
    )
    found = list(session.scalars(query))
    missing = sorted(set(wanted) - {task.id for task in found})
    if missing:
        shown = ", ".join(str(task_id) for task_id in missing[:20])
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise NotFound(
            f"These tasks do not exist: {shown}{more}; nothing was changed", field="tasks"
        )
    return found


def _may(session: Session, actor: User, task: Task, action: str, held: set[int]) -> bool:
    """The same rights the one-task paths check (see editing, locks and the delete route)."""
    granted = permissions.of(actor)
    if action == "status":
        return editing.may_set_status(actor, task, session)
    if action in ("assign_user", "assign_group"):
        return bool(granted & _ASSIGN)
    if action == "distribute_group":
        # Only open tasks are handed out.
        return bool(granted & _ASSIGN) and task.status not in CLOSED_STATUSES
    if action in ("add_tag", "remove_tag"):
        return "task_update_all" in granted
    if action == "delete":
        return "task_delete" in granted
    # release_lock: a free lock is nothing to release; a held one, its holder's or with lock-all
    return task.id not in held or task.lock_id == actor.id or locks.may_lock_for_others(actor)


def preview(
    session: Session,
    *,
    actor: User,
    task_ids: list[int],
    request: BulkAction,
    lock_timeout: float | None = None,
) -> Preview:
    """What `apply` would touch, for the confirmation; raises as `apply` would for a bad
    request or an invisible task, and lists the tasks it would refuse."""
    target = request.check(session)
    tasks = visible_tasks_or_raise(session, viewer=actor, task_ids=task_ids)
    held = locks.held_locks(session, task_ids=[t.id for t in tasks], timeout=lock_timeout)
    shown = Preview(tasks=tasks, target=target)
    holders = Counter(t.lock.username for t in tasks if t.id in held and t.lock is not None)
    shown.locked_by = dict(sorted(holders.items()))
    shown.refused = [t.id for t in tasks if not _may(session, actor, t, request.action, held)]
    if request.action == "status" and request.value == TaskStatus.ABORTED:
        shown.aborted_along, shown.aborted_along_hidden = aborted_along(
            session, viewer=actor, task_ids=task_ids
        )
    if request.action == "distribute_group" and not shown.refused:
        assert isinstance(target, Group)
        shown.planned, shown.split = rehearse_distribution(
            session, actor=actor, tasks=tasks, group=target
        )
    return shown


def rehearse_distribution(
    session: Session, *, actor: User, tasks: list[Task], group: Group
) -> tuple[dict[int, str], list[Share]]:
    """Who would get each task and each user's share, from the real distribution run in a
    savepoint and rolled back: the same choice, with nothing stored."""
    savepoint = session.begin_nested()
    try:
        chosen = distribute(session, actor=actor, tasks=tasks, group=group)
        planned = {task.id: user.username for task, user in zip(tasks, chosen, strict=True)}
        efforts = {task.id: task.effort for task in tasks}
    finally:
        savepoint.rollback()
    counts: Counter[str] = Counter()
    effort: dict[str, float] = {}
    for task_id, username in planned.items():
        counts[username] += 1
        effort[username] = effort.get(username, 0.0) + efforts[task_id]
    split = [Share(name, counts[name], effort[name]) for name in sorted(counts)]
    return planned, split


def distribute(session: Session, *, actor: User, tasks: list[Task], group: Group) -> list[User]:
    """Give each task one member of the group in place of its users and groups, chosen as
    automatic assignment chooses (weights and the project's policy); the users, in order."""
    ids = [task.id for task in tasks]
    locked = set(
        session.scalars(
            select(Task.id)
            .where(Task.id.in_(ids))
            .order_by(Task.id)
            .with_for_update(key_share=True)
        )
    )
    if len(locked) < len(ids):
        gone = ", ".join(str(task_id) for task_id in ids if task_id not in locked)
        raise NotFound(f"These tasks do not exist: {gone}; nothing was changed", field="tasks")
    before = {task.id: assignment_detail(task.users, task.groups) for task in tasks}
    for task in tasks:
        task.users = []
        task.groups = []
    session.flush()
    chosen = assignment.assign_automatically(session, tasks=tasks, group=group)
    now = utcnow()
    for task, user in zip(tasks, chosen, strict=True):
        task.update_time = now
        # Handed out now: the wait for its data no longer hands it out again.
        task.dispatch_pending = False
        task.dispatch_group_id = None
        detail = {
            "old": before[task.id],
            "new": assignment_detail([user], []),
            "automatic": True,
            "distribute_in_group": group.groupname,
        }
        history.record(session, task_id=task.id, actor=actor, action="assign", detail=detail)
    session.flush()
    return chosen


def aborted_along(session: Session, *, viewer: User, task_ids: list[int]) -> tuple[list[Task], int]:
    """The other tasks an abort of these aborts too (their groups' open tasks): those the
    viewer sees, and how many more the viewer does not see."""
    along = list(session.scalars(completion.aborted_along(session, task_ids=task_ids)))
    if not along:
        return [], 0
    seen = set(
        session.scalars(
            select(Task.id).where(
                Task.id.in_([t.id for t in along]), visibility.visible_to_as_set(viewer)
            )
        )
    )
    return [t for t in along if t.id in seen], len(along) - len(seen)


def apply(
    session: Session,
    *,
    actor: User,
    task_ids: list[int],
    request: BulkAction,
    lock_timeout: float | None = None,
    done_releases_lock: bool = True,
) -> str:
    """Apply the action to every task, or raise and change none (the caller commits or rolls
    back). Returns what it did, as a message ("12 tasks set to done")."""
    target = request.check(session)
    tasks = visible_tasks_or_raise(session, viewer=actor, task_ids=task_ids)
    held = locks.held_locks(session, task_ids=[t.id for t in tasks], timeout=lock_timeout)
    refused = [t.id for t in tasks if not _may(session, actor, t, request.action, held)]
    if refused:
        raise Forbidden(
            f"You may not change tasks {', '.join(map(str, refused[:20]))} this way; "
            "nothing was changed",
            field="tasks",
        )
    with history.one_timestamp():
        if request.action == "distribute_group":
            assert isinstance(target, Group)
            distribute(session, actor=actor, tasks=tasks, group=target)
        else:
            for task in tasks:
                _apply_one(session, actor, task, request, target, lock_timeout, done_releases_lock)
    session.flush()
    return request.describe(len(tasks), target)


def _apply_one(
    session: Session,
    actor: User,
    task: Task,
    request: BulkAction,
    target: User | Group | None,
    lock_timeout: float | None,
    done_releases_lock: bool,
) -> None:
    changes: dict[str, Any] = {}
    names = [tag.name for tag in task.tags]
    if request.action == "delete":
        editing.delete(session, task=task)
        return
    if request.action == "release_lock":
        locks.release(session, task=task, actor=actor, timeout=lock_timeout)
        return
    if request.action == "status":
        changes["status"] = request.value
    elif request.action == "assign_user":
        assert isinstance(target, User)
        changes.update(users=[target.id], groups=[])
    elif request.action == "assign_group":
        assert isinstance(target, Group)
        changes.update(users=[], groups=[target.id])
    elif request.action == "add_tag" and request.value not in names:
        changes["tags"] = [*names, request.value]
    elif request.action == "remove_tag" and request.value in names:
        changes["tags"] = [name for name in names if name != request.value]
    if changes:
        task_changes.update(
            session,
            task=task,
            changes=changes,
            actor=actor,
            done_releases_lock=done_releases_lock,
        )
