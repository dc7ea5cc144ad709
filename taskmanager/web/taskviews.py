"""Task tables shown on other pages (a user's, a group's, a tag's or a template's tasks)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from ..models import Group, Tag, Task, TaskTemplate, User, db
from ..services.dispensing import locks
from ..services.tasks import task_pages
from .blueprint import me

EMBEDDED_ROWS = 20


@dataclass
class TaskTable:
    rows: list[Task]
    total: int
    held: set[int] = field(default_factory=set)


def lock_timeout() -> float | None:
    return current_app.extensions["taskman_settings"].lock_timeout  # type: ignore[no-any-return]


def held_locks(rows: list[Task]) -> set[int]:
    """Ids of the rows whose lock is held now (with a lease, a lapsed lock shows as free)."""
    locked = [task.id for task in rows if task.lock_id is not None]
    return locks.held_locks(db.session, task_ids=locked, timeout=lock_timeout())


def task_table_page(
    *,
    owner: User | None = None,
    group: Group | None = None,
    tag: Tag | None = None,
    template: TaskTemplate | None = None,
    sort: str = "-id",
    total: int | None = None,
) -> TaskTable:
    """Open tasks of a user, group, tag or template that the signed-in user sees (newest first);
    `total` is their number when the caller has counted it already."""
    page = task_pages.tasks_page(
        db.session,
        viewer=me(),
        user=owner.username if owner is not None else None,
        group=group,
        tags=[tag.name] if tag is not None else (),
        template=template.label if template is not None else None,
        open_only=True,
        sort=sort,
        limit=EMBEDDED_ROWS,
        total=total,
    )
    return TaskTable(rows=page.items, total=page.total, held=held_locks(page.items))
