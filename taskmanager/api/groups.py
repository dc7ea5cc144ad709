"""Groups routes, including membership (which the old server could only change from a shell)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..models import Group, db
from ..services.accounts import groups as group_service
from ..services.accounts import users as user_service
from ..services.kit.validation import max_length
from . import bodies, v1
from .auth import caller, permission_required
from .bodies import Body, Reference
from .pagination import PageQuery, url_page
from .schemas import GroupList, UserList
from .uris import group_uri

TAGS = ["Groups"]
USERS_DESCRIPTION = "Members, by user id, username or URL"


class GroupOut(BaseModel):
    groupname: str
    uri: str = Field(description="URL of this group")
    name: str
    create_time: str = Field(description="ISO 8601")
    tasks: str = Field(description="URL of the tasks assigned to the group")
    users: str = Field(description="URL of the group's members")
    id: int


class GroupCreate(Body):
    groupname: str = Field(max_length=max_length(Group.groupname))
    name: str | None = Field(
        None, max_length=max_length(Group.name), description="Defaults to the groupname"
    )
    users: list[Reference] = Field(default_factory=list, description=USERS_DESCRIPTION)


class GroupUpdate(Body):
    """Only the fields sent are changed; `users` replaces the members."""

    groupname: str | None = Field(None, max_length=max_length(Group.groupname))
    name: str | None = Field(None, max_length=max_length(Group.name))
    users: list[Reference] | None = Field(None, description=USERS_DESCRIPTION)


class MembershipOut(BaseModel):
    group: int
    user: int
    is_member: bool


def group_detail(group: Group) -> dict[str, Any]:
    uri = group_uri(group.id)
    return {
        "groupname": group.groupname,
        "uri": uri,
        "name": group.name,
        "create_time": group.create_time.isoformat(),
        "tasks": f"{uri}/tasks",
        "users": f"{uri}/users",
        "id": group.id,
    }


@v1.get("/groups")
@bodies.input(PageQuery, location="query")
@v1.output(GroupList)
@v1.doc(summary="List groups (as URLs)", tags=TAGS, responses=[403])
@permission_required("group_read_all")
def list_groups(query_data: PageQuery) -> dict[str, Any]:
    page = group_service.list_page(db.session, offset=query_data.offset, limit=query_data.limit)
    return url_page(page, "groups", endpoint="api_v1.get_group", argument="group_id")


@v1.post("/groups")
@bodies.input(GroupCreate)
@v1.output(GroupOut, status_code=201)
@v1.doc(
    summary="Create a group, optionally with members", tags=TAGS, responses=[400, 403, 404, 409]
)
@permission_required("group_add")
def create_group(json_data: GroupCreate) -> dict[str, Any]:
    members = group_service.resolve_users(db.session, names=json_data.users)
    group = group_service.create(
        db.session, groupname=json_data.groupname, name=json_data.name, users=members
    )
    db.session.commit()
    return group_detail(group)


@v1.get("/groups/<group_id>")
@v1.output(GroupOut)
@v1.doc(
    summary="One group (by id, groupname or URL)",
    description="Needs group_read_all, or group_read as a member of the group.",
    tags=TAGS,
    responses=[403, 404],
)
@permission_required("group_read_all", "group_read")
def get_group(group_id: str) -> dict[str, Any]:
    group = group_service.readable_or_raise(db.session, reference=group_id, actor=caller())
    return group_detail(group)


@v1.put("/groups/<group_id>")
@bodies.input(GroupUpdate)
@v1.output(GroupOut)
@v1.doc(
    summary="Change a group",
    description="A `users` list replaces the members.",
    tags=TAGS,
    responses=[400, 403, 404, 409],
)
@permission_required("group_update")
def update_group(group_id: str, json_data: GroupUpdate) -> dict[str, Any]:
    group = group_service.get_or_raise(db.session, reference=group_id)
    changes: dict[str, Any] = {
        field: getattr(json_data, field) for field in json_data.model_fields_set
    }
    if "users" in changes:
        changes["users"] = group_service.resolve_users(db.session, names=changes["users"])
    group_service.update(db.session, group=group, changes=changes)
    db.session.commit()
    return group_detail(group)


@v1.delete("/groups/<group_id>")
@v1.output(GroupOut)
@v1.doc(
    summary="Delete a group",
    description="Memberships and the group's task assignments go; users and tasks stay. "
    "Answers the group as it was.",
    tags=TAGS,
    responses=[403, 404],
)
@permission_required("group_delete")
def delete_group(group_id: str) -> dict[str, Any]:
    group = group_service.get_or_raise(db.session, reference=group_id)
    detail = group_detail(group)
    group_service.delete(db.session, group=group)
    db.session.commit()
    return detail


@v1.get("/groups/<group_id>/users")
@bodies.input(PageQuery, location="query")
@v1.output(UserList)
@v1.doc(
    summary="The members of a group (as URLs)",
    description="Needs group_read_all, or group_read as a member of the group.",
    tags=TAGS,
    responses=[403, 404],
)
@permission_required("group_read_all", "group_read")
def list_group_users(group_id: str, query_data: PageQuery) -> dict[str, Any]:
    group = group_service.readable_or_raise(db.session, reference=group_id, actor=caller())
    page = group_service.list_member_page(
        db.session, group=group, offset=query_data.offset, limit=query_data.limit
    )
    return url_page(page, "users", endpoint="api_v1.get_user", argument="user_id")


def _set_membership(group_id: str, user_id: str, member: bool) -> dict[str, Any]:
    group = group_service.get_or_raise(db.session, reference=group_id)
    user = user_service.get_or_raise(db.session, reference=user_id)
    if member:
        group_service.add_member(db.session, group=group, user=user)
    else:
        group_service.remove_member(db.session, group=group, user=user)
    db.session.commit()
    return {"group": group.id, "user": user.id, "is_member": member}


@v1.put("/groups/<group_id>/users/<user_id>")
@v1.output(MembershipOut)
@v1.doc(
    summary="Add a user to a group",
    description="Group and user by id, name or URL. Idempotent.",
    tags=TAGS,
    responses=[403, 404],
)
@permission_required("group_update")
def add_group_user(group_id: str, user_id: str) -> dict[str, Any]:
    return _set_membership(group_id, user_id, member=True)


@v1.delete("/groups/<group_id>/users/<user_id>")
@v1.output(MembershipOut)
@v1.doc(
    summary="Remove a user from a group",
    description="Group and user by id, name or URL. Idempotent.",
    tags=TAGS,
    responses=[403, 404],
)
@permission_required("group_update")
def remove_group_user(group_id: str, user_id: str) -> dict[str, Any]:
    return _set_membership(group_id, user_id, member=False)
