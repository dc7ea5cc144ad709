"""Moving all open tasks of one user (a colleague who leaves) to another user or to a group."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, aliased

from ...models import (
    CLOSED_STATUSES,
    Group,
    Task,
    User,
    group_membership,
    task_groups_assigned,
    task_users,
)
from ..accounts import groups as group_service
from ..accounts import permissions
from ..accounts import users as user_service
from ..accounts.authentication import may_sign_in
from ..kit import rows
from ..kit.errors import Forbidden, InvalidInput
from ..tasks import activity, details, history
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
    note: dict[str, Any] | None = None,
) -> Reassigned:
    """Give every open task assigned directly to `from_user` to `to_user` or to `to_group`.

    One transaction (the caller commits): the tasks are locked, `from_user` is taken off them,
    the new assignee is added, and each task gets an `assign` history row with the old and the
    new assignment. With `release_locks`, locks `from_user` holds on these tasks are released.
    Tasks `from_user` gets through a group stay with that group. Every history row of the move
    shares one timestamp and names both sides (plus `note`), so the activity feed shows one line.
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
    mark = {
        "reassigned": True,
        "from_user": from_user.username,
        **({"to_user": to_user.username} if to_user else {"to_group": to_group.groupname}),  # type: ignore[union-attr]
        **(note or {}),
    }
    # Every row of the move (and of the locks released with it) carries one time: one line in
    # the activity feed.
    with history.one_timestamp() as now:
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
            _move(
                session,
                moved,
                from_user=from_user,
                to_user=to_user,
                to_group=to_group,
                actor=actor,
                mark=mark,
                now=now,
            )
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
    mark: dict[str, Any],
    now: datetime,
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
        .values(update_time=now)
        .execution_options(synchronize_session=False)
    )
    after = _names(session, task_ids)
    history.record_many(
        session,
        entries=[
            (tid, "assign", {"old": before[tid], "new": after[tid], **mark}) for tid in task_ids
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


@dataclass(frozen=True)
class Preview:
    """What off-boarding a user would touch, shown before anything is done."""

    open_tasks: int
    locks: int
    last_lock_time: datetime | None
    last_lock_holder: str | None
    group_names: list[str]
    weight: float
    active: bool


def preview(session: Session, *, user: User) -> Preview:
    """The user's open direct tasks, the locks on them (the newest first), their groups."""
    theirs = (
        select(Task.id)
        .join(task_users, task_users.c.task_id == Task.id)
        .where(task_users.c.user_id == user.id, Task.status.not_in(CLOSED_STATUSES))
    )
    open_tasks, locked = session.execute(
        select(func.count(Task.id), func.count(Task.lock_id)).where(Task.id.in_(theirs))
    ).one()
    holder = aliased(User)
    newest = session.execute(
        select(Task.lock_time, holder.username)
        .join(holder, holder.id == Task.lock_id)
        .where(Task.id.in_(theirs))
        .order_by(Task.lock_time.desc(), Task.id.desc())
        .limit(1)
    ).first()
    return Preview(
        open_tasks=open_tasks,
        locks=locked,
        last_lock_time=newest[0] if newest else None,
        last_lock_holder=newest[1] if newest else None,
        group_names=_group_names(session, user),
        weight=user.assignment_weight,
        active=user.active,
    )


def _group_names(session: Session, user: User) -> list[str]:
    return list(
        session.scalars(
            select(Group.groupname)
            .join(group_membership, group_membership.c.group_id == Group.id)
            .where(group_membership.c.user_id == user.id)
            .order_by(Group.groupname)
        )
    )


@dataclass(frozen=True)
class Offboarding:
    """What else to do so automatic assignment stops feeding the user."""

    zero_weight: bool = False
    leave_groups: bool = False
    deactivate: bool = False


@dataclass
class Offboarded:
    """What `offboard` did, and the one line that says it."""

    moved: Reassigned
    groups_left: list[str]
    sentence: str


# Who may do each off-boarding step (the same permissions as the step on its own).
STEP_PERMISSIONS = {
    "zero_weight": ("user_update_assignment_weight", "user_update_all"),
    "leave_groups": ("group_update",),
    "deactivate": ("user_delete",),
}


def offboard(
    session: Session,
    *,
    from_user: User,
    to_user: User | None = None,
    to_group: Group | None = None,
    actor: User,
    steps: Offboarding = Offboarding(),
    release_locks: bool = True,
    lock_timeout: float | None = None,
) -> Offboarded:
    """Move the user's open tasks (`reassign_open`) and take the chosen off-boarding steps.

    All in the caller's transaction: if one part is refused, the caller rolls back and nothing
    is done. The history rows of the move record the steps, for the activity feed's line.
    """
    held = permissions.of(actor)
    for step, needed in STEP_PERMISSIONS.items():
        if getattr(steps, step) and held.isdisjoint(needed):
            raise Forbidden(f"This step requires one of: {', '.join(needed)}", field=step)
    leaving = _group_names(session, from_user) if steps.leave_groups else []
    done = {
        "weight_zeroed": steps.zero_weight,
        "groups_left": len(leaving),
        "deactivated": steps.deactivate and from_user.active,
    }
    moved = reassign_open(
        session,
        from_user=from_user,
        to_user=to_user,
        to_group=to_group,
        actor=actor,
        release_locks=release_locks,
        lock_timeout=lock_timeout,
        note={"offboarded": done},
    )
    if steps.zero_weight:
        user_service.update(session, user=from_user, changes={"assignment_weight": 0}, actor=actor)
    for name in leaving:
        group = group_service.get_or_raise(session, reference=name)
        group_service.remove_member(session, group=group, user=from_user)
    if done["deactivated"]:
        user_service.deactivate(session, user=from_user)
    target = to_user.username if to_user is not None else f"group {to_group.groupname}"  # type: ignore[union-attr]
    return Offboarded(
        moved=moved,
        groups_left=leaving,
        sentence=activity.moved_sentence(
            actor=actor.username,
            count=len(moved.task_ids),
            from_user=from_user.username,
            target=target,
            offboarded=done,
        ),
    )
