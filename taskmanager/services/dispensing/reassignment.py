"""Moving all open tasks of one user (a colleague who leaves) to another user or to a group."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ...models import CLOSED_STATUSES, Group, Task, User, task_groups_assigned, task_users, utcnow
from ..accounts import permissions
from ..accounts.authentication import may_sign_in
from ..kit import rows
from ..kit.errors import Forbidden, InvalidInput
from ..tasks import details, history
from . import locks

REQUIRED = ("task_update_user", "task_update_all")
CHUNK = 500


@dataclass
class Reassigned:
    """What a reassignment did: the tasks moved, and the locks released on them."""

    task_ids: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)


def open_task_ids(session: Session, *, user: User) -> list[int]:
    """Ids of the open tasks assigned to the user directly (not through a group), by id."""
    query = (
        select(Task.id)
        .join(task_users, task_users.c.task_id == Task.id)
        .where(task_users.c.user_id == user.id, Task.status.not_in(CLOSED_STATUSES))
        .order_by(Task.id)
    )
    return list(session.scalars(query))


def reassign_open(
    session: Session,
    *,
    from_user: User,
    to_user: User | None = None,
    to_group: Group | None = None,
    actor: User,
    release_locks: bool = True,
    lock_timeout: float | None = None,
) -> Reassigned:
    """Give every open task assigned directly to `from_user` to `to_user` or to `to_group`.

    One transaction (the caller commits): the tasks are locked, `from_user` is taken off them,
    the new assignee is added, and each task gets an `assign` history row with the old and the
    new assignment. With `release_locks`, locks `from_user` holds on these tasks are released.
    Tasks `from_user` gets through a group stay with that group.
    """
    if permissions.of(actor).isdisjoint(REQUIRED):
        raise Forbidden(
            "Reassigning tasks requires task_update_user or task_update_all", field="users"
        )
    if (to_user is None) == (to_group is None):
        raise InvalidInput("Give the tasks either to a user or to a group", field="to_user")
    if to_user is not None:
        if to_user.id == from_user.id:
            raise InvalidInput("Choose someone else to give the tasks to", field="to_user")
        if not may_sign_in(to_user):
            raise InvalidInput(f"{to_user.username} may not sign in", field="to_user")

    ids = open_task_ids(session, user=from_user)
    result = Reassigned()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        # Lock the rows so a concurrent edit of the same tasks waits for this one.
        locked = session.scalars(
            select(Task.id)
            .join(task_users, task_users.c.task_id == Task.id)
            .where(
                Task.id.in_(chunk),
                task_users.c.user_id == from_user.id,
                Task.status.not_in(CLOSED_STATUSES),
            )
            .order_by(Task.id)
            .with_for_update(of=Task)
        )
        moved = list(locked)
        _move(session, moved, from_user=from_user, to_user=to_user, to_group=to_group, actor=actor)
        result.task_ids.extend(moved)
    if release_locks and result.task_ids:
        result.released = _release_locks(
            session, result.task_ids, holder=from_user, actor=actor, timeout=lock_timeout
        )
    session.flush()
    return result


def _names(session: Session, task_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """The usernames and groupnames each task is assigned to now, in assignment order by id."""
    links = details.links(session, task_ids=task_ids)
    user_ids = {uid for link in links.values() for uid in link.users}
    group_ids = {gid for link in links.values() for gid in link.groups}
    usernames = dict(
        session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all()
    )
    groupnames = dict(
        session.execute(select(Group.id, Group.groupname).where(Group.id.in_(group_ids))).all()
    )
    return {
        task_id: {
            "users": [usernames[uid] for uid in link.users],
            "groups": [groupnames[gid] for gid in link.groups],
        }
        for task_id, link in links.items()
    }


def _move(
    session: Session,
    task_ids: list[int],
    *,
    from_user: User,
    to_user: User | None,
    to_group: Group | None,
    actor: User,
) -> None:
    if not task_ids:
        return
    before = _names(session, task_ids)
    session.execute(
        delete(task_users).where(
            task_users.c.user_id == from_user.id, task_users.c.task_id.in_(task_ids)
        )
    )
    if to_user is not None:
        rows.insert_missing(
            session, task_users, [{"task_id": tid, "user_id": to_user.id} for tid in task_ids]
        )
    else:
        assert to_group is not None
        rows.insert_missing(
            session,
            task_groups_assigned,
            [{"task_id": tid, "group_id": to_group.id} for tid in task_ids],
        )
    session.execute(
        update(Task)
        .where(Task.id.in_(task_ids))
        .values(update_time=utcnow())
        .execution_options(synchronize_session=False)
    )
    after = _names(session, task_ids)
    history.record_many(
        session,
        entries=[
            (tid, "assign", {"old": before[tid], "new": after[tid], "reassigned": True})
            for tid in task_ids
        ],
        actor=actor,
    )
    # Task objects this session holds no longer match their rows.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Task) and obj.id in before:
            session.expire(obj)


def _release_locks(
    session: Session, task_ids: list[int], *, holder: User, actor: User, timeout: float | None
) -> list[int]:
    """Release the locks `holder` has on these tasks (through the lock rules); their ids."""
    moved = set(task_ids)
    held = session.scalars(select(Task).where(Task.lock_id == holder.id).order_by(Task.id))
    released = []
    for task in [task for task in held if task.id in moved]:
        locks.release(session, task=task, actor=actor, timeout=timeout)
        released.append(task.id)
    return released
