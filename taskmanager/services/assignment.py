"""Who gets a task that names no users or groups: weighted choice among candidates."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Group, Task, User, group_membership, task_users
from .errors import InvalidInput


def assign_automatically(
    session: Session, *, tasks: Sequence[Task], group: Group | None = None
) -> list[User]:
    """Give each task one user: the active, positively weighted candidate with least load/weight.

    Candidates are the members of `group` (distribute_in_group) or else all users.
    """
    candidates = select(User.id, User.assignment_weight).where(
        User.active.is_(True), User.assignment_weight > 0
    )
    if group is not None:
        candidates = candidates.join(group_membership, group_membership.c.user_id == User.id).where(
            group_membership.c.group_id == group.id
        )
    load = (
        select(task_users.c.user_id, func.count().label("n"))
        .group_by(task_users.c.user_id)
        .subquery()
    )
    rows = session.execute(
        candidates.add_columns(func.coalesce(load.c.n, 0)).outerjoin(
            load, load.c.user_id == User.id
        )
    ).all()
    if not rows:
        raise InvalidInput(
            "No active user with an assignment weight above 0 to assign to", field="users"
        )
    counts = {user_id: (count, weight) for user_id, weight, count in rows}
    chosen: list[User] = []
    for task in tasks:
        user_id = min(counts, key=lambda uid: ((counts[uid][0] + 1) / counts[uid][1], uid))
        count, weight = counts[user_id]
        counts[user_id] = (count + 1, weight)
        user = session.get(User, user_id)
        assert user is not None
        task.users.append(user)
        chosen.append(user)
    session.flush()
    return chosen
