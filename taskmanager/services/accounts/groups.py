"""Groups of users: tasks can be given to a group, and members see the group's tasks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ...models import Group, User, group_membership
from ..kit import paging, references, rows, validation
from ..kit.errors import Forbidden, InvalidInput
from . import permissions
from . import users as user_service


def get_by_reference(session: Session, *, reference: str | int) -> Group | None:
    """A group by id, groupname or URL."""
    return references.find(session, Group, reference=reference, name_column=Group.groupname)


def get_or_raise(session: Session, *, reference: str | int, field: str = "group") -> Group:
    return references.found(
        get_by_reference(session, reference=reference),
        what="Group",
        reference=reference,
        field=field,
    )


def is_member(session: Session, *, group: Group, user: User) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    group_membership.c.group_id == group.id,
                    group_membership.c.user_id == user.id,
                )
            )
        )
    )


def readable_or_raise(session: Session, *, reference: str | int, actor: User) -> Group:
    """The group, when the actor has group_read_all, or group_read and is a member (else 403)."""
    group = get_or_raise(session, reference=reference)
    held = permissions.of(actor)
    if "group_read_all" in held:
        return group
    if "group_read" in held and is_member(session, group=group, user=actor):
        return group
    raise Forbidden("You may only read groups you are a member of", field="group")


def list_page(
    session: Session, *, offset: int | None = None, limit: int | None = None
) -> paging.Page[int]:
    """A page of group ids, ordered by id, and the number of groups."""
    return paging.page(session, select(Group.id).order_by(Group.id), offset=offset, limit=limit)


def list_member_page(
    session: Session, *, group: Group, offset: int | None = None, limit: int | None = None
) -> paging.Page[int]:
    """A page of the ids of the group's members, ordered by id."""
    query = (
        select(group_membership.c.user_id)
        .where(group_membership.c.group_id == group.id)
        .order_by(group_membership.c.user_id)
    )
    return paging.page(session, query, offset=offset, limit=limit)


def resolve_users(
    session: Session, *, names: Iterable[str | int], field: str = "users"
) -> list[User]:
    """The users named (by id, username or URL); 404 naming the field for an unknown one."""
    if isinstance(names, str | bytes) or not isinstance(names, Iterable):
        raise InvalidInput(f"{field} must be a list of users", field=field)
    found: list[User] = []
    for reference in names:
        if not isinstance(reference, str | int) or isinstance(reference, bool):
            raise InvalidInput(f"{field} must name users by id, username or URL", field=field)
        user = user_service.get_or_raise(session, reference=reference, field=field)
        if user not in found:
            found.append(user)
    return found


def _flush(session: Session, group: Group) -> None:
    validation.flush_or_conflict(
        session,
        entity="group",
        unique={"groupname": Group.groupname == group.groupname, "name": Group.name == group.name},
    )


def create(
    session: Session,
    *,
    groupname: str,
    name: str | None = None,
    users: Iterable[User] = (),
) -> Group:
    """A new group (its name defaults to the groupname), with the given members."""
    groupname = validation.name(groupname, field="groupname", column=Group.groupname)
    checked_name = validation.text(name, field="name", column=Group.name, required=False)
    group = Group(groupname=groupname, name=checked_name or groupname)
    session.add(group)
    _flush(session, group)
    set_members(session, group=group, users=users)
    return group


def update(session: Session, *, group: Group, changes: dict[str, Any]) -> Group:
    """Change groupname and/or name; a `users` list replaces the members."""
    if "groupname" in changes:
        group.groupname = validation.name(
            changes["groupname"], field="groupname", column=Group.groupname
        )
    if "name" in changes:
        # Clearing the descriptive name falls back to the groupname, as on create.
        group.name = (
            validation.text(changes["name"], field="name", column=Group.name, required=False)
            or group.groupname
        )
    _flush(session, group)
    if "users" in changes:
        set_members(session, group=group, users=changes["users"])
    return group


def delete(session: Session, *, group: Group) -> None:
    """Remove the group; memberships and its task assignments go with it (tasks stay)."""
    session.execute(sql_delete(Group).where(Group.id == group.id))
    session.flush()


def add_member(session: Session, *, group: Group, user: User) -> None:
    """Make the user a member (idempotent, safe against a concurrent identical request)."""
    rows.insert_missing(session, group_membership, [{"group_id": group.id, "user_id": user.id}])
    session.expire(group, ["users"])
    session.expire(user, ["groups"])


def remove_member(session: Session, *, group: Group, user: User) -> None:
    """End the user's membership (idempotent)."""
    session.execute(
        sql_delete(group_membership).where(
            group_membership.c.group_id == group.id, group_membership.c.user_id == user.id
        )
    )
    session.expire(group, ["users"])
    session.expire(user, ["groups"])


def set_members(session: Session, *, group: Group, users: Iterable[User]) -> None:
    """Make the group's members exactly these users."""
    wanted = {user.id for user in users}
    current: set[int] = set(
        session.scalars(
            select(group_membership.c.user_id).where(group_membership.c.group_id == group.id)
        )
    )
    if current - wanted:
        session.execute(
            sql_delete(group_membership).where(
                group_membership.c.group_id == group.id,
                group_membership.c.user_id.in_(current - wanted),
            )
        )
    rows.insert_missing(
        session,
        group_membership,
        [{"group_id": group.id, "user_id": user_id} for user_id in sorted(wanted - current)],
    )
    session.expire(group, ["users"])
